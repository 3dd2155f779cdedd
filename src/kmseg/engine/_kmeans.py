"""Weighted k-means on (n, d) data: greedy k-means++ seeding and Lloyd passes.

Both run in the compiled engine (:mod:`kmseg.engine._kernels`): the seeding
directly, Lloyd over the items of a :class:`kmseg.engine._tree.Tree` (points, or
the cubes of a colour histogram) with Hamerly's bounds, so that only the
items near a boundary have their distances recomputed. Restarts run in
threads. The private functions assume validated input.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from kmseg.engine import _deadline, _tree
from kmseg._parallel import parallel_map
from kmseg._validate import as_generator, check_int, check_tol
import kmseg.engine._kernels as _kernels

__all__ = ["KMeansResult", "kmeans"]

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
    from kmseg.errors import InvalidParameterError

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
    """Best of ``n_init`` seeded Lloyd runs (the first of the lowest inertia);
    returns centres, labels (intp), inertia, iterations and convergence.
    Assumes validated input."""
    tol_abs = tol * weighted_variance(X, w)
    tree = _tree.Tree.of_points(X, w)
    starts = list(seed_plusplus(X, w, k, n_init, rng))
    runs = parallel_map(lambda C0: refine(tree, X, C0, max_iter, tol_abs), starts)
    C, items, inertia, n_iter, converged = min(runs, key=lambda run: run[2])
    ids, lab, _ = items.compiled.members()
    labels = np.empty(X.shape[0], dtype=np.intp)
    labels[ids] = lab
    return C, labels, float(inertia), int(n_iter), bool(converged)


def weighted_variance(X: np.ndarray, w: np.ndarray) -> float:
    """Mean over the dimensions of the weighted variance of ``X``."""
    mean = (w @ X) / w.sum()
    return float((w @ (X - mean) ** 2).mean() / w.sum())


def nearest(X: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest of centres ``C`` (k <= 256, d) for every row of ``X`` (n, d)
    (the first wins ties), and its squared distance.

    Returns
    -------
    labels : (n,) uint8
    min_sq : (n,) float64
    """
    labels, min_sq = np.empty(X.shape[0], dtype=np.uint8), np.empty(X.shape[0])
    _kernels.nearest_centres(X, np.ascontiguousarray(C.T, dtype=np.float64), labels, min_sq)
    return labels, min_sq


def nearest_sq(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Squared distance of every row of ``X`` (n, d) to its nearest of centres ``C`` (k, d), any k."""
    min_sq = np.empty(X.shape[0])
    _kernels.nearest_centres(X, np.ascontiguousarray(C.T, dtype=np.float64), np.empty(0, dtype=np.uint8), min_sq)
    return min_sq


#: Distance terms (points x dimensions x candidates) a seeding call computes between deadline checks.
_SEED_WORK = 50_000_000


def seed_plusplus(X: np.ndarray, w: np.ndarray, k: int, n_runs: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ seeding for ``n_runs`` independent runs.

    Each new centre is the best of ``2 + log(k)`` candidates drawn with
    probability proportional to weight times squared distance (Arthur and
    Vassilvitskii 2007; the greedy variant scikit-learn uses). The runs'
    random numbers are drawn first, so they do not depend on the threads.

    Returns
    -------
    centers : (n_runs, k, d) float64
    """
    n, dim = X.shape
    trials = 2 + int(np.log(k))
    centers = np.empty((n_runs, k, dim))
    first = rng.choice(n, size=n_runs, p=w / w.sum())
    uniforms = rng.random((k - 1, n_runs, trials))
    X64, w64 = np.ascontiguousarray(X, dtype=np.float64), np.ascontiguousarray(w, dtype=np.float64)
    # Each call chooses a few centres (about _SEED_WORK distance terms), the deadline checked between.
    step = max(1, _SEED_WORK // max(1, n * dim * trials))

    def run(r: int) -> None:
        closest, mine = np.empty(n), np.ascontiguousarray(uniforms[:, r])
        head, next_point = np.empty(k, dtype=np.int64), np.empty(n, dtype=np.int64)
        for c0 in range(0, k, step):
            _deadline.check()
            _kernels.seed_plusplus_steps(X64, w64, int(first[r]), mine, c0, min(k, c0 + step), closest, head,
                                         next_point, centers[r])

    parallel_map(run, range(n_runs))  # one run per thread
    return centers


def _repair(C: np.ndarray, weight: np.ndarray, Y: np.ndarray) -> bool:
    """Re-seed empty clusters on the points farthest from their centres."""
    empty = np.flatnonzero(weight <= 0)
    if empty.size == 0:
        return False
    min_sq = nearest_sq(Y, C)
    far = np.argsort(min_sq, kind="stable")[::-1][: empty.size]
    far = far[min_sq[far] > 0]
    for c, p in zip(empty, far):
        C[c] = Y[p]
    return far.size > 0


def refine(tree: _tree.Tree, Y: np.ndarray, C: np.ndarray, max_iter: int, tol_abs: float,
           items: _tree.Items | None = None,
           need_inertia: bool = True) -> tuple[np.ndarray, _tree.Items, float, int, bool]:
    """Exact Lloyd iterations over the items of ``tree`` from centres ``C``
    (and their ``items``, when going on from an earlier run); ``Y``: the
    tree's points. Returns the final centres, the items assigned to them,
    the inertia (None unless ``need_inertia``: a pass over the items), the
    iterations and convergence."""
    C = C.copy()
    _deadline.check()
    if items is None:
        items = tree.items(C)
    # Below this, the centres have stopped moving up to rounding.
    still = 1e-20 * (1.0 + float((C**2).sum()))
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        _deadline.check()
        weight, sums = items.weight, items.sums
        if weight.min() > 0:  # no cluster empty: the usual case, without a mask (a pass of a tiny fit costs µs)
            new = sums / weight[:, None]
        else:
            new = C.copy()
            nonempty = weight > 0
            new[nonempty] = sums[nonempty] / weight[nonempty, None]
            if _repair(new, weight, Y):
                C = new
                items = tree.items(C)
                continue
        delta = np.sqrt(((new - C) ** 2).sum(axis=1))
        C = new
        items.update(C, delta)
        if float((delta**2).sum()) <= max(tol_abs, still):
            converged = True
            break
    return C, items, items.inertia(C) if need_inertia else None, n_iter, converged  # type: ignore[return-value]
