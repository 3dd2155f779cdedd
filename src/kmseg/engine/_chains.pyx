# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The chains of a permutation (``chains.c``), walked without the GIL:
the boundary tracing of :mod:`kmseg.features._vector` cuts the rings of
directed pixel edges into chains at their junctions with it."""

from libc.stdint cimport int64_t, uint8_t

import numpy as np

cdef extern from "chains.h" nogil:
    int64_t chains_walk(const int64_t *next, int64_t n, uint8_t *head, const int64_t *key,
                        int64_t *chain, int64_t *order, int64_t *bounds)


def walk(next_, head, key):
    """The cycles of the permutation ``next_`` cut into chains at ``head``.

    Parameters
    ----------
    next_ : (n,) int64
        A permutation of 0 .. n-1: the element after each.
    head : (n,) bool
        Elements that start a chain. A cycle with none is started at its
        element of smallest ``key``.
    key : (n,) int64

    Returns
    -------
    head : (n,) bool
        The heads, those added included.
    chain : (n,) int64
        Every element's chain; chains are numbered in the order of their
        heads' indices.
    order : (n,) int64
        The elements chain after chain, each chain in walking order.
    bounds : (c + 1,) int64
        Chain i is ``order[bounds[i]:bounds[i + 1]]``.
    """
    next_ = np.ascontiguousarray(next_, dtype=np.int64)
    key = np.ascontiguousarray(key, dtype=np.int64)
    heads = np.array(head, dtype=np.bool_, copy=True, order="C")
    cdef int64_t n = next_.size
    if next_.ndim != 1 or key.shape != (n,) or heads.shape != (n,):
        raise ValueError("next_, head and key must be 1-D arrays of one length")
    if n and (next_.min() < 0 or next_.max() >= n or np.bincount(next_, minlength=n).max() != 1):
        raise ValueError("next_ must be a permutation of 0 .. n-1")
    chain = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    bounds = np.empty(n + 1, dtype=np.int64)
    if n == 0:
        return heads, chain, order, bounds[:1] * 0
    cdef const int64_t[::1] nx = next_, k = key
    cdef uint8_t[::1] h = heads.view(np.uint8)
    cdef int64_t[::1] c = chain, o = order, b = bounds
    cdef int64_t count
    with nogil:
        count = chains_walk(&nx[0], n, &h[0], &k[0], &c[0], &o[0], &b[0])
    if count < 0:
        raise MemoryError("walking chains")
    return heads, chain, order, bounds[:count + 1]
