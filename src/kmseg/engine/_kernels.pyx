# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""kmseg's compiled passes (``kernels.c``), checked and called without the GIL.

Every function checks the dtype, shape and contiguity of its arrays (typed
memoryviews: a wrong dtype or layout raises ValueError or TypeError) and the
sizes and indices the C code relies on (ValueError), so that a wrong array
is an exception, never a wrong memory access. The C runs with the GIL
released: independent calls run in threads.

:class:`Tree` holds the cube tree's arrays (checked once: its child ranges
must form a forest) and :class:`Items` the Lloyd state over it, whose arrays
only the C code writes.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t

import numpy as np

cdef extern from "kernels.h" nogil:
    void c_histogram "histogram"(const uint8_t *flat, int64_t n, int64_t s0, int64_t s1, const uint8_t *opaque,
                                 const uint32_t *sr, const uint32_t *sg, const uint32_t *sb,
                                 uint32_t *counts, uint32_t *seen)
    void c_label_pixels "label_pixels"(const uint8_t *flat, int64_t n, int64_t s0, int64_t s1,
                                       const uint32_t *sr, const uint32_t *sg, const uint32_t *sb,
                                       const uint8_t *lut, uint8_t *out)
    int64_t c_items_init "items_init"(int64_t tops0, int64_t tops1, const double *Ct, int64_t k, double slack,
                                      int64_t npts, int64_t d, const double *p_mean, const double *p_w,
                                      const double *n_mean, const double *n_w, const double *n_wsum,
                                      const double *n_radius, const int64_t *n_ch0, const int64_t *n_ch1,
                                      int64_t height, int64_t *it_id, int64_t *it_lab, double *it_up,
                                      double *it_lo, int32_t *it_sec, double *it_lo3, double *cw, double *cs)
    int64_t c_items_update "items_update"(const double *Ct, int64_t k, const double *delta, double slack,
                                          int64_t npts, int64_t d, const double *p_mean, const double *p_w,
                                          const double *n_mean, const double *n_w, const double *n_wsum,
                                          const double *n_radius, const int64_t *n_ch0, const int64_t *n_ch1,
                                          int64_t height, int64_t *it_id, int64_t *it_lab, double *it_up,
                                          double *it_lo, int32_t *it_sec, double *it_lo3, int64_t n_items,
                                          double *cw, double *cs)
    double c_items_inertia "items_inertia"(const double *Ct, int64_t k,
                                           int64_t npts, int64_t d, const double *p_mean, const double *p_w,
                                           const double *n_mean, const double *n_w, const double *n_wsum,
                                           const double *n_radius, const int64_t *n_ch0, const int64_t *n_ch1,
                                           int64_t *it_id, int64_t *it_lab, double *it_up, double *it_lo,
                                           int32_t *it_sec, double *it_lo3, int64_t n_items, const double *p_scatter, const double *n_scatter)
    void c_items_labels "items_labels"(int64_t npts, const int64_t *it_id, const int64_t *it_lab, int64_t n_items,
                                       const int64_t *n_pt0, const int64_t *n_pt1, uint8_t *out)
    int c_nearest_centres "nearest_centres"(const double *X, int64_t n, int64_t d, const double *Ct, int64_t k,
                                            uint8_t *labels, double *min_sq)
    int c_seed_plusplus "seed_plusplus"(const double *X, int64_t n, int64_t d, const double *w,
                                        const int64_t *first, const double *uniforms, int64_t runs, int64_t k,
                                        int64_t trials, double *centers)
    int c_seed_plusplus_steps "seed_plusplus_steps"(const double *X, int64_t n, int64_t d, const double *w,
                                                    int64_t first, const double *uniforms, int64_t k,
                                                    int64_t trials, int64_t c0, int64_t c1, double *closest,
                                                    int64_t *head, int64_t *next, double *centers)
    int64_t c_count_runs "count_runs"(const uint32_t *keys, int64_t m)
    void c_cube_level "cube_level"(const uint32_t *keys, int64_t m, int64_t d, const double *mean,
                                   const double *w, const double *scatter, const double *radius, int64_t n,
                                   int64_t *child, double *weight, double *wsum, double *cmean,
                                   double *cscatter, double *cradius, uint32_t *out_keys)
    void c_morton_to_rgb "morton_to_rgb"(const uint32_t *codes, int64_t n, const uint32_t *unmorton, uint8_t *out)
    int64_t c_count_nonzero "count_nonzero"(const uint32_t *counts, int64_t n)
    void c_nonzero_counts "nonzero_counts"(const uint32_t *counts, int64_t n, uint32_t *idx, double *val)

#: Colour codes: 8 bits per channel, interleaved.
N_CODES = 1 << 24
#: Most clusters: labels are uint8.
MAX_CLUSTERS = 256


def _bools(a, name):
    """A bool array's bytes (the C reads them as 0/1)."""
    a = np.asarray(a)
    if a.dtype != np.bool_:
        raise TypeError(f"{name} must be a bool array, got {a.dtype}")
    return a.view(np.uint8)


cdef _need(bint ok, str what):
    if not ok:
        raise ValueError(what)


cdef _check_tables(const uint32_t[::1] sr, const uint32_t[::1] sg, const uint32_t[::1] sb):
    _need(sr.shape[0] == 256 and sg.shape[0] == 256 and sb.shape[0] == 256, "a Morton table has 256 entries")


# ------------------------------------------------------------------ pixels


def histogram(const uint8_t[:, :] flat, opaque, const uint32_t[::1] spread_r, const uint32_t[::1] spread_g,
              const uint32_t[::1] spread_b, uint32_t[::1] counts, uint32_t[::1] seen):
    """Count the colour codes of ``flat`` (n, 3) uint8 pixels (any strides)
    into ``counts`` (2**24,) uint32, only where ``opaque`` (n,) bool (or an
    empty array: every pixel); every pixel also into ``seen`` unless it is
    empty."""
    cdef const uint8_t[::1] op = _bools(opaque, "opaque")
    cdef int64_t n = flat.shape[0]
    _check_tables(spread_r, spread_g, spread_b)
    _need(flat.shape[1] == 3, "pixels are (n, 3)")
    _need(op.shape[0] in (0, n), "one mask entry per pixel")
    _need(counts.shape[0] == N_CODES and seen.shape[0] in (0, N_CODES), "one count per colour code")
    if n == 0:
        return
    cdef const uint8_t *p_op = &op[0] if op.shape[0] else NULL
    cdef uint32_t *p_seen = &seen[0] if seen.shape[0] else NULL
    with nogil:
        c_histogram(&flat[0, 0], n, flat.strides[0], flat.strides[1], p_op, &spread_r[0], &spread_g[0],
                    &spread_b[0], &counts[0], p_seen)


def label_pixels(const uint8_t[:, :] flat, const uint32_t[::1] spread_r, const uint32_t[::1] spread_g,
                 const uint32_t[::1] spread_b, const uint8_t[::1] lut, uint8_t[::1] out):
    """``out[i] = lut[code of pixel i]`` for (n, 3) uint8 pixels (any strides)."""
    cdef int64_t n = flat.shape[0]
    _check_tables(spread_r, spread_g, spread_b)
    _need(flat.shape[1] == 3, "pixels are (n, 3)")
    _need(out.shape[0] == n and lut.shape[0] == N_CODES, "one label per pixel, one table entry per colour code")
    if n == 0:
        return
    with nogil:
        c_label_pixels(&flat[0, 0], n, flat.strides[0], flat.strides[1], &spread_r[0], &spread_g[0],
                       &spread_b[0], &lut[0], &out[0])


def morton_to_rgb(const uint32_t[::1] codes, const uint32_t[:, ::1] unmorton, uint8_t[:, ::1] out):
    """The (n, 3) uint8 colours of colour codes, into ``out``."""
    cdef int64_t n = codes.shape[0]
    _need(unmorton.shape[0] == 3 and unmorton.shape[1] == 256, "the inverse Morton tables are (3, 256)")
    _need(out.shape[0] == n and out.shape[1] == 3, "one (r, g, b) row per code")
    if n == 0:
        return
    with nogil:
        c_morton_to_rgb(&codes[0], n, &unmorton[0, 0], &out[0, 0])


def nonzero_counts(const uint32_t[::1] counts):
    """The indices (uint32) and values (float64) of the nonzero counts."""
    cdef int64_t n = counts.shape[0], m
    if n == 0:
        return np.empty(0, dtype=np.uint32), np.empty(0)
    with nogil:
        m = c_count_nonzero(&counts[0], n)
    idx, val = np.empty(m, dtype=np.uint32), np.empty(m)
    cdef uint32_t[::1] pi = idx
    cdef double[::1] pv = val
    if m:
        with nogil:
            c_nonzero_counts(&counts[0], n, &pi[0], &pv[0])
    return idx, val


# ------------------------------------------------------------- cube levels


def cube_level(const uint32_t[::1] keys, mean, w, scatter, radius):
    """One level of cubes above the given items: the runs of equal ``keys``
    (sorted uint32) become cubes. Returns child (n + 1) int64 (cube j's items
    are ``child[j]:child[j+1]``), weight, weighted sums (n, d), mean (n, d),
    scatter, radius and the cubes' keys (``key >> 3``)."""
    cdef const double[:, ::1] mv = np.ascontiguousarray(mean, dtype=np.float64)
    cdef const double[::1] wv = np.ascontiguousarray(w, dtype=np.float64)
    cdef const double[::1] sv = np.ascontiguousarray(scatter, dtype=np.float64)
    cdef const double[::1] rv = np.ascontiguousarray(radius, dtype=np.float64)
    cdef int64_t m = mv.shape[0], d = mv.shape[1], n
    _need(m > 0 and keys.shape[0] == m and wv.shape[0] == m and sv.shape[0] == m and rv.shape[0] == m,
          "cube_level: one key, weight, scatter and radius per mean, at least one")
    with nogil:
        n = c_count_runs(&keys[0], m)
    child, weight, wsum, cmean = np.empty(n + 1, dtype=np.int64), np.zeros(n), np.zeros((n, d)), np.empty((n, d))
    cscatter, cradius, out_keys = np.zeros(n), np.zeros(n), np.empty(n, dtype=np.uint32)
    cdef int64_t[::1] c_child = child
    cdef double[::1] c_weight = weight, c_scatter = cscatter, c_radius = cradius
    cdef double[:, ::1] c_wsum = wsum, c_mean = cmean
    cdef uint32_t[::1] c_keys = out_keys
    with nogil:
        c_cube_level(&keys[0], m, d, &mv[0, 0], &wv[0], &sv[0], &rv[0], n, &c_child[0], &c_weight[0],
                     &c_wsum[0, 0], &c_mean[0, 0], &c_scatter[0], &c_radius[0], &c_keys[0])
    return child, weight, wsum, cmean, cscatter, cradius, out_keys


# ------------------------------------------------------ centres and seeding


def nearest_centres(X, const double[:, ::1] Ct, uint8_t[::1] labels, double[::1] min_sq):
    """Nearest centre (first wins ties) of every row of ``X`` (n, d) into
    ``labels`` (n,) uint8, at most 256 centres, and its squared distance into
    ``min_sq``; the centres are the columns of ``Ct`` (d, k). With an empty
    ``labels`` only the distances, for any number of centres."""
    cdef const double[:, ::1] xv = np.ascontiguousarray(X, dtype=np.float64)  # exact for float32
    cdef int64_t n = xv.shape[0], d = xv.shape[1], k = Ct.shape[1]
    cdef int failed
    if labels.shape[0] == 0 and n:
        labels = np.empty(n, dtype=np.uint8)  # scratch: labels wrap past 256, distances do not
    else:
        _need(k <= MAX_CLUSTERS, "nearest_centres: uint8 labels, at most 256 centres")
    _need(labels.shape[0] == n and min_sq.shape[0] == n and Ct.shape[0] == d, "nearest_centres: shapes do not agree")
    _need(k > 0, "nearest_centres: at least one centre")
    if n == 0:
        return
    with nogil:
        failed = c_nearest_centres(&xv[0, 0], n, d, &Ct[0, 0], k, &labels[0], &min_sq[0])
    if failed:
        raise MemoryError("nearest_centres")


def seed_plusplus(const double[:, ::1] X, const double[::1] w, const int64_t[::1] first,
                  const double[:, :, ::1] uniforms, double[:, :, ::1] centers):
    """Greedy k-means++ for ``runs`` runs into ``centers`` (runs, k, d): run r
    starts at point ``first[r]``; centre c draws its candidates with
    ``uniforms[c - 1, r, :]`` (k - 1, runs, trials) in [0, 1)."""
    cdef int64_t runs = centers.shape[0], k = centers.shape[1], d = centers.shape[2], n = X.shape[0]
    cdef int64_t trials = uniforms.shape[2], r
    cdef int failed
    _need(n > 0 and X.shape[1] == d and w.shape[0] == n, "seed_plusplus: one weight per point, at least one point")
    _need(first.shape[0] == runs and k > 0, "seed_plusplus: one first point per run")
    _need(uniforms.shape[0] == k - 1 and uniforms.shape[1] == runs and (trials > 0 or k == 1),
          "seed_plusplus: uniforms are (k - 1, runs, trials)")
    for r in range(runs):
        _need(0 <= first[r] < n, "seed_plusplus: a first point is not a point")
    if runs == 0 or d == 0:
        return
    cdef const double *pu = &uniforms[0, 0, 0] if k > 1 else NULL
    with nogil:
        failed = c_seed_plusplus(&X[0, 0], n, d, &w[0], &first[0], pu, runs, k, trials, &centers[0, 0, 0])
    if failed:
        raise MemoryError("seed_plusplus")


def seed_plusplus_steps(const double[:, ::1] X, const double[::1] w, int64_t first,
                        const double[:, ::1] uniforms, int64_t c0, int64_t c1, double[::1] closest,
                        int64_t[::1] head, int64_t[::1] next_point, double[:, ::1] centers):
    """Centres ``c0 .. c1 - 1`` of one run of :func:`seed_plusplus` into ``centers``
    (k, d), the same as that run would choose. The run's state goes from call
    to call in ``closest`` (n,) float64, the points' squared distances to the
    centres chosen so far, and ``head`` (k,) and ``next_point`` (n,) int64,
    the points listed by nearest centre (all made from point ``first`` when
    ``c0`` is 0). ``uniforms``: (k - 1, trials)."""
    cdef int64_t k = centers.shape[0], d = centers.shape[1], n = X.shape[0], trials = uniforms.shape[1]
    cdef int failed
    _need(n > 0 and X.shape[1] == d and w.shape[0] == n and closest.shape[0] == n,
          "seed_plusplus_steps: one weight and one distance per point, at least one point")
    _need(0 <= first < n, "seed_plusplus_steps: the first point is not a point")
    _need(uniforms.shape[0] == k - 1 and (trials > 0 or k == 1), "seed_plusplus_steps: uniforms are (k - 1, trials)")
    _need(0 <= c0 <= c1 <= k, "seed_plusplus_steps: centres c0 .. c1 - 1 of k")
    _need(head.shape[0] == k and next_point.shape[0] == n, "seed_plusplus_steps: head is (k,), next_point (n,)")
    if d == 0 or c0 == c1:
        return
    cdef const double *pu = &uniforms[0, 0] if k > 1 else NULL
    with nogil:
        failed = c_seed_plusplus_steps(&X[0, 0], n, d, &w[0], first, pu, k, trials, c0, c1, &closest[0],
                                       &head[0], &next_point[0], &centers[0, 0])
    if failed:
        raise MemoryError("seed_plusplus_steps")


# ------------------------------------------------------ the tree and items


cdef class Tree:
    """The cube tree as the item passes read it (arrays checked and kept).

    Items are named by global ids: ``0 .. npts-1`` the points, ``npts + j``
    node j. Node j covers children ``n_ch0[j]:n_ch1[j]`` (global ids, lower
    than its own) and points ``n_pt0[j]:n_pt1[j]``; every id has at most one
    parent, and the descent starts from ``tops0:tops1``, which have none.
    """

    cdef readonly int64_t npts, d, n_nodes, height
    cdef int64_t tops0, tops1
    cdef object _keep
    cdef const double[:, ::1] p_mean
    cdef const double[::1] p_w, p_scatter, n_w, n_radius, n_scatter
    cdef const double[:, ::1] n_mean, n_wsum
    cdef const int64_t[::1] n_ch0, n_ch1, n_pt0, n_pt1
    cdef const double *nptr_mean
    cdef const double *nptr_w
    cdef const double *nptr_wsum
    cdef const double *nptr_radius
    cdef const double *nptr_scatter
    cdef const int64_t *nptr_ch0
    cdef const int64_t *nptr_ch1

    def __init__(self, p_mean, p_w, p_scatter, n_mean, n_w, n_wsum, n_radius, n_scatter,
                 n_ch0, n_ch1, n_pt0, n_pt1, Py_ssize_t tops0, Py_ssize_t tops1):
        self.p_mean, self.p_w, self.p_scatter = p_mean, p_w, p_scatter
        self.n_mean, self.n_w, self.n_wsum, self.n_radius, self.n_scatter = n_mean, n_w, n_wsum, n_radius, n_scatter
        self.n_ch0, self.n_ch1, self.n_pt0, self.n_pt1 = n_ch0, n_ch1, n_pt0, n_pt1
        cdef int64_t npts = self.p_mean.shape[0], d = self.p_mean.shape[1], nodes = self.n_w.shape[0]
        self.npts, self.d, self.n_nodes = npts, d, nodes
        _need(npts > 0 and d > 0 and self.p_w.shape[0] == npts and self.p_scatter.shape[0] == npts,
              "Tree: one weight and scatter per point, at least one point")
        _need(self.n_mean.shape[0] == nodes and self.n_wsum.shape[0] == nodes and self.n_radius.shape[0] == nodes
              and self.n_scatter.shape[0] == nodes and self.n_ch0.shape[0] == nodes and self.n_ch1.shape[0] == nodes
              and self.n_pt0.shape[0] == nodes and self.n_pt1.shape[0] == nodes,
              "Tree: one mean, weight, sum, radius, scatter and range per node")
        _need(nodes == 0 or (self.n_mean.shape[1] == d and self.n_wsum.shape[1] == d), "Tree: nodes and points in one space")
        _need(0 <= tops0 <= tops1 <= npts + nodes, "Tree: the tops are not items")
        self.tops0, self.tops1 = tops0, tops1
        self.height = self._check_forest()
        empty = np.zeros((1, max(d, 1)))
        cdef const double[:, ::1] dummy = empty  # addresses for a tree without nodes (never read)
        cdef const int64_t[::1] idummy = np.zeros(1, dtype=np.int64)
        self.nptr_mean = &self.n_mean[0, 0] if nodes else &dummy[0, 0]
        self.nptr_wsum = &self.n_wsum[0, 0] if nodes else &dummy[0, 0]
        self.nptr_w = &self.n_w[0] if nodes else &dummy[0, 0]
        self.nptr_radius = &self.n_radius[0] if nodes else &dummy[0, 0]
        self.nptr_scatter = &self.n_scatter[0] if nodes else &dummy[0, 0]
        self.nptr_ch0 = &self.n_ch0[0] if nodes else &idummy[0]
        self.nptr_ch1 = &self.n_ch1[0] if nodes else &idummy[0]
        self._keep = (empty, idummy)

    cdef int64_t _check_forest(self) except -1:
        """Check the child and point ranges; return the tree's height (levels of nodes)."""
        cdef int64_t npts = self.npts, nodes = self.n_nodes, j, c, g, h, height = 0
        parents = np.zeros(npts + nodes, dtype=np.uint8)
        heights = np.zeros(nodes, dtype=np.int64)
        cdef uint8_t[::1] par = parents
        cdef int64_t[::1] hv = heights
        for j in range(nodes):
            g = npts + j
            _need(0 <= self.n_ch0[j] <= self.n_ch1[j] <= g, "Tree: a node's children come before it")
            _need(0 <= self.n_pt0[j] <= self.n_pt1[j] <= npts, "Tree: a node's points are points")
            h = 1
            for c in range(self.n_ch0[j], self.n_ch1[j]):
                _need(par[c] == 0, "Tree: an item has two parents")
                par[c] = 1
                if c >= npts and hv[c - npts] + 1 > h:
                    h = hv[c - npts] + 1
            hv[j] = h
            if h > height:
                height = h
            _need(self.n_ch1[j] - self.n_ch0[j] <= 8, "Tree: a cube has at most 8 children")
        for g in range(self.tops0, self.tops1):
            _need(par[g] == 0, "Tree: a top has a parent")
        return height


cdef class Items:
    """A partition of the tree's points into items (cubes wholly in one
    cluster, and points) with Hamerly's bounds, for ``k`` centres (a pass
    compares an item only with the centres that can be nearest to it): the
    clusters' ``weight`` (k,) and weighted ``sums`` (k, d) kept up to date
    (k > 256 only without :meth:`point_labels`, whose labels are uint8).
    Made for centres ``Ct`` (d, k); the items' arrays are written by the C
    passes only."""

    cdef readonly Tree tree
    cdef readonly int64_t k, n
    cdef readonly double slack
    cdef readonly object weight, sums
    cdef int64_t[::1] ids, labs
    cdef double[::1] up, lo, lo3, cw
    cdef int32_t[::1] sec
    cdef double[:, ::1] cs

    def __init__(self, Tree tree, const double[:, ::1] Ct, double slack):
        cdef Tree t = tree
        cdef int64_t cap = t.npts + t.n_nodes, k = Ct.shape[1]
        self._check(t, Ct, k)
        self.tree, self.k, self.slack = tree, k, slack
        self.ids, self.labs = np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64)
        self.up, self.lo, self.lo3 = np.empty(cap), np.empty(cap), np.empty(cap)
        self.sec = np.empty(cap, dtype=np.int32)
        self.weight, self.sums = np.zeros(k), np.zeros((k, t.d))
        self.cw, self.cs = self.weight, self.sums
        with nogil:
            self.n = c_items_init(t.tops0, t.tops1, &Ct[0, 0], k, slack, t.npts, t.d, &t.p_mean[0, 0], &t.p_w[0],
                                  t.nptr_mean, t.nptr_w, t.nptr_wsum, t.nptr_radius, t.nptr_ch0, t.nptr_ch1,
                                  t.height, &self.ids[0], &self.labs[0], &self.up[0], &self.lo[0], &self.sec[0],
                                  &self.lo3[0], &self.cw[0],
                                  &self.cs[0, 0])
        if self.n < 0:
            raise MemoryError("Items")

    cdef _check(self, Tree t, const double[:, ::1] Ct, int64_t k):
        _need(Ct.shape[0] == t.d and k > 0, "Items: centres are (d, k) columns, at least one")

    def update(self, const double[:, ::1] Ct, const double[::1] delta):
        """Re-assign after the centres (columns of ``Ct``) moved by ``delta`` (k,)."""
        cdef Tree t = self.tree
        _need(Ct.shape[0] == t.d and Ct.shape[1] == self.k and delta.shape[0] == self.k,
              "Items.update: the centres and their movements do not agree with the items")
        with nogil:
            self.n = c_items_update(&Ct[0, 0], self.k, &delta[0], self.slack, t.npts, t.d, &t.p_mean[0, 0],
                                    &t.p_w[0], t.nptr_mean, t.nptr_w, t.nptr_wsum, t.nptr_radius, t.nptr_ch0,
                                    t.nptr_ch1, t.height, &self.ids[0], &self.labs[0], &self.up[0], &self.lo[0],
                                    &self.sec[0], &self.lo3[0], self.n, &self.cw[0], &self.cs[0, 0])
        if self.n < 0:
            raise MemoryError("Items.update")

    def inertia(self, const double[:, ::1] Ct):
        """The sum over the points of weight x squared distance to their centre."""
        cdef Tree t = self.tree
        cdef double total
        _need(Ct.shape[0] == t.d and Ct.shape[1] == self.k, "Items.inertia: the centres do not agree with the items")
        with nogil:
            total = c_items_inertia(&Ct[0, 0], self.k, t.npts, t.d, &t.p_mean[0, 0], &t.p_w[0], t.nptr_mean,
                                    t.nptr_w, t.nptr_wsum, t.nptr_radius, t.nptr_ch0, t.nptr_ch1, &self.ids[0],
                                    &self.labs[0], &self.up[0], &self.lo[0], &self.sec[0], &self.lo3[0], self.n,
                                    &t.p_scatter[0],
                                    t.nptr_scatter)
        return total

    def point_labels(self, uint8_t[::1] out):
        """Every point's cluster, into ``out`` (npts,) uint8."""
        cdef Tree t = self.tree
        _need(out.shape[0] == t.npts, "Items.point_labels: one label per point")
        _need(self.k <= MAX_CLUSTERS, "Items.point_labels: uint8 labels, at most 256 clusters")
        cdef const int64_t *pt0 = &t.n_pt0[0] if t.n_nodes else NULL
        cdef const int64_t *pt1 = &t.n_pt1[0] if t.n_nodes else NULL
        with nogil:
            c_items_labels(t.npts, &self.ids[0], &self.labs[0], self.n, pt0, pt1, &out[0])

    def members(self):
        """Copies of the items' ids, clusters and lower bounds on their distances to every other centre (n,)."""
        n = self.n
        lower = np.minimum(np.asarray(self.lo)[:n], np.asarray(self.lo3)[:n])
        return np.asarray(self.ids)[:n].copy(), np.asarray(self.labs)[:n].copy(), lower
