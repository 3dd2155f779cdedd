"""Automatic K: fit several K on one colour histogram and pick one.

* With a target PSNR: the smallest K whose result reaches it, found by
  doubling K (1, 2, 4, ...) until the target is met and then bisecting
  (PSNR grows with K).
* Without one: the elbow of the inertia curve over K = 1 .. ``K_MAX``, the
  K farthest below the chord joining the curve's ends once both axes are
  scaled to [0, 1], with inertia on a log scale (on a linear scale the
  first big drops hide the later ones and the elbow comes too early).

The histogram and its cube hierarchy (see ``_colorfit``) are built once and
shared by every K. Each K of the curve is warm-started from the largest K
fitted below it plus new greedy k-means++ centres, then refined by exact
Lloyd passes; the chosen K is also fitted with the usual restarts and the
lower inertia kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kmseg.engine import _colorfit, _deadline, _kmeans

__all__ = ["K_MAX", "AutoK", "choose"]

#: Largest K of the elbow curve.
K_MAX = 16
#: Largest K tried when reaching a PSNR target.
K_LIMIT = 256
#: Exact Lloyd passes for a warm-started point of the curve.
CURVE_ITER = 8
#: The curve is fitted on the cubes of this level of the hierarchy (side 2**level) ...
CURVE_LEVEL = 2
#: ... or of this one, coarser, for the elbow.
CURVE_LEVEL_ELBOW = 3


@dataclass
class AutoK:
    """The chosen K, its fit, and the curve of (K, inertia, PSNR) evaluated."""

    k: int
    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int
    converged: bool
    curve: tuple[tuple[int, float, float], ...]


class _Fitter:
    """Fits of several K on one cube hierarchy.

    The curve's fits (``run``) work on whole cubes of side ``2**CURVE_LEVEL``
    (``2**CURVE_LEVEL_ELBOW`` for the elbow)
    in RGB (colours only in CIELAB): every cube goes to the centre nearest
    its mean, so their inertia and PSNR are exact for that assignment (an
    upper bound on the error of the best one). ``full`` is the usual fit.
    """

    def __init__(self, codes, Y, w, rgb, to_rgb, max_iter, tol, n_init_of, rng, coarse: bool, fine: bool = True):
        self.Y, self.w, self.rgb, self.to_rgb = Y, w, rgb.astype(np.float64), to_rgb
        self.max_iter, self.n_init_of, self.rng = max_iter, n_init_of, rng
        self.levels = _colorfit._build_levels(codes, Y, w)
        # The elbow takes coarser cubes: its curve then costs less than the final
        # fit. A PSNR target keeps the finer cubes, whose error estimates are
        # closer to the full fit's.
        level = CURVE_LEVEL if fine else CURVE_LEVEL_ELBOW
        self.coarse = coarse and len(self.levels) > level
        # coarse: the cubes become the points, never opened (radius 0), scatter kept
        self.stats = _colorfit.coarse_stats(self.levels, level) if self.coarse else self.levels
        self.points = self.stats[0]
        self.tree = _colorfit.prepare(self.stats)
        self.tol_abs = tol * _colorfit.variance(self.levels)
        self.runs: dict[int, tuple] = {}

    def _grow(self, C: np.ndarray, k: int) -> np.ndarray:
        """``C`` plus centres added one at a time by greedy k-means++ on the
        coarse cubes, up to ``k`` centres."""
        lv = self.levels[0]
        for cand in reversed(self.levels):
            if cand.size >= 256:
                lv = cand
                break
        X, W = lv.mean, lv.weight
        closest = _kmeans.nearest_sq(X, C)
        C = list(C)
        trials = 2 + int(np.log(k))
        while len(C) < k:
            _deadline.check()
            mass = closest * W
            total = mass.sum()
            if total <= 0:
                break
            idx = np.searchsorted(np.cumsum(mass), self.rng.random(trials) * total, side="right")
            cand = X[np.minimum(idx, X.shape[0] - 1)]
            d = np.minimum(np.stack([_kmeans.nearest_sq(X, c[None]) for c in cand], axis=1), closest[:, None])
            best = int(np.argmin(W @ d))
            C.append(cand[best])
            closest = d[:, best]
        return np.array(C)

    def run(self, k: int) -> tuple[np.ndarray, float, float]:
        """Centres, inertia and PSNR for K, warm-started from the largest K
        fitted below it plus new centres (greedy k-means++), refined by a few
        Lloyd passes."""
        if k in self.runs:
            return self.runs[k]
        _deadline.check()
        Y, w = self.Y, self.w
        if k == 1:
            C = (w @ Y / w.sum())[None, :]
        else:
            below = [kk for kk in self.runs if kk < k]
            C0 = self._grow(self.run(max(below) if below else 1)[0], k)
            iters = min(CURVE_ITER, self.max_iter)
            C = _kmeans.refine(self.tree, self.points.mean, C0, iters, self.tol_abs)[0]
        self.runs[k] = (C,) + self._errors(C)
        return self.runs[k]

    def _errors(self, C: np.ndarray) -> tuple[float, float]:
        """Inertia and PSNR of the items (cubes or colours) each put whole
        into their nearest centre."""
        st = self.points
        lab = _kmeans.nearest(st.mean, C)[0]
        diff = st.mean - C[lab]
        inertia = float(np.sum(st.scatter) + st.weight @ np.einsum("ij,ij->i", diff, diff))
        palette = np.clip(np.rint(self.to_rgb(C)), 0, 255)
        if self.coarse:  # RGB: the cube's scatter is its RGB error around its mean
            diff = st.mean - palette[lab]
            sse = float(np.sum(st.scatter) + st.weight @ np.einsum("ij,ij->i", diff, diff))
        else:
            diff = self.rgb - palette[lab]
            sse = float(self.w @ np.einsum("ij,ij->i", diff, diff))
        return inertia, _psnr(sse / (3 * self.w.sum()))

    def full(self, k: int, C_warm: np.ndarray) -> tuple:
        """The usual restarts-and-refine fit of ``_colorfit.fit_colors`` for K
        on the colours, with the curve's centres as one more start."""
        Y = self.Y
        starts = list(_colorfit._candidates(self.levels, k, self.n_init_of(k), self.max_iter, self.rng))
        starts = starts[: _colorfit.REFINED] + [C_warm]
        C, items, inertia, n_iter, converged = _colorfit.best_of(self.levels, Y, starts, self.max_iter,
                                                                 self.tol_abs)
        return C, items.point_labels(Y.shape[0]), float(inertia), int(n_iter), bool(converged)


def _psnr(mse: float) -> float:
    return float("inf") if mse <= 0 else float(10 * np.log10(255.0**2 / mse))


def choose(codes: np.ndarray, Y: np.ndarray, w: np.ndarray, rgb: np.ndarray, to_rgb,
           max_iter: int, tol: float, n_init_of, rng: np.random.Generator,
           target_psnr: float | None, coarse: bool = True) -> AutoK:
    """Pick K for weighted distinct colours (m > 1 of them).

    Parameters
    ----------
    codes, Y, w : as for ``_colorfit.fit_colors`` (sorted Morton codes, working-space colours, counts)
    rgb : (m, 3) uint8
        The colours, for the PSNR.
    to_rgb : callable
        Working space to RGB (identity for RGB).
    n_init_of : callable
        Restarts for a given K.
    target_psnr : float or None
        Target in dB; None for the elbow.
    coarse : bool
        Fit the curve on cubes of side ``2**CURVE_LEVEL`` (RGB only: their
        scatter is an RGB error).
    """
    m = Y.shape[0]
    fitter = _Fitter(codes, Y, w, rgb, to_rgb, max_iter, tol, n_init_of, rng, coarse=coarse,
                     fine=target_psnr is not None)
    if target_psnr is not None:
        top = min(K_LIMIT, m)
        lo, hi = 0, 1  # psnr(lo) < target (lo = 0: none yet), psnr(hi) tested
        while fitter.run(hi)[2] < target_psnr and hi < top:
            lo, hi = hi, min(2 * hi, top)
        if fitter.run(hi)[2] >= target_psnr:
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if fitter.run(mid)[2] >= target_psnr:
                    hi = mid
                else:
                    lo = mid
        k = hi
    else:
        top = min(K_MAX, m)
        for kk in range(1, top + 1):
            fitter.run(kk)
        k = _elbow(np.array([fitter.runs[kk][1] for kk in range(1, top + 1)]))
    if k == 1:
        C = fitter.runs[1][0]
        diff = Y - C[0]
        C, labels, inertia, n_iter, converged = (
            C, np.zeros(m, dtype=np.uint8), float(w @ np.einsum("ij,ij->i", diff, diff)), 1, True)
    else:
        C, labels, inertia, n_iter, converged = fitter.full(k, fitter.runs[k][0])
    curve = tuple((kk, r[1], r[2]) for kk, r in sorted(fitter.runs.items()))
    return AutoK(k, C, labels, inertia, n_iter, converged, curve)


def _elbow(inertia: np.ndarray) -> int:
    """:func:`elbow_of` the curve for K = 1 .. n; n with fewer than 3
    points, 1 for a flat curve."""
    n = inertia.size
    if n < 3:
        return n
    k = elbow_of(np.arange(1, n + 1), inertia)
    return 1 if k is None else k


def elbow_of(ks: Sequence[int], inertias: Sequence[float]) -> int | None:
    """The elbow of an inertia-against-K curve, as ``k="auto"`` picks it.

    The K farthest below the chord of the curve drawn with the logarithm of
    the inertia, both axes scaled to [0, 1]. On the log scale a drop matters
    by its ratio, so the last real drop (the K where the image's colours run
    out and only noise is left) is not drowned by the first, largest ones.

    Parameters
    ----------
    ks : sequence of int
        Increasing numbers of clusters.
    inertias : sequence of float
        The inertia at each K.

    Returns
    -------
    int or None
        One of ``ks``; None with fewer than three points or a flat curve.
    """
    x = np.asarray(ks, dtype=np.float64)
    inertia = np.asarray(inertias, dtype=np.float64)
    if x.shape != inertia.shape or x.ndim != 1:
        raise ValueError(f"ks and inertias must be 1-D of one length, got {x.shape} and {inertia.shape}")
    if x.size < 3:
        return None
    floor = max(float(inertia.max()) * 1e-12, 1e-300)
    log = np.log(np.maximum(inertia, floor))
    span, span_x = log[0] - log[-1], x[-1] - x[0]
    if span <= 0 or span_x <= 0:
        return None
    xn = (x - x[0]) / span_x
    y = (log - log[-1]) / span
    return int(x[int(np.argmax(1.0 - xn - y))])
