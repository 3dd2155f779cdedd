"""The cube tree and its items, on the compiled engine.

The Python side of the Lloyd iterations over "items" of
:mod:`kmseg.engine._colorfit`: :class:`Tree` flattens the cube levels into the
arrays the engine's passes read (:class:`kmseg.engine._kernels.Tree`, which
checks them), :class:`Items` keeps the partition and the clusters' sums
between passes (:class:`kmseg.engine._kernels.Items`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import kmseg.engine._kernels as _kernels


@dataclass(frozen=True)
class Points:
    """Weighted points as the bottom level of a :class:`Tree` (no cubes above)."""

    mean: np.ndarray
    weight: np.ndarray

    @property
    def size(self) -> int:
        return self.weight.size

    @property
    def scatter(self) -> float:
        return 0.0


class Tree:
    """The levels of :mod:`kmseg.engine._colorfit` flattened for the passes.

    Items are named by global ids: ``0..npts-1`` are the points (level 0 of
    ``stats``), ``npts + j`` is cube j of the levels above, level by level.
    Works for any list of levels whose ``child`` arrays index the level
    below (the cubes' point ranges are derived from them)."""

    def __init__(self, stats: list) -> None:
        pts = stats[0]
        npts = pts.size
        self.npts = npts
        f64 = np.float64
        p_mean = np.ascontiguousarray(pts.mean, dtype=f64)
        p_w = np.ascontiguousarray(pts.weight, dtype=f64)
        p_scatter = np.ascontiguousarray(np.broadcast_to(pts.scatter, (npts,)), dtype=f64)
        nodes = stats[1:]
        offsets = np.cumsum([0] + [lv.size for lv in nodes])
        d = p_mean.shape[1]
        if nodes:
            cat = lambda parts, dtype=f64: np.ascontiguousarray(np.concatenate(parts), dtype=dtype)  # noqa: E731
            n_mean, n_w = cat([lv.mean for lv in nodes]), cat([lv.weight for lv in nodes])
            n_wsum, n_radius = cat([lv.wsum for lv in nodes]), cat([lv.radius for lv in nodes])
            n_scatter = cat([lv.scatter for lv in nodes])
            ch0, ch1, pt0, pt1 = [], [], [], []
            first = None
            for i, lv in enumerate(nodes):
                base = 0 if i == 0 else npts + offsets[i - 1]  # global id of the level below's first item
                ch0.append(lv.child[:-1] + base)
                ch1.append(lv.child[1:] + base)
                first = lv.child if first is None else first[lv.child]
                pt0.append(first[:-1])
                pt1.append(first[1:])
            n_ch0, n_ch1, n_pt0, n_pt1 = (cat(p, np.int64) for p in (ch0, ch1, pt0, pt1))
            tops = (npts + int(offsets[-2]), npts + int(offsets[-1]))
        else:
            n_mean, n_wsum = np.zeros((0, d)), np.zeros((0, d))
            n_w = n_radius = n_scatter = np.zeros(0)
            n_ch0 = n_ch1 = n_pt0 = n_pt1 = np.zeros(0, dtype=np.int64)
            tops = (0, npts)
        self.p_mean, self.p_w, self.p_scatter = p_mean, p_w, p_scatter
        self.n_mean, self.n_w, self.n_scatter = n_mean, n_w, n_scatter
        self.compiled = _kernels.Tree(p_mean, p_w, p_scatter, n_mean, n_w, n_wsum, n_radius, n_scatter,
                                      n_ch0, n_ch1, n_pt0, n_pt1, *tops)

    @classmethod
    def of_points(cls, X: np.ndarray, w: np.ndarray) -> Tree:
        """The tree of weighted points ``X`` (n, d), ``w`` (n,): every point its own item."""
        return cls([Points(X, w)])

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
    keeps its cluster while ``upper + 2 r < lower``. ``weight`` and ``sums``
    are the clusters' weights and weighted sums, kept up to date."""

    def __init__(self, tree: Tree, C: np.ndarray) -> None:
        self.tree = tree
        slack = 1e-9 * (1.0 + float(np.abs(C).max()))
        self.compiled = _kernels.Items(tree.compiled, _columns(C), slack)
        self.weight, self.sums = self.compiled.weight, self.compiled.sums

    def update(self, C: np.ndarray, delta: np.ndarray) -> None:
        """Re-assign after the centres moved to ``C`` by ``delta`` (k,)."""
        self.compiled.update(_columns(C), np.ascontiguousarray(delta, dtype=np.float64))

    def inertia(self, C: np.ndarray) -> float:
        """Sum over the points of weight x squared distance to their centre (plus the cubes' scatter)."""
        return float(self.compiled.inertia(_columns(C)))

    def parts(self) -> tuple[np.ndarray, ...]:
        """Every item's mean, weight, scatter, cluster and lower bound on
        its distance to any other centre."""
        t = self.tree
        ids, lab, lower = self.compiled.members()
        point = ids < t.npts
        node = ids[~point] - t.npts
        n = ids.size
        mean = np.empty((n, t.p_mean.shape[1]))
        w, scatter = np.empty(n), np.empty(n)
        mean[point], w[point], scatter[point] = t.p_mean[ids[point]], t.p_w[ids[point]], t.p_scatter[ids[point]]
        mean[~point], w[~point], scatter[~point] = t.n_mean[node], t.n_w[node], t.n_scatter[node]
        return mean, w, scatter, lab, lower

    def point_labels(self, m: int) -> np.ndarray:
        """The cluster (uint8) of each of the ``m`` points."""
        labels = np.empty(m, dtype=np.uint8)
        self.compiled.point_labels(labels)
        return labels
