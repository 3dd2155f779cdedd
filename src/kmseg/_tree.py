"""The cube tree and its items, for the compiled passes.

The Python side of the Lloyd iterations over "items" of
:mod:`kmseg._colorfit`: :class:`Tree` flattens the cube levels into the
arrays the passes read, :class:`Items` keeps the partition and the clusters'
sums between passes. Both take the passes module (``passes``): the C library
(:mod:`kmseg._ckernels`) or Numba (:mod:`kmseg._kernels`), which have the same
functions and give the same results.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np


class Tree:
    """The levels of :mod:`kmseg._colorfit` flattened for the passes.

    Items are named by global ids: ``0..npts-1`` are the points (level 0 of
    ``stats``), ``npts + j`` is cube j of the levels above, level by level.
    Works for any list of levels whose ``child`` arrays index the level
    below (the cubes' point ranges are derived from them)."""

    def __init__(self, stats: list, passes: ModuleType) -> None:
        self.passes = passes
        pts = stats[0]
        npts = pts.size
        self.npts = npts
        self.depth = len(stats)
        f64 = np.float64
        p_mean = np.ascontiguousarray(pts.mean, dtype=f64)
        p_w = np.ascontiguousarray(pts.weight, dtype=f64)
        self.p_scatter = np.ascontiguousarray(np.broadcast_to(pts.scatter, (npts,)), dtype=f64)
        nodes = stats[1:]
        offsets = np.cumsum([0] + [lv.size for lv in nodes])
        self.n_nodes = int(offsets[-1])
        d = p_mean.shape[1]
        if nodes:
            n_mean = np.concatenate([lv.mean for lv in nodes]).astype(f64, copy=False)
            n_w = np.concatenate([lv.weight for lv in nodes]).astype(f64, copy=False)
            n_wsum = np.concatenate([lv.wsum for lv in nodes]).astype(f64, copy=False)
            n_radius = np.concatenate([lv.radius for lv in nodes]).astype(f64, copy=False)
            self.n_scatter = np.concatenate([lv.scatter for lv in nodes]).astype(f64, copy=False)
            ch0, ch1, pt0, pt1 = [], [], [], []
            first = None
            for i, lv in enumerate(nodes):
                base = 0 if i == 0 else npts + offsets[i - 1]  # global id of the level below's first item
                ch0.append(lv.child[:-1] + base)
                ch1.append(lv.child[1:] + base)
                first = lv.child if first is None else first[lv.child]
                pt0.append(first[:-1])
                pt1.append(first[1:])
            cat = lambda parts: np.ascontiguousarray(np.concatenate(parts), dtype=np.int64)  # noqa: E731
            n_ch0, n_ch1, self.n_pt0, self.n_pt1 = cat(ch0), cat(ch1), cat(pt0), cat(pt1)
            self.tops = (npts + int(offsets[-2]), npts + self.n_nodes)
        else:
            n_mean, n_wsum = np.zeros((0, d)), np.zeros((0, d))
            n_w = n_radius = self.n_scatter = np.zeros(0)
            n_ch0 = n_ch1 = self.n_pt0 = self.n_pt1 = np.zeros(0, dtype=np.int64)
            self.tops = (0, npts)
        self.arrays = (npts, p_mean, p_w, n_mean, n_w, n_wsum, n_radius, n_ch0, n_ch1)
        self.handle = passes.tree_handle(self.arrays)

    def items(self, C: np.ndarray) -> Items:
        """The items for centres ``C``."""
        return Items(self, C)


def _columns(C: np.ndarray) -> np.ndarray:
    """The centres as contiguous columns, the layout the compiled passes read."""
    return np.ascontiguousarray(C.T, dtype=np.float64)


class Items:
    """A partition of the colours into cubes that lie wholly in one cluster
    and single colours, with bounds on their distances to the centres
    (Hamerly 2010): ``upper`` >= distance of the item's mean to its own
    centre, ``lower`` <= distance to any other centre. An item of radius r
    keeps its cluster while ``upper + 2 r < lower``. The same contract as
    ``kmseg._colorfit._Items`` (its NumPy twin); ``weight`` and ``sums`` are
    the clusters' weights and weighted sums, kept up to date."""

    def __init__(self, tree: Tree, C: np.ndarray) -> None:
        self.tree = tree
        self.passes = tree.passes
        self.k, d = C.shape
        self.slack = 1e-9 * (1.0 + float(np.abs(C).max()))
        cap = tree.npts + tree.n_nodes  # live items <= points; dead ones <= cubes between compactions
        self.items = (np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64),
                      np.empty(cap), np.empty(cap))
        self.handle = self.passes.items_handle(self.items)
        self.stack = np.empty(8 * tree.depth + 16, dtype=np.int64)
        self.buf = np.empty(self.k)
        self.weight = np.zeros(self.k)
        self.sums = np.zeros((self.k, d))
        self.n = self.passes.items_init(tree.tops[0], tree.tops[1], _columns(C), self.slack, tree.handle,
                                        self.handle, self.weight, self.sums, self.stack, self.buf)

    def update(self, C: np.ndarray, delta: np.ndarray) -> None:
        """Re-assign after the centres moved to ``C`` by ``delta`` (k,)."""
        self.n = self.passes.items_update(_columns(C), np.ascontiguousarray(delta, dtype=np.float64), self.slack,
                                          self.tree.handle, self.handle, self.n, self.weight, self.sums,
                                          self.stack, self.buf)

    def inertia(self, C: np.ndarray) -> float:
        t = self.tree
        return float(self.passes.items_inertia(_columns(C), t.handle, self.handle, self.n, t.p_scatter, t.n_scatter))

    def parts(self) -> tuple[np.ndarray, ...]:
        """Every item's mean, weight, scatter, cluster and lower bound on
        its distance to any other centre (as ``kmseg._colorfit._Items``)."""
        t, n = self.tree, self.n
        ids, lab, lower = self.items[0][:n], self.items[1][:n], self.items[3][:n]
        npts, p_mean, p_w, n_mean, n_w = t.arrays[:5]
        point = ids < npts
        node = ids[~point] - npts
        mean = np.empty((n, p_mean.shape[1]))
        w, scatter = np.empty(n), np.empty(n)
        mean[point], w[point], scatter[point] = p_mean[ids[point]], p_w[ids[point]], t.p_scatter[ids[point]]
        mean[~point], w[~point], scatter[~point] = n_mean[node], n_w[node], t.n_scatter[node]
        return mean, w, scatter, lab, lower

    def point_labels(self, m: int) -> np.ndarray:
        labels = np.empty(m, dtype=np.uint8)
        self.passes.items_labels(self.tree.npts, self.handle, self.n, self.tree.n_pt0, self.tree.n_pt1, labels)
        return labels


def preload(passes: ModuleType) -> None:
    """Run every pass of ``passes`` once on tiny data of the types real runs
    give them: loads Numba's from its disk cache (compiling them the first
    time on a machine); the C library's are ready at once."""
    from . import _colorfit, _kmeans  # here: they import this module's users

    rng = np.random.default_rng(0)
    flat = rng.integers(0, 256, (512, 3), dtype=np.uint8)
    tables = _colorfit.MORTON_TABLES
    counts = np.zeros(_colorfit.N_CODES, dtype=np.uint32)  # untouched pages cost nothing
    lut = np.zeros(_colorfit.N_CODES, dtype=np.uint8)
    frozen = flat.copy()
    frozen.setflags(write=False)  # a caller's read-only image is another type to Numba
    for pixels in (frozen, flat):
        passes.histogram(pixels, np.zeros(0, dtype=bool), *tables, counts, np.zeros(0, dtype=np.uint32))
        passes.label_pixels(pixels, *tables, lut, np.empty(pixels.shape[0], dtype=np.uint8))
    distinct, weights = passes.nonzero_counts(counts)
    Y = _colorfit.codes_to_rgb(distinct, passes).astype(np.float64)
    levels = _colorfit._build_levels(distinct, Y, weights, passes)
    C = _kmeans.seed_plusplus(Y, weights, 4, 2, rng, np.einsum("ij,ij->i", Y, Y), passes)[0]
    passes.nearest_centres(Y, np.ascontiguousarray(C.T), np.empty(Y.shape[0], dtype=np.uint8), np.empty(Y.shape[0]))
    for stats in (levels, _colorfit.coarse_stats(levels, 1)):
        items = Tree(stats, passes).items(C)
        items.update(C + 1.0, np.full(C.shape[0], np.sqrt(3.0)))
        items.inertia(C + 1.0)
        items.point_labels(stats[0].size)
