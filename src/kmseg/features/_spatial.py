"""Spatial k-means: pixel position as features beside colour.

A pixel is the point ``(c1, c2, c3, x * s, y * s)`` where ``c`` is its colour
in the working space and ``s = spatial_weight * D / width``, ``D`` being the
distance from black to white in that space (255 * sqrt(3) in RGB, 100 in
CIELAB, 1 in OKLab). So with ``spatial_weight = 1`` crossing the whole image width
counts as much as going from black to white; 0 is colour only.

The colour histogram no longer describes the data, so the clustering is fit
on a copy of the image downsampled (area average) to ``fit_size`` pixels on
its longest side (greedy k-means++ starts, exact Lloyd passes with Hamerly's
bounds), and then every full-size pixel is assigned to its nearest centre in
bands of rows (in threads), which also gives the exact all-pixel inertia.
All three passes are compiled (:mod:`kmseg.engine._spatial_kernels`) and
work in tiles of pixels: a centre whose distance in position alone from a
tile exceeds a pixel's best full distance cannot be nearer, so a pixel is
compared only with the few centres around it, as in SLIC, and still gets
the exact nearest centre of all K.

A segmentation is then made of it as SLIC does: every cluster keeps its
largest connected region and its other fragments join the neighbouring
segment they share the longest border with (:func:`kmseg.features._regions.connect`),
so K clusters give K connected segments. The inertia is then measured
against the same centres.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from kmseg.engine import _deadline, _kmeans
from kmseg.features import _regions
from kmseg.features._color import to_space
from kmseg._parallel import parallel_map
import kmseg.engine._spatial_kernels as _sk

__all__ = ["BLACK_TO_WHITE", "default_n_init", "assign", "fit", "scale", "segments"]

#: Distance from black to white in each colour space.
BLACK_TO_WHITE = {"rgb": 255.0 * np.sqrt(3.0), "lab": 100.0, "oklab": 1.0}
_BAND_PIXELS = 1 << 18  # pixels per band of the full-size pass
#: Pixels x Lloyd passes of the fit done in one compiled call, the deadline checked between calls.
_PASS_WORK = 1 << 22


def default_n_init(k: int) -> int:
    """Restarts used when n_init is None: two up to K = 32 (where a second
    start lowers the inertia and the error a little, at little cost), one
    above (where it does not lower the error of the picture:
    benchmarks/bench_spatial.py)."""
    return 2 if k <= 32 else 1


def scale(spatial_weight: float, width: int, color_space: str) -> float:
    """Feature units per pixel step."""
    return spatial_weight * BLACK_TO_WHITE[color_space] / max(width, 1)


def _colors(rgb: np.ndarray, color_space: str) -> np.ndarray:
    flat = rgb.reshape(-1, 3)
    return to_space(color_space)(flat)


def _features(rgb: np.ndarray, y0: int, s: float, color_space: str) -> np.ndarray:
    """(h*w, 5) features of rows of an image whose first row is row ``y0``
    (the points the compiled passes see, as one array: for tests)."""
    h, w = rgb.shape[:2]
    X = np.empty((h * w, 5))
    X[:, :3] = _colors(rgb, color_space)
    X[:, 3] = np.tile(np.arange(w) * s, h)
    X[:, 4] = np.repeat(np.arange(y0, y0 + h) * s, w)
    return X


def _tile(pixels: int, k: int, lo: int, hi: int) -> int:
    """Tile side for the compiled passes: about half a cluster's side."""
    return int(min(hi, max(lo, round(0.5 * np.sqrt(pixels / max(k, 1))))))


def fit(rgb: np.ndarray, alpha: np.ndarray | None, k: int, s: float, fit_size: int, color_space: str,
        max_iter: int, tol: float, n_init: int, rng: np.random.Generator
        ) -> tuple[np.ndarray, int, bool, int]:
    """k-means on the downsampled image's features.

    Returns the (k', 5) centres (k' <= k, when the small copy has fewer
    opaque pixels), the iterations, convergence and the fitted pixel count.
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
    offset = (step - 1) / 2
    colors = np.ascontiguousarray(_colors(small, color_space))
    xs = (offset + np.arange(sw) * step) * s
    ys = (offset + np.arange(sh) * step) * s
    weights = None if small_alpha is None else (small_alpha.reshape(-1) > 0).astype(np.float64)
    if weights is not None and (weights.all() or not weights.any()):  # all opaque, or none: all count
        weights = None
    opaque = slice(None) if weights is None else weights > 0
    n = colors.shape[0] if weights is None else int(np.count_nonzero(weights))
    X = np.empty((colors.shape[0], 5))
    X[:, :3], X[:, 3], X[:, 4] = colors, np.tile(xs, sh), np.repeat(ys, sw)
    if n <= k:  # every pixel has its own position: each is a distinct point
        return X[opaque], 0, True, n
    # Greedy k-means++ starts, then exact Lloyd passes with Hamerly's bounds,
    # both comparing a pixel only with the centres whose position can reach
    # it (kmseg.engine._spatial_kernels).
    w_all = np.ones(colors.shape[0]) if weights is None else weights
    # Converged when the centres' mean squared movement (not the sum, as in
    # the colour fit) is at most tol times the data's variance: with
    # hundreds of segments the last passes of a summed criterion move
    # centres by a fraction of a pixel and change the picture by nothing.
    tol_abs = tol * _kmeans.weighted_variance(X, w_all) * k
    trials = 2 + int(np.log(k))
    first = rng.choice(colors.shape[0], size=n_init, p=w_all / w_all.sum())
    uniforms = rng.random((n_init, (k - 1) * trials))
    tile = _tile(n, k, 4, 32)

    def run(r: int) -> tuple[np.ndarray, int, bool, float]:
        C = np.empty((k, 5))
        _deadline.check()
        _sk.seed(colors, xs, ys, weights, int(first[r]), uniforms[r], k, trials, C, tile=tile)
        still = 1e-20 * (1.0 + float((C**2).sum()))
        # A few passes per call, the deadline checked between: the passes start from
        # the centres alone, so the split does not change what they find.
        per_call = max(1, _PASS_WORK // max(1, colors.shape[0]))
        n_iter, converged, inertia = 0, False, 0.0
        while not converged and n_iter < max_iter:
            _deadline.check()
            asked = min(per_call, max_iter - n_iter)
            done, converged, inertia = _sk.lloyd(colors, xs, ys, weights, C, asked, tol_abs, still, tile=tile)
            n_iter += done
            if done < asked:
                break
        return C, n_iter, converged, inertia

    runs = parallel_map(run, range(n_init))
    centers, n_iter, converged, _ = min(runs, key=lambda r: r[3])
    return centers, n_iter, converged, n


def assign(rgb: np.ndarray, opaque: np.ndarray | None, centers: np.ndarray, s: float,
           color_space: str, labels: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Label every full-size pixel with its nearest centre (or use the given
    ``labels``) and return the labels and the inertia over the opaque pixels."""
    h, w = rgb.shape[:2]
    out = np.empty((h, w), dtype=np.uint8) if labels is None else labels
    k = centers.shape[0]
    tile = _tile(h * w, k, 8, 64)
    # Bands of whole tiles, about _BAND_PIXELS each, the same for any number of threads.
    rows = max(1, _BAND_PIXELS // max(w, 1) // tile) * tile
    C = np.ascontiguousarray(centers, dtype=np.float64)
    xs = np.arange(w) * s

    def band(y0: int) -> float:
        _deadline.check()
        y1 = min(h, y0 + rows)
        colors = np.ascontiguousarray(_colors(rgb[y0:y1], color_space))
        ys = np.arange(y0, y1) * s
        mask = None if opaque is None else opaque[y0 * w : y1 * w]
        if labels is None:
            return _sk.assign(colors, xs, ys, C, out[y0:y1].reshape(-1), mask, tile=tile)
        return _sk.inertia(colors, xs, ys, C, np.ascontiguousarray(labels[y0:y1], dtype=np.uint8).reshape(-1), mask)

    return out, float(sum(parallel_map(band, list(range(0, h, rows)))))


def segments(rgb: np.ndarray, opaque: np.ndarray | None, centers: np.ndarray, s: float,
             color_space: str) -> tuple[np.ndarray, float, int]:
    """Connected segments: every pixel assigned to its nearest centre, then
    every cluster made one connected region (:func:`kmseg.features._regions.connect`).

    Returns the (H, W) uint8 labels, the inertia over the opaque pixels
    against ``centers``, and the number of connected fragments the nearest
    centres gave.
    """
    nearest, _ = assign(rgb, opaque, centers, s, color_space)
    _deadline.check()
    labels, fragments, _ = _regions.connect(nearest)
    _deadline.check()
    _, inertia = assign(rgb, opaque, centers, s, color_space, labels)
    return labels, inertia, fragments
