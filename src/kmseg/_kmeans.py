"""Weighted k-means on (n, d) data: greedy k-means++ seeding and Lloyd passes.

Several restarts run side by side as one batch of shape (R, ...), which keeps
the per-iteration Python overhead low on small inputs such as colour
histograms. The private functions assume validated input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validate import as_generator, check_int, check_tol

__all__ = ["KMeansResult", "kmeans"]

# Largest number of float64 distances held at once (about 32 MB).
_CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class KMeansResult:
    """The outcome of :func:`kmeans`.

    Attributes
    ----------
    centers : (k, d) float64
        Cluster centres (weighted means of their points).
    labels : (n,) intp
        Index of the nearest centre for every point.
    inertia : float
        Weighted sum of squared distances of the points to their centres.
    n_iter : int
        Lloyd iterations run by the best restart.
    converged : bool
        Whether the best restart stopped before ``max_iter``.
    """

    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int
    converged: bool


def kmeans(
    X: np.ndarray,
    k: int,
    *,
    sample_weight: np.ndarray | None = None,
    max_iter: int = 300,
    tol: float = 1e-4,
    n_init: int = 4,
    seed: int | np.random.Generator | None = None,
) -> KMeansResult:
    """Cluster weighted points with k-means (k-means++ seeding, Lloyd passes).

    Parameters
    ----------
    X : (n, d) array_like of float
        The points.
    k : int
        Number of clusters, 1 <= k <= n.
    sample_weight : (n,) array_like, optional
        Non-negative weight of every point; a point of weight 2 counts as two
        copies of it. Default: all ones.
    max_iter : int
        Most Lloyd iterations per restart.
    tol : float
        Stop when the squared movement of all centres in one iteration is at
        most ``tol`` times the mean variance of the data, or when no point
        changes cluster.
    n_init : int
        Number of seedings; the run with the lowest inertia is kept.
    seed : int, numpy.random.Generator or None
        Source of randomness; the same seed gives the same result.

    Returns
    -------
    KMeansResult

    Raises
    ------
    InvalidParameterError
        If ``X`` is not finite 2-D data, the weights do not match, or a
        parameter is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> result = kmeans(X, 2, seed=0)
    >>> sorted(result.centers[:, 0].tolist()), result.inertia
    ([0.5, 10.5], 1.0)
    """
    from ._errors import InvalidParameterError

    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise InvalidParameterError(
            f"X must be a non-empty 2-D array of shape (n, d), got shape {X.shape}", param="X"
        )
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise InvalidParameterError(f"X must hold real numbers, got dtype {X.dtype}", param="X")
    X = X.astype(np.float64, copy=False)
    if not np.isfinite(X).all():
        raise InvalidParameterError("X must not contain NaN or infinity", param="X")
    n = X.shape[0]
    k = check_int("k", k, 1, n)
    max_iter = check_int("max_iter", max_iter, 1, None)
    n_init = check_int("n_init", n_init, 1, 1000)
    tol = check_tol(tol)
    if sample_weight is None:
        w = np.ones(n)
    else:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != (n,):
            raise InvalidParameterError(
                f"sample_weight must have shape ({n},), got {w.shape}", param="sample_weight"
            )
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise InvalidParameterError(
                "sample_weight must be finite, non-negative and not all zero",
                param="sample_weight",
            )
    rng = as_generator(seed)
    centers, labels, inertia, n_iter, converged = fit(X, w, k, max_iter, tol, n_init, rng)
    return KMeansResult(centers, labels, inertia, n_iter, converged)


def fit(
    X: np.ndarray,
    w: np.ndarray,
    k: int,
    max_iter: int,
    tol: float,
    n_init: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, float, int, bool]:
    """Best of ``n_init`` seeded Lloyd runs; returns centres, labels, inertia,
    iterations and convergence. Assumes validated input."""
    tol_abs = tol * weighted_variance(X, w)
    x_sq = np.einsum("ij,ij->i", X, X)
    n = X.shape[0]
    per_restart = max(n * max(k, 2 + int(np.log(k))), 1)
    group = max(1, min(n_init, _CHUNK_ELEMENTS // per_restart))
    best = None
    done = 0
    while done < n_init:
        r = min(group, n_init - done)
        centers = seed_plusplus(X, w, k, r, rng, x_sq)
        out = lloyd(X, w, centers, max_iter, tol_abs, x_sq)
        i = int(np.argmin(out[2]))
        if best is None or out[2][i] < best[2]:
            best = (out[0][i], out[1][i], float(out[2][i]), int(out[3][i]), bool(out[4][i]))
        done += r
    assert best is not None
    return best


def weighted_variance(X: np.ndarray, w: np.ndarray) -> float:
    """Mean over the dimensions of the weighted variance of ``X``."""
    mean = (w @ X) / w.sum()
    return float((w @ (X - mean) ** 2).mean() / w.sum())


def sq_distances(X: np.ndarray, C: np.ndarray, x_sq: np.ndarray) -> np.ndarray:
    """Squared distances between points (n, d) and batched centres (R, k, d).

    Returns (R, n, k), clipped at 0 (the expansion can round below it).
    """
    c_sq = np.einsum("rkd,rkd->rk", C, C)
    d = np.matmul(X, C.transpose(0, 2, 1))
    d *= -2
    d += x_sq[None, :, None]
    d += c_sq[:, None, :]
    np.maximum(d, 0, out=d)
    return d


def assign(
    X: np.ndarray, C: np.ndarray, x_sq: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre and its squared distance for every point and restart.

    Parameters
    ----------
    X : (n, d); C : (R, k, d); x_sq : (n,)

    Returns
    -------
    labels : (R, n) intp
    min_sq : (R, n) float64
    """
    r, k, _ = C.shape
    n = X.shape[0]
    labels = np.empty((r, n), dtype=np.intp)
    min_sq = np.empty((r, n))
    step = max(1, _CHUNK_ELEMENTS // (r * k))
    for s in range(0, n, step):
        d = sq_distances(X[s : s + step], C, x_sq[s : s + step])
        lab = d.argmin(axis=2)
        labels[:, s : s + step] = lab
        min_sq[:, s : s + step] = np.take_along_axis(d, lab[..., None], axis=2)[..., 0]
    return labels, min_sq


def seed_plusplus(
    X: np.ndarray,
    w: np.ndarray,
    k: int,
    n_runs: int,
    rng: np.random.Generator,
    x_sq: np.ndarray,
    kernels: Any = None,
) -> np.ndarray:
    """Greedy k-means++ seeding for ``n_runs`` independent runs at once.

    Each new centre is the best of ``2 + log(k)`` candidates drawn with
    probability proportional to weight times squared distance (Arthur and
    Vassilvitskii 2007; the greedy variant scikit-learn uses).

    Returns
    -------
    centers : (n_runs, k, d) float64
    """
    n, dim = X.shape
    trials = 2 + int(np.log(k))
    centers = np.empty((n_runs, k, dim))
    first = rng.choice(n, size=n_runs, p=w / w.sum())
    if kernels is not None:  # the same random stream, compiled
        from . import _jit

        uniforms = rng.random((k - 1, n_runs, trials))
        X64, w64 = np.ascontiguousarray(X, dtype=np.float64), np.ascontiguousarray(w, dtype=np.float64)
        _jit.parallel_map(lambda r: kernels.seed_plusplus(  # one run per call: they run in threads
            X64, w64, first[r : r + 1], np.ascontiguousarray(uniforms[:, r : r + 1]), centers[r : r + 1]),
            range(n_runs))
        return centers
    centers[:, 0] = X[first]
    closest = sq_distances(X, centers[:, :1], x_sq)[:, :, 0]  # (R, n)
    rows = np.arange(n_runs)
    for c in range(1, k):
        mass = closest * w
        cum = np.cumsum(mass.ravel())
        totals = mass.sum(axis=1)
        starts = np.concatenate(([0.0], np.cumsum(totals)[:-1]))
        targets = starts[:, None] + rng.random((n_runs, trials)) * totals[:, None]
        idx = np.searchsorted(cum, targets.ravel(), side="right").reshape(n_runs, trials)
        idx = np.clip(idx - (rows * n)[:, None], 0, n - 1)
        cand = X[idx]  # (R, T, d)
        d = sq_distances(X, cand, x_sq)  # (R, n, T)
        np.minimum(d, closest[:, :, None], out=d)
        potential = np.einsum("rnt,n->rt", d, w)
        best = potential.argmin(axis=1)
        closest = d[rows, :, best]
        centers[:, c] = cand[rows, best]
    return centers


def update_centers(
    X: np.ndarray, w: np.ndarray, labels: np.ndarray, old: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted means of the points of each cluster, for every restart.

    Returns the new centres (R, k, d) and the cluster weights (R, k); an empty
    cluster keeps its old centre (its weight is 0, for the caller to repair).
    """
    r, k, dim = old.shape
    flat = (labels + (np.arange(r) * k)[:, None]).ravel()
    weight = np.bincount(flat, weights=np.tile(w, r), minlength=r * k).reshape(r, k)
    sums = np.empty((r, k, dim))
    for j in range(dim):
        sums[:, :, j] = np.bincount(flat, weights=np.tile(w * X[:, j], r), minlength=r * k).reshape(r, k)
    new = old.copy()
    nonempty = weight > 0
    new[nonempty] = sums[nonempty] / weight[nonempty][:, None]
    return new, weight


def repair_empty(
    X: np.ndarray, centers: np.ndarray, weight: np.ndarray, min_sq: np.ndarray
) -> np.ndarray:
    """Move the centres of empty clusters onto the points farthest from
    their centres (in place). Returns (R,) bool: which restarts changed."""
    moved = np.zeros(centers.shape[0], dtype=bool)
    for r in np.flatnonzero((weight == 0).any(axis=1)):
        empty = np.flatnonzero(weight[r] == 0)
        far = np.argsort(min_sq[r], kind="stable")[::-1][: len(empty)]
        far = far[min_sq[r][far] > 0]
        for c, p in zip(empty, far):
            centers[r, c] = X[p]
            moved[r] = True
    return moved


def lloyd(
    X: np.ndarray,
    w: np.ndarray,
    centers: np.ndarray,
    max_iter: int,
    tol_abs: float,
    x_sq: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lloyd iterations for a batch of restarts.

    Returns centres (R, k, d), labels (R, n), inertia (R,), iterations (R,)
    and converged (R,). A restart stops when no label changes or its centres
    move by at most ``tol_abs`` (squared, summed); the others go on.
    """
    r = centers.shape[0]
    labels, min_sq = assign(X, centers, x_sq)
    n_iter = np.zeros(r, dtype=np.intp)
    converged = np.zeros(r, dtype=bool)
    active = np.ones(r, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        new, weight = update_centers(X, w, labels[idx], centers[idx])
        repaired = repair_empty(X, new, weight, min_sq[idx])
        shift = ((new - centers[idx]) ** 2).sum(axis=(1, 2))
        centers[idx] = new
        new_labels, new_min = assign(X, new, x_sq)
        same = (new_labels == labels[idx]).all(axis=1)
        labels[idx] = new_labels
        min_sq[idx] = new_min
        n_iter[idx] += 1
        stop = ((same | (shift <= tol_abs)) & ~repaired)
        converged[idx[stop]] = True
        active[idx[stop]] = False
    inertia = np.einsum("rn,n->r", min_sq, w)
    return centers, labels, inertia, n_iter, converged
