"""Exact k-means over every pixel of an image, through its colour histogram.

Every distinct colour is one point weighted by its pixel count, which has the
same optimum as clustering the pixels themselves. Colours are keyed by their
Morton code (the bits of R, G and B interleaved), so sorting the codes groups
the colours into nested cubes: the colours sharing the top ``8 - s`` bits of
every channel are contiguous for every ``s``. That hierarchy serves twice:

* restarts (k-means++ and Lloyd) run on the weighted means of coarse cubes,
  where they are cheap;
* each exact Lloyd pass walks the hierarchy top-down (Kanungo et al.'s
  filtering idea): a cube whose every colour provably has the same nearest
  centre is assigned whole, using its weight, mean and scatter, which keeps
  the pass and its inertia exact; only cubes near a boundary are opened.

The functions here assume validated input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _kmeans

__all__ = ["codes_to_rgb", "fit_colors", "pixel_codes"]

N_CODES = 1 << 24
_TOP_SHIFT = 5  # coarsest cubes: 3 bits a channel, at most 512 of them
_COARSE_ITER = 30


def _spread_bits() -> np.ndarray:
    v = np.arange(256, dtype=np.uint32)
    out = np.zeros(256, dtype=np.uint32)
    for i in range(8):
        out |= ((v >> i) & 1) << (3 * i)
    return out


_SPREAD = _spread_bits()
_MORTON_R, _MORTON_G, _MORTON_B = _SPREAD << 2, _SPREAD << 1, _SPREAD


def _unmorton_tables() -> np.ndarray:
    tables = np.zeros((3, 256), dtype=np.uint32)
    v = np.arange(256, dtype=np.uint32)
    for byte in range(3):
        for bit in range(8):
            pos = 8 * byte + bit  # bit position in the Morton code
            channel = 2 - pos % 3  # 0 = R, 1 = G, 2 = B
            plain_bit = 8 * (2 - channel) + pos // 3
            tables[byte] |= ((v >> bit) & 1) << plain_bit
    return tables


_UNMORTON = _unmorton_tables()


def pixel_codes(rgb: np.ndarray) -> np.ndarray:
    """Morton codes of the pixels of an (..., 3) uint8 array, flattened to (n,) uint32."""
    flat = rgb.reshape(-1, 3)
    codes = _MORTON_R[flat[:, 0]]
    codes |= _MORTON_G[flat[:, 1]]
    codes |= _MORTON_B[flat[:, 2]]
    return codes


def codes_to_rgb(codes: np.ndarray) -> np.ndarray:
    """The (m, 3) uint8 colours of Morton codes."""
    plain = _UNMORTON[0][codes & 255]
    plain |= _UNMORTON[1][(codes >> 8) & 255]
    plain |= _UNMORTON[2][codes >> 16]
    out = np.empty((codes.size, 3), dtype=np.uint8)
    out[:, 0] = plain >> 16
    out[:, 1] = (plain >> 8) & 255
    out[:, 2] = plain & 255
    return out


@dataclass
class _Level:
    """Cubes of one size: ``child[i]:child[i+1]`` are the indices of cube i's
    children in the next finer level (or its points, for the finest level);
    ``first_point`` gives the same for the points."""

    child: np.ndarray
    first_point: np.ndarray
    weight: np.ndarray
    wsum: np.ndarray  # weight times mean, (n, d)
    mean: np.ndarray
    scatter: np.ndarray  # sum of w * |y - mean|^2 over the cube's points
    radius: np.ndarray  # bound on |y - mean| over the cube's points

    @property
    def size(self) -> int:
        return self.weight.size


def _starts(ids: np.ndarray) -> np.ndarray:
    """Start of every run of equal values in a sorted array, plus its length."""
    change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    return np.concatenate(([0], change, [ids.size])).astype(np.intp)


def _build_levels(codes: np.ndarray, Y: np.ndarray, w: np.ndarray) -> list[_Level]:
    """Levels from the finest cubes (2 values a side) up to the top cubes."""
    levels: list[_Level] = []
    ids = codes >> 3
    child = _starts(ids)
    heads = child[:-1]
    wy = w[:, None] * Y
    weight = np.add.reduceat(w, heads)
    wsum = np.add.reduceat(wy, heads, axis=0)
    wsq = np.add.reduceat(np.einsum("ij,ij->i", wy, Y), heads)
    mean = wsum / weight[:, None]
    diff = Y - np.repeat(mean, np.diff(child), axis=0)
    radius = np.sqrt(np.maximum.reduceat(np.einsum("ij,ij->i", diff, diff), heads))
    scatter = np.maximum(wsq - np.einsum("ij,ij->i", wsum, mean), 0.0)
    levels.append(_Level(child, child, weight, wsum, mean, scatter, radius))
    ids = ids[heads]
    for _ in range(2, _TOP_SHIFT + 1):
        low = levels[-1]
        ids = ids >> 3
        child = _starts(ids)
        heads = child[:-1]
        weight = np.add.reduceat(low.weight, heads)
        wsum = np.add.reduceat(low.wsum, heads, axis=0)
        mean = wsum / weight[:, None]
        wsq_low = low.scatter + np.einsum("ij,ij->i", low.wsum, low.mean)
        wsq = np.add.reduceat(wsq_low, heads)
        scatter = np.maximum(wsq - np.einsum("ij,ij->i", wsum, mean), 0.0)
        gap = np.sqrt(((low.mean - np.repeat(mean, np.diff(child), axis=0)) ** 2).sum(axis=1))
        radius = np.maximum.reduceat(gap + low.radius, heads)
        first_point = low.first_point[child]
        levels.append(_Level(child, first_point, weight, wsum, mean, scatter, radius))
        ids = ids[heads]
    return levels


def _expand(child: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Indices of the children of ``nodes``, concatenated in order."""
    first = child[nodes]
    lengths = child[nodes + 1] - first
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.intp)
    offsets = np.repeat(first - (np.cumsum(lengths) - lengths), lengths)
    return np.arange(total, dtype=np.intp) + offsets


def _sq_dist(P: np.ndarray, C: np.ndarray) -> np.ndarray:
    d = P @ (-2.0 * C.T)
    d += np.einsum("ij,ij->i", P, P)[:, None]
    d += np.einsum("ij,ij->i", C, C)[None, :]
    np.maximum(d, 0.0, out=d)
    return d


class _Pass:
    """One assignment pass: cluster weights and sums, inertia, and which
    cubes (or points) went to which cluster."""

    def __init__(self, k: int, d: int) -> None:
        self.weight = np.zeros(k)
        self.sums = np.zeros((k, d))
        self.inertia = 0.0
        self.assigned: list[tuple[int, np.ndarray, np.ndarray]] = []

    def add(self, level: int, idx: np.ndarray, lab: np.ndarray, w: np.ndarray,
            wsum: np.ndarray, cost: float) -> None:
        k = self.weight.size
        self.weight += np.bincount(lab, weights=w, minlength=k)
        for j in range(self.sums.shape[1]):
            self.sums[:, j] += np.bincount(lab, weights=wsum[:, j], minlength=k)
        self.inertia += cost
        self.assigned.append((level, idx, lab))


def _assign_pass(levels: list[_Level], Y: np.ndarray, w: np.ndarray, C: np.ndarray) -> _Pass:
    k, d = C.shape
    result = _Pass(k, d)
    # Squared-distance margin that absorbs rounding in the cube statistics.
    slack = 1e-9 * (1.0 + float(np.abs(C).max()))
    idx = np.arange(levels[-1].size, dtype=np.intp)
    for li in range(len(levels) - 1, -1, -1):
        lv = levels[li]
        if idx.size == 0:
            break
        D = _sq_dist(lv.mean[idx], C)
        rows = np.arange(idx.size)
        lab = D.argmin(axis=1)
        d1 = D[rows, lab]
        if k > 1:
            D[rows, lab] = np.inf
            d2 = D.min(axis=1)
            sure = np.sqrt(d2) - np.sqrt(d1) > 2.0 * lv.radius[idx] + slack
        else:
            sure = np.ones(idx.size, dtype=bool)
        s = idx[sure]
        if s.size:
            cost = float(lv.scatter[s].sum() + lv.weight[s] @ d1[sure])
            result.add(li + 1, s, lab[sure], lv.weight[s], lv.wsum[s], cost)
        idx = _expand(lv.child, idx[~sure])
    if idx.size:
        D = _sq_dist(Y[idx], C)
        lab = D.argmin(axis=1)
        dmin = D[np.arange(idx.size), lab]
        result.add(0, idx, lab, w[idx], w[idx, None] * Y[idx], float(w[idx] @ dmin))
    return result


def _point_labels(levels: list[_Level], m: int, ps: _Pass) -> np.ndarray:
    labels = np.empty(m, dtype=np.uint8)
    for level, idx, lab in ps.assigned:
        if level == 0:
            labels[idx] = lab
        else:
            first = levels[level - 1].first_point
            points = _expand(first, idx)
            labels[points] = np.repeat(lab, first[idx + 1] - first[idx]).astype(np.uint8)
    return labels


def _repair(C: np.ndarray, weight: np.ndarray, Y: np.ndarray) -> bool:
    """Re-seed empty clusters on the colours farthest from their centres."""
    empty = np.flatnonzero(weight == 0)
    if empty.size == 0:
        return False
    _, min_sq = _kmeans.assign(Y, C[None], np.einsum("ij,ij->i", Y, Y))
    far = np.argsort(min_sq[0], kind="stable")[::-1][: empty.size]
    far = far[min_sq[0][far] > 0]
    for c, p in zip(empty, far):
        C[c] = Y[p]
    return far.size > 0


def _initial_centers(levels: list[_Level], Y: np.ndarray, w: np.ndarray, k: int,
                     n_init: int, max_iter: int, rng: np.random.Generator) -> np.ndarray:
    """Best of ``n_init`` k-means++ + Lloyd runs on the coarsest level that has
    comfortably more cubes than clusters."""
    want = max(20 * k, 256)
    X, W = Y, w
    for lv in reversed(levels):
        if lv.size >= want:
            X, W = lv.mean, lv.weight
            break
    else:
        if Y.shape[0] > 200_000:
            X, W = levels[0].mean, levels[0].weight
    x_sq = np.einsum("ij,ij->i", X, X)
    tol_abs = 1e-4 * _kmeans.weighted_variance(X, W)
    centers = _kmeans.seed_plusplus(X, W, k, n_init, rng, x_sq)
    centers, _, inertia, _, _ = _kmeans.lloyd(X, W, centers, min(max_iter, _COARSE_ITER), tol_abs, x_sq)
    return centers[int(np.argmin(inertia))].copy()


def fit_colors(
    codes: np.ndarray,
    Y: np.ndarray,
    w: np.ndarray,
    k: int,
    max_iter: int,
    tol: float,
    n_init: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, float, int, bool]:
    """k-means on weighted distinct colours, exact over every pixel.

    Parameters
    ----------
    codes : (m,) uint32
        Sorted Morton codes of the distinct colours.
    Y : (m, d) float64
        The colours in the working colour space, in the order of ``codes``.
    w : (m,) float64
        Pixel count of every colour.
    k : int
        Clusters, with 2 <= k < m.

    Returns
    -------
    centers : (k, d) float64
    labels : (m,) uint8
        Cluster of every distinct colour (nearest centre).
    inertia : float
        Sum over all pixels of the squared distance to their centre.
    n_iter : int
        Exact Lloyd passes run.
    converged : bool
    """
    levels = _build_levels(codes, Y, w)
    C = _initial_centers(levels, Y, w, k, n_init, max_iter, rng)
    tol_abs = tol * _kmeans.weighted_variance(levels[0].mean, levels[0].weight)
    # Below this, a centre has stopped moving up to rounding: no label changed.
    still = 1e-20 * (1.0 + float((C**2).sum()))
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        ps = _assign_pass(levels, Y, w, C)
        new = C.copy()
        nonempty = ps.weight > 0
        new[nonempty] = ps.sums[nonempty] / ps.weight[nonempty, None]
        repaired = _repair(new, ps.weight, Y)
        shift = float(((new - C) ** 2).sum())
        C = new
        if not repaired and shift <= max(tol_abs, still):
            converged = True
            break
    ps = _assign_pass(levels, Y, w, C)
    if _repair(C, ps.weight, Y):  # the last update emptied a cluster
        ps = _assign_pass(levels, Y, w, C)
    return C, _point_labels(levels, Y.shape[0], ps), ps.inertia, n_iter, converged
