# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Spatial k-means passes over a pixel grid (``spatial.c``), called without the GIL.

A grid is given as ``colors`` ((h * w, 3) float64, C-contiguous), ``xs``
((w,) float64) and ``ys`` ((h,) float64): pixel (i, j) is the point
``(*colors[i * w + j], xs[j], ys[i])``, positions increasing. Centres are
(k, 5) float64, k <= 256. ``tile`` is the side of the tiles the passes work
in (any value >= 1 gives the same results but for the order of sums).
The caller (:mod:`kmseg.features._spatial`) validates the input; shapes are
checked here only so that nothing reads out of bounds.
"""

from libc.stdint cimport int64_t, uint8_t

import numpy as np

cdef extern from "spatial.h" nogil:
    ctypedef struct spatial_grid:
        const double *colors
        const double *xs
        const double *ys
        int64_t h, w, ts
    int spatial_assign(const spatial_grid *g, const double *centers, int64_t k, const uint8_t *mask,
                       uint8_t *labels, double *inertia)
    double spatial_inertia(const spatial_grid *g, const double *centers, const uint8_t *labels,
                           const uint8_t *mask)
    int spatial_seed(const spatial_grid *g, const double *weights, int64_t first, const double *uniforms,
                     int64_t k, int64_t trials, double *centers)
    int spatial_lloyd(const spatial_grid *g, const double *weights, double *centers, int64_t k,
                      int64_t max_iter, double tol_abs, double still, int64_t *n_iter, int *converged,
                      double *inertia)


cdef spatial_grid _grid(const double[:, ::1] colors, const double[::1] xs, const double[::1] ys,
                        int64_t tile) except *:
    cdef spatial_grid g
    if colors.shape[1] != 3 or colors.shape[0] != xs.shape[0] * ys.shape[0] or colors.shape[0] == 0:
        raise ValueError("colors must have shape (len(ys) * len(xs), 3), not empty")
    if tile < 1:
        raise ValueError(f"tile must be at least 1, got {tile}")
    g.colors = &colors[0, 0]
    g.xs = &xs[0]
    g.ys = &ys[0]
    g.h = ys.shape[0]
    g.w = xs.shape[0]
    g.ts = tile
    return g


cdef _check_centers(const double[:, ::1] centers):
    if centers.shape[1] != 5 or not 1 <= centers.shape[0] <= 256:
        raise ValueError(f"centers must have shape (k, 5) with 1 <= k <= 256, got {tuple(centers.shape)[:2]}")


def _mask_bytes(mask, int64_t n):
    """``mask`` ((n,) bool or uint8) as contiguous bytes, checked to have one entry per pixel."""
    m = np.ascontiguousarray(mask).view(np.uint8)
    if m.shape[0] != n:
        raise ValueError("mask must have one entry per pixel")
    return m


def assign(const double[:, ::1] colors, const double[::1] xs, const double[::1] ys, const double[:, ::1] centers,
           uint8_t[::1] labels, mask=None, int64_t tile=16):
    """Write the nearest centre of every pixel into ``labels`` ((h * w,)
    uint8; the lowest index among equal distances) and return the sum of the
    squared distances over the pixels where ``mask`` ((h * w,) bool or
    uint8) is true (all pixels when None)."""
    cdef spatial_grid g = _grid(colors, xs, ys, tile)
    _check_centers(centers)
    cdef const uint8_t[::1] m
    cdef const uint8_t *mp = NULL
    if labels.shape[0] != colors.shape[0]:
        raise ValueError("labels must have one entry per pixel")
    if mask is not None:
        m = _mask_bytes(mask, colors.shape[0])
        mp = &m[0]
    cdef double inertia = 0.0
    cdef int rc
    with nogil:
        rc = spatial_assign(&g, &centers[0, 0], centers.shape[0], mp, &labels[0], &inertia)
    if rc:
        raise MemoryError("assigning pixels to centres")
    return inertia


def inertia(const double[:, ::1] colors, const double[::1] xs, const double[::1] ys,
            const double[:, ::1] centers, const uint8_t[::1] labels, mask=None):
    """Sum of the squared distances from every pixel where ``mask`` is true
    (all when None) to its centre ``labels`` ((h * w,) uint8, each < k)."""
    cdef spatial_grid g = _grid(colors, xs, ys, 1)
    _check_centers(centers)
    cdef const uint8_t[::1] m
    cdef const uint8_t *mp = NULL
    if labels.shape[0] != colors.shape[0]:
        raise ValueError("labels must have one entry per pixel")
    if np.asarray(labels).max() >= centers.shape[0]:
        raise ValueError("labels must be below the number of centres")
    if mask is not None:
        m = _mask_bytes(mask, colors.shape[0])
        mp = &m[0]
    cdef double total
    with nogil:
        total = spatial_inertia(&g, &centers[0, 0], &labels[0], mp)
    return total


def _weights_ptr(const double[::1] weights, int64_t n):
    if weights.shape[0] != n:
        raise ValueError("weights must have one entry per pixel")


def seed(const double[:, ::1] colors, const double[::1] xs, const double[::1] ys, weights, int64_t first,
         const double[::1] uniforms, int64_t k, int64_t trials, double[:, ::1] out, int64_t tile=8):
    """Greedy k-means++ seeding of one run into ``out`` ((k, 5)): ``first``
    is the first centre's pixel, ``uniforms`` (k - 1) * trials numbers in
    [0, 1); ``weights`` (h * w,) float64 or None (all ones)."""
    cdef spatial_grid g = _grid(colors, xs, ys, tile)
    cdef const double[::1] wv
    cdef const double *wp = NULL
    if out.shape[0] != k or out.shape[1] != 5 or not 1 <= k <= 256 or trials < 1:
        raise ValueError("out must have shape (k, 5), 1 <= k <= 256, trials >= 1")
    if uniforms.shape[0] != (k - 1) * trials or not 0 <= first < colors.shape[0]:
        raise ValueError("uniforms must hold (k - 1) * trials numbers and first be a pixel")
    if weights is not None:
        wv = weights
        _weights_ptr(wv, colors.shape[0])
        wp = &wv[0]
    cdef int rc
    with nogil:
        rc = spatial_seed(&g, wp, first, &uniforms[0] if uniforms.shape[0] else NULL, k, trials, &out[0, 0])
    if rc:
        raise MemoryError("seeding centres")


def lloyd(const double[:, ::1] colors, const double[::1] xs, const double[::1] ys, weights,
          double[:, ::1] centers, int64_t max_iter, double tol_abs, double still, int64_t tile=8):
    """Exact Lloyd iterations from ``centers`` (updated in place); returns
    (iterations, converged, weighted inertia against the final centres)."""
    cdef spatial_grid g = _grid(colors, xs, ys, tile)
    _check_centers(centers)
    cdef const double[::1] wv
    cdef const double *wp = NULL
    if weights is not None:
        wv = weights
        _weights_ptr(wv, colors.shape[0])
        wp = &wv[0]
    cdef int64_t n_iter = 0
    cdef int converged = 0, rc
    cdef double inertia = 0.0
    with nogil:
        rc = spatial_lloyd(&g, wp, &centers[0, 0], centers.shape[0], max_iter, tol_abs, still, &n_iter,
                           &converged, &inertia)
    if rc:
        raise MemoryError("Lloyd iterations")
    return int(n_iter), bool(converged), float(inertia)
