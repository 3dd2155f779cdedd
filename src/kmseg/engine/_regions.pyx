# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Connected regions of label maps (``regions.c``), called without the GIL.

Label maps are 2-D C-contiguous uint8 or uint32 arrays (other dtypes are
mapped to these by :mod:`kmseg.features._regions`); anything else is a TypeError or
ValueError, never a wrong memory access. Regions are 4-connected and
numbered in the raster order of their first pixel.
"""

from libc.stdint cimport int64_t, uint8_t, uint32_t

import numpy as np

cdef extern from "regions.h" nogil:
    ctypedef struct kmseg_regions:
        pass
    kmseg_regions *regions_scan_u8(const uint8_t *labels, int64_t h, int64_t w)
    kmseg_regions *regions_scan_u32(const uint32_t *labels, int64_t h, int64_t w)
    void regions_free(kmseg_regions *r)
    int64_t regions_count(const kmseg_regions *r)
    void regions_ids(const kmseg_regions *r, int64_t *out)
    void regions_sizes(const kmseg_regions *r, int64_t *out)
    int64_t regions_merge(kmseg_regions *r, int64_t min_region, int connect)
    void regions_paint_u8(const kmseg_regions *r, uint8_t *out)
    void regions_paint_u32(const kmseg_regions *r, uint32_t *out)
    void boundaries_u8(const uint8_t *labels, int64_t h, int64_t w, uint8_t *out)
    void boundaries_u32(const uint32_t *labels, int64_t h, int64_t w, uint8_t *out)
    int64_t c_moved_keys "moved_keys"(const uint8_t *rgb, const uint8_t *old, const uint8_t *new_,
                                      const uint8_t *opaque, int64_t n, const uint32_t *mr, const uint32_t *mg,
                                      const uint32_t *mb, uint32_t *keys, int64_t cap)
    double c_moved_inertia "moved_inertia"(const double *Y, int64_t m, const int64_t *at, int64_t u,
                                           const double *C, int64_t k, const uint8_t *now, const uint8_t *was,
                                           const double *weight)
    int64_t distinct_counts(uint32_t *keys, int64_t n, int64_t *count)
    int c_moved_where "moved_where"(const uint32_t *codes, int64_t m, const uint32_t *keys, const int64_t *count,
                                    int64_t u, int64_t *where, double *left)

#: Most pixels of a label map (region ids and run tables are int32).
MAX_PIXELS = (1 << 31) - 1


cdef _check(labels):
    if not isinstance(labels, np.ndarray) or labels.dtype not in (np.uint8, np.uint32):
        raise TypeError(f"labels must be a uint8 or uint32 ndarray, got {getattr(labels, 'dtype', type(labels))}")
    if labels.ndim != 2 or not labels.flags.c_contiguous:
        raise ValueError("labels must be a 2-D C-contiguous array")
    if labels.size > MAX_PIXELS:
        raise ValueError(f"labels have {labels.size} pixels, more than {MAX_PIXELS}")


cdef kmseg_regions *_scan(labels) except NULL:
    cdef const uint8_t[:, ::1] l8
    cdef const uint32_t[:, ::1] l32
    cdef int64_t h = labels.shape[0], w = labels.shape[1]
    cdef kmseg_regions *r
    if labels.dtype == np.uint8:
        l8 = labels
        with nogil:
            r = regions_scan_u8(&l8[0, 0], h, w)
    else:
        l32 = labels
        with nogil:
            r = regions_scan_u32(&l32[0, 0], h, w)
    if r == NULL:
        raise MemoryError("labelling regions")
    return r


def label(labels):
    """Connected regions of equal labels (4-connectivity).

    Returns (H, W) int64 region ids 0 .. n-1 (in the raster order of every
    region's first pixel) and (n,) int64 sizes in pixels.
    """
    _check(labels)
    ids = np.zeros(labels.shape, dtype=np.int64)
    if labels.size == 0:
        return ids, np.zeros(0, dtype=np.int64)
    cdef kmseg_regions *r = _scan(labels)
    cdef int64_t[:, ::1] out = ids
    cdef int64_t[::1] s
    try:
        sizes = np.empty(regions_count(r), dtype=np.int64)
        s = sizes
        with nogil:
            regions_ids(r, &out[0, 0])
            regions_sizes(r, &s[0])
    finally:
        regions_free(r)
    return ids, sizes


def merge(labels, int64_t min_region, bint connect):
    """Merge regions into the neighbour they share the longest border with,
    in rounds (see ``regions_merge`` in regions.h): regions smaller than
    ``min_region`` pixels, or with ``connect`` every region but the largest
    of its label. Returns the new labels (same dtype) and the number of
    regions before and after."""
    _check(labels)
    out = np.empty_like(labels)
    if labels.size == 0:
        return out, 0, 0
    cdef kmseg_regions *r = _scan(labels)
    cdef int64_t before, after
    cdef uint8_t[:, ::1] o8
    cdef uint32_t[:, ::1] o32
    try:
        before = regions_count(r)
        with nogil:
            after = regions_merge(r, min_region, connect)
        if after < 0:
            raise MemoryError("merging regions")
        if labels.dtype == np.uint8:
            o8 = out
            with nogil:
                regions_paint_u8(r, &o8[0, 0])
        else:
            o32 = out
            with nogil:
                regions_paint_u32(r, &o32[0, 0])
    finally:
        regions_free(r)
    return out, before, after


def boundaries(labels):
    """(H, W) bool: pixels whose right or lower neighbour has another label."""
    _check(labels)
    edge = np.zeros(labels.shape, dtype=np.bool_)
    if labels.size == 0:
        return edge
    cdef uint8_t[:, ::1] e = edge.view(np.uint8)
    cdef const uint8_t[:, ::1] l8
    cdef const uint32_t[:, ::1] l32
    cdef int64_t h = labels.shape[0], w = labels.shape[1]
    if labels.dtype == np.uint8:
        l8 = labels
        with nogil:
            boundaries_u8(&l8[0, 0], h, w, &e[0, 0])
    else:
        l32 = labels
        with nogil:
            boundaries_u32(&l32[0, 0], h, w, &e[0, 0])
    return edge


cdef const uint8_t *_mask(opaque, int64_t n) except? NULL:
    """The bytes of an (n,) bool C-contiguous mask, or NULL for None."""
    if opaque is None:
        return NULL
    if not isinstance(opaque, np.ndarray) or opaque.dtype != np.bool_ or opaque.shape != (n,) \
            or not opaque.flags.c_contiguous:
        raise ValueError("opaque must be an (n,) C-contiguous bool array or None")
    cdef const uint8_t[::1] mask = opaque.view(np.uint8)
    return &mask[0] if n else NULL


def count_moved(const uint8_t[::1] old, const uint8_t[::1] new, opaque):
    """Number of pixels whose label changed (``old != new``; only where
    ``opaque``, an (n,) bool array, when it is not None)."""
    cdef int64_t n = old.shape[0], m
    if new.shape[0] != n:
        raise ValueError("old and new must have the same length")
    cdef const uint8_t *mask = _mask(opaque, n)
    if n == 0:
        return 0
    with nogil:
        m = c_moved_keys(NULL, &old[0], &new[0], mask, n, NULL, NULL, NULL, NULL, 0)
    return m


def moved_keys(const uint8_t[:, ::1] rgb, const uint8_t[::1] old, const uint8_t[::1] new, opaque,
               const uint32_t[::1] mr, const uint32_t[::1] mg, const uint32_t[::1] mb, uint32_t[::1] out):
    """Write to ``out`` the keys ``code << 8 | new label`` of the pixels
    counted by :func:`count_moved`, in order, and return how many. ``rgb``
    is (n, 3) uint8; ``mr``, ``mg``, ``mb`` are the 256-entry Morton tables;
    ``out`` needs room for them all (else ValueError, with the first
    ``len(out)`` written)."""
    cdef int64_t n = old.shape[0], m
    if new.shape[0] != n or rgb.shape[0] != n or rgb.shape[1] != 3:
        raise ValueError("rgb must be (n, 3) and old, new (n,)")
    if mr.shape[0] != 256 or mg.shape[0] != 256 or mb.shape[0] != 256:
        raise ValueError("the Morton tables must have 256 entries")
    cdef const uint8_t *mask = _mask(opaque, n)
    if n == 0:
        return 0
    with nogil:
        m = c_moved_keys(&rgb[0, 0], &old[0], &new[0], mask, n, &mr[0], &mg[0], &mb[0],
                         &out[0] if out.shape[0] else NULL, out.shape[0])
    if m > out.shape[0]:
        raise ValueError(f"out has room for {out.shape[0]} keys, {m} are needed")
    return m

def sorted_counts(keys):
    """The distinct values of sorted (ascending) uint32 ``keys`` and how many
    times each occurs: ``np.unique(keys, return_counts=True)`` for sorted
    keys. ``keys`` is overwritten; the values returned are a view of it.
    ValueError when ``keys`` is not sorted."""
    if not isinstance(keys, np.ndarray) or keys.dtype != np.uint32 or keys.ndim != 1 \
            or not keys.flags.c_contiguous or not keys.flags.writeable:
        raise TypeError("keys must be a writable 1-D C-contiguous uint32 array")
    cdef int64_t n = keys.shape[0], u = 0
    counts = np.empty(n, dtype=np.int64)
    if n == 0:
        return keys, counts
    if n > 1 and (keys[1:] < keys[:-1]).any():
        raise ValueError("keys must be sorted")
    cdef uint32_t[::1] k = keys
    cdef int64_t[::1] c = counts
    with nogil:
        u = distinct_counts(&k[0], n, &c[0])
    return keys[:u], counts[:u].copy()


def moved_where(const uint32_t[::1] codes, const uint32_t[::1] keys, const int64_t[::1] count, double[::1] left):
    """Index in ``codes`` (ascending) of the code of every key (ascending,
    ``code << 8 | label``); subtracts ``count`` from ``left`` at it, in place.
    Returns (u,) int64. ValueError when a key's code is not in ``codes``."""
    cdef int64_t m = codes.shape[0], u = keys.shape[0]
    cdef int rc = 0
    if count.shape[0] != u or left.shape[0] != m:
        raise ValueError("count must match keys and left must match codes")
    where = np.empty(u, dtype=np.int64)
    if u == 0:
        return where
    cdef int64_t[::1] w = where
    with nogil:
        rc = c_moved_where(&codes[0] if m else NULL, m, &keys[0], &count[0], u, &w[0], &left[0] if m else NULL)
    if rc:
        raise ValueError("a key's colour code is not among the codes")
    return where


def moved_inertia(const double[:, ::1] Y, const int64_t[::1] at, const double[:, ::1] centers,
                  const uint8_t[::1] now, const uint8_t[::1] was, const double[::1] weight):
    """The change in inertia when weighted colours ``Y[at]`` move from
    labels ``was`` to ``now`` (centres ``centers``): the sum over them of
    ``weight * (|Y[at] - centers[now]|**2 - |Y[at] - centers[was]|**2)``.
    ValueError for mismatched shapes or an index out of range."""
    cdef int64_t u = at.shape[0], m = Y.shape[0], k = centers.shape[0]
    cdef double total
    if Y.shape[1] != 3 or centers.shape[1] != 3:
        raise ValueError("Y and centers must have 3 columns")
    if now.shape[0] != u or was.shape[0] != u or weight.shape[0] != u:
        raise ValueError("at, now, was and weight must have the same length")
    if u == 0:
        return 0.0
    if m == 0 or k == 0:
        raise ValueError("an index is out of range")
    with nogil:
        total = c_moved_inertia(&Y[0, 0], m, &at[0], u, &centers[0, 0], k, &now[0], &was[0], &weight[0])
    if total != total:
        raise ValueError("an index is out of range")
    return total
