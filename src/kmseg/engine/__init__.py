"""kmseg's compiled engine: the passes over pixels, colour histograms and
cube trees, one implementation (C, wrapped by Cython) built at install.

:mod:`kmseg.engine._kernels` holds the passes; the k-means built on them is
in :mod:`kmseg.engine._colorfit` and :mod:`kmseg.engine._kmeans` for now.
:func:`region_poles` (:mod:`kmseg.engine._distance`) is the exact distance
transform inside the regions of a region map; :func:`trace_boundaries`
(:mod:`kmseg.engine._chains`) traces the shared boundaries of a label map.
"""

from kmseg.engine._chains import trace as trace_boundaries
from kmseg.engine._deadline import Deadline
from kmseg.engine._distance import poles as region_poles
from kmseg.engine._kmeans import KMeansResult, kmeans

__all__ = ["Deadline", "KMeansResult", "kmeans", "region_poles", "trace_boundaries"]
