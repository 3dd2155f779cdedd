"""Plain NumPy versions of the compiled spatial passes
(kmseg.engine._spatial_kernels), the oracles of tests/test_spatial_kernels.py:
every pixel compared with every centre, no tiles, no bounds.

A grid is ``colors`` (h * w, 3), ``xs`` (w,), ``ys`` (h,): pixel (i, j) is
the point (colors[i * w + j], xs[j], ys[i]). Squared distances are summed
in the order c0, c1, c2, x, y, as the kernels sum them, so that equal
distances (ties) come out equal here too.
"""

from __future__ import annotations

import numpy as np


def points(colors: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    h, w = len(ys), len(xs)
    return np.column_stack([colors, np.tile(xs, h), np.repeat(ys, w)])


def sq_distances(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """(n, k) squared distances, summed dimension by dimension."""
    d = np.zeros((X.shape[0], C.shape[0]))
    for t in range(X.shape[1]):
        e = X[:, t, None] - C[None, :, t]
        d = d + e * e
    return d


def nearest(X: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre of every point (the lowest index among equal
    distances: argmin's first) and its squared distance."""
    d = sq_distances(X, C)
    labels = d.argmin(axis=1)
    return labels, d[np.arange(len(X)), labels]


def tile_order(h: int, w: int, tile: int) -> np.ndarray:
    """Pixel indices tile by tile (tiles in raster order, pixels in raster
    order within a tile): the order the seeding draws in."""
    i, j = np.divmod(np.arange(h * w), w)
    tiles_across = -(-w // tile)
    return np.lexsort((j, i, (i // tile) * tiles_across + j // tile))


def seed(X: np.ndarray, h: int, w: int, weights: np.ndarray, first: int, uniforms: np.ndarray, k: int,
         trials: int, tile: int) -> np.ndarray:
    """Greedy k-means++: every new centre is the best (lowest potential, the
    first of equal ones) of ``trials`` pixels drawn with probability weight *
    squared distance to the nearest centre so far."""
    order = tile_order(h, w, tile)
    C = [X[first]]
    D = sq_distances(X, X[first][None])[:, 0]
    for c in range(1, k):
        mass = (weights * D)[order]
        cum = np.cumsum(mass)
        best, best_pot = None, np.inf
        for r in range(trials):
            at = min(int(np.searchsorted(cum, uniforms[(c - 1) * trials + r] * cum[-1], side="right")), len(cum) - 1)
            cand = X[order[at]]
            pot = float((weights * np.minimum(D, sq_distances(X, cand[None])[:, 0])).sum())
            if pot < best_pot:
                best, best_pot = cand, pot
        C.append(best)
        D = np.minimum(D, sq_distances(X, best[None])[:, 0])
    return np.array(C)


def lloyd(X: np.ndarray, weights: np.ndarray, C: np.ndarray, max_iter: int, tol_abs: float
          ) -> tuple[np.ndarray, int, bool, float]:
    """Lloyd iterations with every pixel compared with every centre (no
    cluster may empty out: the caller picks such data). Returns centres,
    iterations, convergence and the weighted inertia."""
    C = C.copy()
    labels, _ = nearest(X, C)
    converged, n_iter = False, 0
    for n_iter in range(1, max_iter + 1):
        weight = np.bincount(labels, weights=weights, minlength=len(C))
        assert (weight > 0).all(), "an empty cluster: pick other data"
        new = np.column_stack([np.bincount(labels, weights=weights * X[:, t], minlength=len(C))
                               for t in range(X.shape[1])]) / weight[:, None]
        moved = float((np.sqrt(((new - C) ** 2).sum(axis=1)) ** 2).sum())
        C = new
        labels, _ = nearest(X, C)
        if moved <= tol_abs:
            converged = True
            break
    _, d = nearest(X, C)
    return C, n_iter, converged, float(weights @ d)
