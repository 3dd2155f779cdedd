"""Spatial k-means: pixel position as features beside colour.

A pixel is the point ``(c1, c2, c3, x * s, y * s)`` where ``c`` is its colour
in the working space and ``s = spatial_weight * D / width``, ``D`` being the
distance from black to white in that space (255 * sqrt(3) in RGB, 100 in
CIELAB, 1 in OKLab). So with ``spatial_weight = 1`` crossing the whole image width
counts as much as going from black to white; 0 is colour only.

The colour histogram no longer describes the data, so the clustering is fit
on a copy of the image downsampled (area average) to ``fit_size`` pixels on
its longest side (k-means++ starts, exact Lloyd passes with Hamerly's
bounds), and then every full-size pixel is assigned to its nearest centre in
chunks of rows, which also gives the exact all-pixel inertia.

A segmentation is then made of it as SLIC does: every cluster keeps its
largest connected region and its other fragments join the neighbouring
segment they share the longest border with (:func:`kmseg.features._regions.connect`),
so K clusters give K connected segments. The inertia is then measured
against the same centres.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from kmseg.engine import _deadline, _kmeans, _tree
from kmseg.features import _regions
from kmseg.features._color import to_space
from kmseg._parallel import parallel_map
import kmseg.engine._kernels as _kernels

__all__ = ["BLACK_TO_WHITE", "DEFAULT_N_INIT", "assign", "fit", "scale", "segments"]

#: Distance from black to white in each colour space.
BLACK_TO_WHITE = {"rgb": 255.0 * np.sqrt(3.0), "lab": 100.0, "oklab": 1.0}
_ROWS_ELEMENTS = 1 << 20
#: Restarts used when n_init is None: more buy little here (see benchmarks).
DEFAULT_N_INIT = 2  # pixels handled per chunk in the full-size pass


def scale(spatial_weight: float, width: int, color_space: str) -> float:
    """Feature units per pixel step."""
    return spatial_weight * BLACK_TO_WHITE[color_space] / max(width, 1)


def _colors(rgb: np.ndarray, color_space: str) -> np.ndarray:
    flat = rgb.reshape(-1, 3)
    return to_space(color_space)(flat)


def _features(rgb: np.ndarray, y0: int, s: float, color_space: str, step: float = 1.0,
              offset: float = 0.0) -> np.ndarray:
    """(h*w, 5) features of rows of an image whose first row is row ``y0``;
    pixel (i, j) of it sits at full-size position (offset + j*step, offset + (y0+i)*step)."""
    h, w = rgb.shape[:2]
    X = np.empty((h * w, 5))
    X[:, :3] = _colors(rgb, color_space)
    xs = (offset + np.arange(w) * step) * s
    ys = (offset + (y0 + np.arange(h)) * step) * s
    X[:, 3] = np.tile(xs, h)
    X[:, 4] = np.repeat(ys, w)
    return X


def fit(rgb: np.ndarray, alpha: np.ndarray | None, k: int, s: float, fit_size: int, color_space: str,
        max_iter: int, tol: float, n_init: int, rng: np.random.Generator
        ) -> tuple[np.ndarray, int, bool, int]:
    """k-means on the downsampled image's features.

    Returns the (k', 5) centres (k' <= k, when the small copy has fewer
    distinct points), the iterations, convergence and the fitted pixel count.
    """
    h, w = rgb.shape[:2]
    f = min(1.0, fit_size / max(h, w))
    sh, sw = max(1, round(h * f)), max(1, round(w * f))
    if (sh, sw) != (h, w):
        small = np.asarray(Image.fromarray(rgb, "RGB").resize((sw, sh), Image.Resampling.BOX))
        small_alpha = None if alpha is None else np.asarray(
            Image.fromarray(alpha, "L").resize((sw, sh), Image.Resampling.BOX))
    else:
        small, small_alpha = rgb, alpha
    step = w / sw  # full-size pixels per small pixel (the same on both axes, up to rounding)
    X = _features(small, 0, s, color_space, step=step, offset=(step - 1) / 2)
    weights = np.ones(X.shape[0]) if small_alpha is None else (small_alpha.reshape(-1) > 0).astype(float)
    if weights.sum() == 0:
        weights[:] = 1.0
    X, weights = X[weights > 0], weights[weights > 0]
    _deadline.check()
    # Every pixel has its own position, so the rows are distinct: only a copy of at
    # most k pixels needs sorting (np.unique over millions of rows takes seconds).
    if X.shape[0] <= k:
        return np.unique(X, axis=0), 0, True, X.shape[0]
    # k-means++ starts, then exact Lloyd passes with Hamerly's distance
    # bounds (the colour fit's machinery with every point its own item): only
    # points near a boundary have their distances recomputed.
    tol_abs = tol * _kmeans.weighted_variance(X, weights)
    n = X.shape[0]
    tree = _tree.Tree.of_points(X, weights)
    starts = list(_kmeans.seed_plusplus(X, weights, k, n_init, rng))
    best = None
    for run in parallel_map(lambda C0: _kmeans.refine(tree, X, C0, max_iter, tol_abs), starts):
        if best is None or run[2] < best[2]:
            best = run
    assert best is not None
    centers, _, _, n_iter, converged = best
    return centers, n_iter, converged, n


def assign(rgb: np.ndarray, opaque: np.ndarray | None, centers: np.ndarray, s: float,
           color_space: str, labels: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Label every full-size pixel with its nearest centre (or use the given
    ``labels``) and return the labels and the inertia over the opaque pixels."""
    h, w = rgb.shape[:2]
    out = np.empty((h, w), dtype=np.uint8) if labels is None else labels
    rows = max(1, _ROWS_ELEMENTS // max(w, 1) // max(1, centers.shape[0] // 8))
    Ct = np.ascontiguousarray(centers.T, dtype=np.float64)

    def band(y0: int) -> float:
        _deadline.check()
        X = _features(rgb[y0 : y0 + rows], y0, s, color_space)
        if labels is None:
            min_sq = np.empty(X.shape[0])
            _kernels.nearest_centres(np.ascontiguousarray(X), Ct, out[y0 : y0 + rows].reshape(-1), min_sq)
        else:
            diff = X - centers[labels[y0 : y0 + rows].reshape(-1)]
            min_sq = np.einsum("ij,ij->i", diff, diff)
        if opaque is not None:
            min_sq = min_sq[opaque[y0 * w : (y0 + rows) * w]]
        return float(min_sq.sum())

    bands = list(range(0, h, rows))
    sums = parallel_map(band, bands) if labels is None else [band(y0) for y0 in bands]
    return out, float(sum(sums))


def segments(rgb: np.ndarray, opaque: np.ndarray | None, centers: np.ndarray, s: float,
             color_space: str) -> tuple[np.ndarray, float, int]:
    """Connected segments: every pixel assigned to its nearest centre, then
    every cluster made one connected region (:func:`kmseg.features._regions.connect`).

    Returns the (H, W) uint8 labels, the inertia over the opaque pixels
    against ``centers``, and the number of connected fragments the nearest
    centres gave.
    """
    nearest, inertia = assign(rgb, opaque, centers, s, color_space)
    labels, fragments, _ = _regions.connect(nearest)
    moved = np.flatnonzero(labels.reshape(-1) != nearest.reshape(-1))
    if opaque is not None:
        moved = moved[opaque[moved]]
    if moved.size:  # the inertia changes only at the moved pixels
        h, w = rgb.shape[:2]
        X = np.empty((moved.size, 5))
        X[:, :3] = _colors(rgb.reshape(-1, 3)[moved], color_space)
        X[:, 3], X[:, 4] = (moved % w) * s, (moved // w) * s
        now = X - centers[labels.reshape(-1)[moved]]
        was = X - centers[nearest.reshape(-1)[moved]]
        inertia += float(np.einsum("ij,ij->", now, now) - np.einsum("ij,ij->", was, was))
    return labels, inertia, fragments
