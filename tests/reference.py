"""Plain NumPy oracles for kmseg's compiled engine (kmseg.engine._kernels).

Written for clarity, not speed: brute-force distances (direct differences,
the first centre winning ties), the colour histogram by counting, cubes by
grouping, greedy weighted k-means++ and Lloyd's algorithm. The engine's
passes are checked against these on the same data.
"""

from __future__ import annotations

import numpy as np


def morton_codes(rgb: np.ndarray) -> np.ndarray:
    """The Morton code (bits of R, G, B interleaved, R highest) of every pixel of an (..., 3) uint8 array."""
    flat = rgb.reshape(-1, 3).astype(np.uint32)
    codes = np.zeros(flat.shape[0], dtype=np.uint32)
    for bit in range(8):
        for channel, shift in ((0, 2), (1, 1), (2, 0)):
            codes |= ((flat[:, channel] >> bit) & 1) << (3 * bit + shift)
    return codes


def histogram(rgb: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Pixel count of every colour code (2**24,), over the pixels where ``mask``."""
    codes = morton_codes(rgb)
    return np.bincount(codes if mask is None else codes[mask], minlength=1 << 24)


def sq_distances(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """(n, k) squared distances by direct differences."""
    return ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)


def nearest(X: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre (first wins ties) of every row of ``X`` and its squared distance."""
    d = sq_distances(X, C)
    labels = d.argmin(axis=1)
    return labels, d[np.arange(X.shape[0]), labels]


def cubes(codes: np.ndarray, Y: np.ndarray, w: np.ndarray, side_bits: int) -> dict[str, np.ndarray]:
    """The cubes of side ``2**side_bits`` holding the colours (sorted codes):
    each cube's weight, mean, scatter (sum of w |y - mean|^2), the largest
    distance of its colours to its mean, and every colour's cube."""
    key = codes >> np.uint32(3 * side_bits)
    _, owner = np.unique(key, return_inverse=True)
    weight = np.bincount(owner, weights=w)
    mean = np.stack([np.bincount(owner, weights=w * Y[:, j]) for j in range(Y.shape[1])], axis=1) / weight[:, None]
    gap = ((Y - mean[owner]) ** 2).sum(axis=1)
    scatter = np.bincount(owner, weights=w * gap)
    reach = np.zeros(weight.size)
    np.maximum.at(reach, owner, np.sqrt(gap))
    return {"weight": weight, "mean": mean, "scatter": scatter, "reach": reach, "owner": owner}


def seed_plusplus(X: np.ndarray, w: np.ndarray, k: int, n_runs: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy weighted k-means++ (``2 + log k`` candidates a centre, the one
    that lowers the weighted potential most kept), drawing from ``rng`` in the
    order kmseg does: the runs' first points, then (k - 1, runs, trials)
    uniforms. Sums are sequential, as the engine's."""
    n = X.shape[0]
    trials = 2 + int(np.log(k))
    first = rng.choice(n, size=n_runs, p=w / w.sum())
    uniforms = rng.random((k - 1, n_runs, trials))
    centers = np.empty((n_runs, k, X.shape[1]))
    for r in range(n_runs):
        centers[r, 0] = X[first[r]]
        closest = ((X - X[first[r]]) ** 2).sum(axis=1)
        for c in range(1, k):
            cum = np.cumsum(closest * w)
            best = None
            for t in range(trials):
                idx = min(int(np.searchsorted(cum, uniforms[c - 1, r, t] * cum[-1], side="right")), n - 1)
                d = np.minimum(((X - X[idx]) ** 2).sum(axis=1), closest)
                potential = np.cumsum(w * d)[-1]
                if best is None or potential < best[0]:
                    best = (potential, idx, d)
            _, idx, closest = best
            centers[r, c] = X[idx]
    return centers


def lloyd(X: np.ndarray, w: np.ndarray, C: np.ndarray, max_iter: int = 300,
          tol: float = 0.0) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Weighted Lloyd from centres ``C`` until no label changes or the centres
    move less than ``tol`` (squared, summed); an empty cluster keeps its centre.
    Returns centres, labels, inertia and iterations."""
    C = np.array(C, dtype=np.float64)
    labels, _ = nearest(X, C)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        new = C.copy()
        for j in range(C.shape[0]):
            mine = labels == j
            if w[mine].sum() > 0:
                new[j] = w[mine] @ X[mine] / w[mine].sum()
        shift = float(((new - C) ** 2).sum())
        C = new
        new_labels, _ = nearest(X, C)
        if np.array_equal(new_labels, labels) or shift <= tol:
            labels = new_labels
            break
        labels = new_labels
    inertia = float(w @ sq_distances(X, C)[np.arange(X.shape[0]), labels])
    return C, labels, inertia, n_iter
