# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Distances inside the regions of a region map (``distance.c``), called
without the GIL.

Region maps are 2-D C-contiguous int64 arrays of ids 0 .. n-1 (as
:func:`kmseg.engine._regions.label` gives); anything else is a TypeError or
ValueError, never a wrong memory access.
"""

from libc.stdint cimport int64_t

import numpy as np

cdef extern from "distance.h" nogil:
    int distance_poles(const int64_t *regions, int64_t H, int64_t W, int64_t n,
                       int64_t *best_d2, int64_t *best_point)


def poles(regions, int64_t n):
    """Every region's pole: the point inside it farthest from its edges, on
    the half-pixel lattice (Felzenszwalb-Huttenlocher exact Euclidean
    distance transform; see ``distance.h``).

    Parameters
    ----------
    regions : (H, W) int64, C-contiguous
        Region id of every pixel, 0 .. n-1. The distances are exact when
        every row and column of the lattice meets an edge between regions,
        as in a map framed by pixels of a region of their own.
    n : int
        Number of regions.

    Returns
    -------
    d2 : (n,) int64
        Squared distance, in half pixels, from the pole to the nearest
        pixel of another region (0 when no point lies inside the region).
    point : (n,) int64
        The pole, ``Y * (2W - 3) + X`` for the point (X / 2, Y / 2) pixels
        right of and below the top-left corner of pixel (1, 1) (-1 when
        none): of the points at that distance, the first in raster order.
    """
    if not isinstance(regions, np.ndarray) or regions.dtype != np.int64:
        raise TypeError(f"regions must be an int64 ndarray, got {getattr(regions, 'dtype', type(regions))}")
    if regions.ndim != 2 or not regions.flags.c_contiguous:
        raise ValueError("regions must be a 2-D C-contiguous array")
    if n < 0 or (regions.size and (regions.min() < 0 or regions.max() >= n)):
        raise ValueError(f"region ids must be between 0 and n - 1 = {n - 1}")
    d2 = np.zeros(n, dtype=np.int64)
    point = np.full(n, -1, dtype=np.int64)
    cdef int64_t h = regions.shape[0], w = regions.shape[1]
    if h < 2 or w < 2 or n == 0:
        return d2, point
    cdef const int64_t[:, ::1] r = regions
    cdef int64_t[::1] d = d2, c = point
    cdef int status
    with nogil:
        status = distance_poles(&r[0, 0], h, w, n, &d[0], &c[0])
    if status:
        raise MemoryError("distance transform")
    return d2, point
