"""kmseg's compiled engine: the passes over pixels, colour histograms and
cube trees, one implementation (C, wrapped by Cython) built at install.

:mod:`kmseg.engine._kernels` holds the passes; the k-means built on them is
in :mod:`kmseg.engine._colorfit` and :mod:`kmseg.engine._kmeans` for now.
:func:`region_poles` (:mod:`kmseg.engine._distance`) is the exact distance
transform inside the regions of a region map; :func:`walk_chains`
(:mod:`kmseg.engine._chains`) cuts the cycles of a permutation into chains.
"""

from kmseg.engine._chains import walk as walk_chains
from kmseg.engine._deadline import Deadline
from kmseg.engine._distance import poles as region_poles
from kmseg.engine._kmeans import KMeansResult, kmeans

__all__ = ["Deadline", "KMeansResult", "kmeans", "region_poles", "walk_chains"]
