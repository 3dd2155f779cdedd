# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The boundaries of a label map traced (``chains.c``) without the GIL: the
shared boundaries of :mod:`kmseg.features._vector` and the outlines of
paint-by-number.

The label map is a C-contiguous int16 array framed by a pixel of -1 (as
:func:`kmseg.features._vector.frame` makes it); anything else is a
TypeError or ValueError, never a wrong memory access.
"""

from libc.stdint cimport int16_t, int64_t
from libc.stdlib cimport free

import numpy as np

cdef extern from "chains.h" nogil:
    ctypedef struct chains_trace:
        pass
    int64_t CHAINS_MAX_CORNERS
    chains_trace *chains_trace_map(const int16_t *map, int64_t h, int64_t w, double tolerance, int *error)
    void chains_free(chains_trace *t)
    int64_t chains_canonical(const chains_trace *t)
    int64_t chains_points(const chains_trace *t)
    void chains_copy_points(const chains_trace *t, int64_t *xy, int64_t *starts)
    int64_t chains_svg_paths(const chains_trace *t, const int64_t *regions, int64_t n_regions, int64_t n_labels,
                             char **text, int64_t *label_start, int64_t *label_end)


cdef class Boundaries:
    """The shared boundaries of a framed label map, cut into chains at their
    junctions and simplified (see ``chains.h``); made by :func:`trace`."""

    cdef chains_trace *t
    cdef object framed

    def __dealloc__(self):
        chains_free(self.t)

    def outlines(self):
        """Every shared boundary once, simplified.

        Returns
        -------
        points : (N, 2) int64
            (x, y) pixel corners, boundary after boundary, each from junction
            to junction, with the lower label on its left.
        starts : (C + 1,) int64
            Boundary i is ``points[starts[i]:starts[i + 1]]``.
        """
        points = np.empty((chains_points(self.t), 2), dtype=np.int64)
        starts = np.empty(chains_canonical(self.t) + 1, dtype=np.int64)
        cdef int64_t[:, ::1] p = points
        cdef int64_t[::1] s = starts
        with nogil:
            chains_copy_points(self.t, &p[0, 0] if p.shape[0] else NULL, &s[0])
        return points, starts

    def svg_paths(self, regions, int64_t n_regions, int64_t n_labels):
        """SVG path data of every region, by label.

        Parameters
        ----------
        regions : (H + 2, W + 2) int64, C-contiguous
            Region id, 0 .. n_regions - 1, of every pixel of the framed map,
            equal for two pixels exactly when they are 4-connected through
            their label.
        n_regions, n_labels : int
            Regions, and labels drawn (0 .. n_labels - 1; larger ones are not
            allowed).

        Returns
        -------
        list of str
            For every label, ``<path d="..."/>\\n`` per region (in region
            order), each region's rings as sub-paths; "" for a label with no
            region.
        """
        shape = (<object>self.framed).shape
        if regions.dtype != np.int64 or regions.shape != shape or not regions.flags.c_contiguous:
            raise TypeError(f"regions must be a C-contiguous int64 array of shape {shape}")
        if n_regions < 1 or regions.min() < 0 or regions.max() >= n_regions:
            raise ValueError(f"regions must be between 0 and n_regions - 1 ({n_regions - 1})")
        if n_labels < 1 or (<object>self.framed).max() >= n_labels:
            raise ValueError(f"n_labels must exceed every label ({n_labels} given)")
        start = np.zeros(n_labels, dtype=np.int64)
        end = np.zeros(n_labels, dtype=np.int64)
        cdef const int64_t[:, ::1] r = regions
        cdef int64_t[::1] a = start, b = end
        cdef char *text = NULL
        cdef int64_t size
        with nogil:
            size = chains_svg_paths(self.t, &r[0, 0], n_regions, n_labels, &text, &a[0], &b[0])
        if size < 0:
            raise MemoryError("writing SVG paths")
        try:
            data = text[:size].decode("ascii")
        finally:
            free(text)
        return [data[i:j] for i, j in zip(start.tolist(), end.tolist())]


def trace(framed, double tolerance):
    """Trace the boundaries of a framed label map.

    Parameters
    ----------
    framed : (H + 2, W + 2) int16, C-contiguous
        The labels (0 and up) inside a one-pixel frame of -1; -1 inside
        marks pixels left out (transparent). H, W >= 1.
    tolerance : float
        Douglas-Peucker tolerance in pixels (0: keep every corner where the
        boundary turns or meets another).

    Returns
    -------
    Boundaries
    """
    if not isinstance(framed, np.ndarray) or framed.dtype != np.int16 or framed.ndim != 2 \
            or not framed.flags.c_contiguous:
        raise TypeError("the label map must be a C-contiguous 2-D int16 array")
    if framed.shape[0] < 3 or framed.shape[1] < 3:
        raise ValueError(f"the label map must be framed and hold a pixel, got shape {framed.shape}")
    if not (framed[0] == -1).all() or not (framed[-1] == -1).all() or not (framed[:, 0] == -1).all() \
            or not (framed[:, -1] == -1).all() or framed.min() < -1:
        raise ValueError("the label map must be framed by -1 and hold labels of -1 or more")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be 0 or more, got {tolerance}")
    cdef int64_t h = framed.shape[0] - 2, w = framed.shape[1] - 2
    if (h + 1) * (w + 1) > CHAINS_MAX_CORNERS:
        raise ValueError(f"the label map is too large to trace: {h} x {w} pixels")
    cdef const int16_t[:, ::1] m = framed
    cdef int error = 0
    cdef chains_trace *t
    with nogil:
        t = chains_trace_map(&m[0, 0], h, w, tolerance, &error)
    if t == NULL:
        raise MemoryError("tracing boundaries")
    cdef Boundaries out = Boundaries.__new__(Boundaries)
    out.t = t
    out.framed = framed
    return out
