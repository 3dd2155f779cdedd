"""segment(): an image in, its k-means colour segmentation out: a short
composition of the public steps of :mod:`kmseg._steps` (histogram, fit or
choose K, apply; or the spatial fit and segments; then merging small regions)
and the quality figures of :class:`Segmentation`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from kmseg.features import _regions, _spatial, _transfer
from kmseg.engine import _colorfit, _deadline
from kmseg.engine import _regions as _regions_engine
from kmseg.engine._deadline import Deadline
from kmseg import options
from kmseg.features._color import to_space
from kmseg.errors import InvalidParameterError
from kmseg.io._image import ImageSource, LoadedImage, load_image
from kmseg._result import Segmentation, summarize
from kmseg._steps import (  # noqa: F401  (the private helpers: importable from here as before)
    COLOR_SPACES,
    ColorHistogram,
    ColorSpace,
    MergedRegions,
    PaletteFit,
    SpatialFit,
    _fit,
    _histogram,
    _label_pixels,
    _nearest_fit,
    _opaque_pixels,
    _Pixels,
    _spatial_labels,
    apply_palette,
    apply_spatial,
    choose_k,
    color_histogram,
    default_n_init,
    fit_palette,
    fit_spatial,
    merge_small_regions,
)
from kmseg._validate import as_generator

__all__ = ["COLOR_SPACES", "ColorHistogram", "ColorSpace", "MergedRegions", "PaletteFit", "Segmentation",
           "SpatialFit", "apply_palette", "apply_spatial", "choose_k", "color_histogram", "fit_palette",
           "fit_spatial", "merge_small_regions", "segment", "summarize"]


@_deadline.within
def segment(
    image: ImageSource,
    k: int | str | None = None,
    *,
    max_iter: int = 300,
    tol: float = 1e-4,
    n_init: int | None = None,
    seed: int | np.random.Generator | None = None,
    color_space: ColorSpace = "rgb",
    max_pixels: int | None = None,
    spatial_weight: float = 0.0,
    fit_size: int = 256,
    min_region: int = 0,
    target_psnr: float | None = None,
    dither: bool = False,
    palette: Any = None,
    deadline: Deadline | float | None = None,
) -> Segmentation:
    """Segment an image by k-means clustering of its pixels' colours.

    The clustering is exact k-means over every (non-transparent) pixel: it
    runs on the image's distinct colours weighted by their pixel counts,
    which has the same optimum, and every pixel gets its label by a lookup
    from its colour.

    Parameters
    ----------
    image : path, bytes, binary file, PIL.Image.Image, ndarray or LoadedImage
        See :func:`load_image`.
    DeadlineExceeded
        ``deadline`` expired or was cancelled before the work was done.
    k : int or "auto"
        Number of clusters, 1 to 256. An image with fewer distinct colours
        gives fewer clusters (``k`` < ``k_requested``, with a note).
        "auto": the smallest K reaching ``target_psnr``, or, without a
        target, the elbow of the inertia curve over K = 1..16 (see
        ``k_curve``). May be omitted when ``palette`` gives the colours.
    max_iter : int
        Most exact Lloyd passes, 1 to 10,000.
    tol : float
        Stop when the centres' squared movement in a pass is at most ``tol``
        times the colours' mean variance (or nothing changed). Where a pass
        is cheap (distinct colours x K up to 1 million) the passes on the
        exact colours go on to ``tol`` / 100: k-means slides slowly near its
        optimum, and a pass there costs little. With ``spatial_weight`` > 0
        the mean squared movement per centre counts (hundreds of segments
        moving by a fraction of a pixel change the picture by nothing).
    n_init : int, optional
        k-means++ restarts, run on a coarse colour histogram; the best is
        refined. Default: 16 for K <= 32, down to 4 for large K; with
        ``spatial_weight`` > 0 (Lloyd on the downsampled pixels) 2 for
        K <= 32, 1 above.
    seed : int, numpy.random.Generator or None
        Randomness; a fixed seed gives identical results. None draws one,
        reported in ``Segmentation.seed``.
    color_space : {"rgb", "lab", "oklab"}
        Space the distances are measured in (CIELAB: sRGB, D65; OKLab:
        Björn Ottosson's, 2020). The palette is RGB and the quality figures
        (PSNR, CIEDE2000) are the same whichever space clustered.
    max_pixels : int, optional
        Largest image accepted (default ``DEFAULT_LIMITS.max_pixels``).
    spatial_weight : float
        0 to 100. Above 0, pixel position is clustered beside colour:
        crossing the image's width counts ``spatial_weight`` times as much
        as going from black to white. Fit on a copy downsampled to
        ``fit_size``, then every pixel is assigned to its nearest centre and
        every cluster made one connected region (its other fragments join
        the neighbouring segment they share the longest border with);
        ``inertia`` is then over all pixels in the joint space.
    fit_size : int
        Longest side, 16 to 4096, of the copy fitted when ``spatial_weight`` > 0.
    min_region : int
        0 to ``max_pixels``. Connected regions (4-connectivity) smaller than
        this many pixels take the label of the neighbour they share most
        border with; ``regions`` reports how many remain.
    target_psnr : float, optional
        With ``k="auto"``: the PSNR (dB, 1 to 100) to reach.
    dither : bool
        Floyd-Steinberg dither the picture outputs (``to_image``,
        ``to_bytes``, ``save``); the labels are not dithered.
    palette : (n, 3) array, palette file path, or image source, optional
        Map every pixel to the nearest of these colours instead of fitting
        (``.json``, ``.gpl``, ``.css`` or ``.txt`` file; see
        :func:`read_palette`). An image is segmented with ``k`` first
        and its palette used.
    deadline : kmseg.Deadline or float, optional
        Stop the work once this deadline expires or is cancelled (seconds:
        a deadline that starts now). The work checks it between its passes.

    Returns
    -------
    Segmentation

    Raises
    ------
    InvalidParameterError
        A parameter is out of range; the message names it and the range.
    ImageDecodeError, UnsupportedFormatError, ImageTooLargeError
        See :func:`load_image`.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((2, 2, 3), np.uint8); img[0, 0] = (255, 0, 0)
    >>> seg = segment(img, 2, seed=1)
    >>> seg.k, int(seg.counts.sum()), seg.inertia
    (2, 4, 0.0)
    """
    start = time.perf_counter()
    run = _checked_run(k, max_iter, tol, n_init, seed, color_space, max_pixels, spatial_weight, fit_size,
                       min_region, target_psnr, dither, palette)
    img = load_image(image, max_pixels=run.max_pixels)
    steps = dict(max_iter=run.max_iter, tol=run.tol, n_init=run.n_init, seed=run.rng, color_space=run.color_space)
    hist: ColorHistogram | None = None
    if run.spatial_weight > 0:
        fit: PaletteFit | SpatialFit = fit_spatial(img, run.k, run.spatial_weight, fit_size=run.fit_size, **steps)
        labels, inertia = _spatial_labels(img, fit)
        notes = [*img.notes, *fit.notes]
    else:
        hist = color_histogram(img)
        _deadline.check()
        if run.given is not None:
            fit = _nearest_fit(hist, run.given, run.color_space)
        elif run.k == "auto":
            fit = choose_k(hist, target_psnr=run.target_psnr, **steps)
        else:
            fit = fit_palette(hist, run.k, **steps)
        labels, inertia = apply_palette(hist, fit), fit.inertia
        _deadline.check()
        notes = [*img.notes, *hist.notes, *fit.notes]
    merged = None
    if run.min_region:
        merged = merge_small_regions(labels, run.min_region)
        if isinstance(fit, SpatialFit):
            inertia = _spatial.assign(img.rgb, fit._opaque, fit._joint, fit._scale, fit.color_space,
                                      merged.labels)[1]
    quality = _quality_pairs(img, hist, fit, labels, merged, inertia)
    return Segmentation(
        labels=labels if merged is None else merged.labels,
        palette=fit.palette,
        centers=np.asarray(fit.centers, dtype=np.float64),
        counts=quality.counts,
        inertia=float(quality.inertia),
        n_iter=int(fit.n_iter),
        converged=bool(fit.converged),
        k_requested=fit.k_requested,
        color_space=run.color_space,
        seed=int(run.seed),
        alpha=img.alpha,
        notes=tuple(notes),
        seconds=time.perf_counter() - start,
        params=run.params(),
        _colors=quality.colors,
        _weights=quality.weights,
        _color_labels=quality.labels,
        _rgb=img.rgb if run.dither else None,
        dither=run.dither,
        spatial_weight=run.spatial_weight,
        positions=fit.positions if isinstance(fit, SpatialFit) else None,
        regions=None if merged is None else merged.regions,
        regions_before=None if merged is None else merged.regions_before,
        k_curve=getattr(fit, "k_curve", None),
    )


@dataclass(frozen=True)
class _Run:
    """The options of one :func:`segment` call, checked, with the seed drawn
    and the palette to transfer (``given``) read or fitted."""

    k: Any
    given: np.ndarray | None
    max_iter: int
    tol: float
    n_init: int | None
    color_space: str
    max_pixels: int | None
    spatial_weight: float
    fit_size: int
    min_region: int
    target_psnr: float | None
    dither: bool
    seed: int
    rng: np.random.Generator

    def params(self) -> dict[str, Any]:
        """The parameters of the run, enough to repeat it (:attr:`Segmentation.params`)."""
        params: dict[str, Any] = {"k": self.k, "max_iter": self.max_iter, "tol": self.tol, "n_init": self.n_init,
                                  "seed": self.seed, "color_space": self.color_space}
        if self.given is not None:
            del params["k"]
            params["palette"] = self.given.tolist()
        if self.spatial_weight > 0:
            params.update(spatial_weight=self.spatial_weight, fit_size=self.fit_size)
        if self.min_region:
            params["min_region"] = self.min_region
        if self.target_psnr is not None:
            params["target_psnr"] = self.target_psnr
        if self.dither:
            params["dither"] = True
        return params


def _checked_run(k, max_iter, tol, n_init, seed, color_space, max_pixels, spatial_weight, fit_size, min_region,
                 target_psnr, dither, palette) -> _Run:
    """:func:`segment`'s options checked by the option table and together."""
    given = None
    k = options.validate("k", k)
    if palette is not None and _transfer.is_palette_source(palette):
        given = _transfer.palette_colors(palette)
    else:
        if k is None:
            raise InvalidParameterError(
                f"k must be {options.get('k').describe()} (it may be omitted only with palette=)", param="k")
        if palette is not None and k == "auto":
            raise InvalidParameterError("k must be a whole number when palette is an image to fit", param="k")
    max_iter = options.validate("max_iter", max_iter)
    tol = options.validate("tol", tol)
    n_init = options.validate("n_init", n_init)
    color_space = options.validate("color_space", color_space)
    max_pixels = options.validate("max_pixels", max_pixels)
    spatial_weight = options.validate("spatial_weight", spatial_weight)
    if n_init is None and isinstance(k, int):
        n_init = _spatial.default_n_init(k) if spatial_weight > 0 else default_n_init(k)
    fit_size = options.validate("fit_size", fit_size)
    min_region = options.validate("min_region", min_region)
    target_psnr = options.validate("target_psnr", target_psnr)
    if target_psnr is not None and k != "auto":
        raise InvalidParameterError("target_psnr is used only with k='auto'", param="target_psnr")
    dither = options.validate("dither", dither)
    if spatial_weight > 0 and (k == "auto" or given is not None or palette is not None):
        raise InvalidParameterError(
            "spatial_weight above 0 needs a whole-number k (not 'auto', and not with palette)",
            param="spatial_weight")
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**31))
    elif seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    else:
        seed = options.validate("seed", seed)
    rng = as_generator(seed)
    if palette is not None and given is None:
        given = fit_palette(palette, k, max_iter=max_iter, tol=tol, n_init=n_init, seed=int(rng.integers(2**31)),
                            color_space=color_space, max_pixels=max_pixels).palette
    return _Run(k, given, max_iter, tol, n_init, color_space, max_pixels, spatial_weight, fit_size, min_region,
                target_psnr, dither, seed, rng)


# ------------------------------------------------------------------ quality figures


class _Quality(NamedTuple):
    colors: np.ndarray
    weights: np.ndarray
    labels: np.ndarray
    counts: np.ndarray
    inertia: float


def _quality_pairs(img: LoadedImage, hist: ColorHistogram | None, fit: Any, labels: np.ndarray,
                   merged: MergedRegions | None, inertia: float) -> _Quality:
    """The distinct (colour, label) pairs of the opaque pixels and their
    counts, on which :class:`Segmentation` computes its quality figures; the
    cluster sizes; the inertia, corrected when merging moved pixels."""
    k = len(fit.palette)
    if hist is not None and merged is None:  # a pixel's label is its colour's
        used = hist._used
        colors, weights, color_labels = hist.colors[used], hist.counts[used], fit._color_labels
    elif hist is not None:  # min_region moved a few pixels off their colour's label
        assert merged is not None
        used = hist._used
        colors, weights, color_labels, was, where = _moved_pairs(
            hist._pixels, _opaque_pixels(img)[0], labels, merged.labels, hist._codes[used], hist.colors[used],
            hist.counts[used], fit._color_labels)
        _deadline.check()
        # The inertia against the same centres changes only at the moved pixels (the last pairs).
        moved = slice(color_labels.size - was.size, None)
        if fit.color_space in hist._features:  # the colours' coordinates, computed for the fit
            Y, at = hist._in(fit.color_space), where if isinstance(used, slice) else np.flatnonzero(used)[where]
        else:
            Y, at = to_space(fit.color_space)(colors[moved]), np.arange(was.size)
        inertia += _regions_engine.moved_inertia(np.ascontiguousarray(Y, dtype=np.float64), at,
                                                 np.ascontiguousarray(fit.centers, dtype=np.float64),
                                                 color_labels[moved], was, weights[moved])
    else:
        final = labels if merged is None else merged.labels
        colors, weights, color_labels = _pairs(_colorfit.pixel_codes(img.rgb.reshape(-1, 3)), final.reshape(-1),
                                               _opaque_pixels(img)[0])
    counts = np.bincount(color_labels, weights=weights, minlength=k).astype(np.int64)
    return _Quality(colors, weights, color_labels, counts, inertia)


def _pairs(codes: np.ndarray, labels: np.ndarray, opaque: np.ndarray | None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (colour, label) pairs of the opaque pixels: colours (n, 3)
    uint8, pixel counts (float64) and labels, for the quality figures when a
    pixel's label is not a function of its colour."""
    key = codes.astype(np.uint64) << np.uint64(8) | labels.astype(np.uint64)
    if opaque is not None:
        key = key[opaque]
    uniq, n = np.unique(key, return_counts=True)
    return (_colorfit.codes_to_rgb((uniq >> np.uint64(8)).astype(np.uint32)), n.astype(np.float64),
            (uniq & np.uint64(255)).astype(np.uint8))


def _moved_pairs(pixels: _Pixels, opaque: np.ndarray | None, old: np.ndarray, new: np.ndarray,
                 codes: np.ndarray, colors: np.ndarray, weights: np.ndarray, color_labels: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_pairs` after some pixels changed label (``old`` -> ``new``),
    from the pairs by colour (sorted ``codes``, their ``colors``, opaque
    pixel counts and labels): those less the moved pixels, then the moved
    pixels' own pairs, whose former labels come fourth and the index of
    their colour in ``codes`` fifth. Only the moved pixels are looked at; a
    (colour, label) pair may appear twice, with the pixels split between the
    entries."""
    keys, n = _regions.moved_pixels(pixels.bands(), old, new, opaque)
    where, left = _regions.moved_from(codes, keys, n, weights)
    keep = left > 0
    color_labels = np.asarray(color_labels)
    return (np.concatenate([_rows(colors, keep), _colorfit.codes_to_rgb(keys >> np.uint32(8))]),
            np.concatenate([left[keep], n.astype(np.float64)]),
            np.concatenate([color_labels[keep], (keys & np.uint32(255)).astype(np.uint8)]),
            np.take(color_labels, where), where)


def _rows(colors: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``colors[keep]`` for (n, 3) uint8 colours, a row as one 3-byte item (several times faster)."""
    row = np.dtype((np.void, 3))
    return np.ascontiguousarray(colors).view(row).reshape(-1)[keep].view(np.uint8).reshape(-1, 3)
