"""The steps :func:`kmseg.segment` is made of, public so that they may also
be called alone (scikit-image style):

- :func:`color_histogram`: an image's distinct colours and their pixel counts;
- :func:`fit_palette`: k-means of those colours for one K;
- :func:`choose_k`: the same with K chosen (the elbow, or a target PSNR);
- :func:`apply_palette`: every pixel labelled with its colour's cluster;
- :func:`fit_spatial` and :func:`apply_spatial`: clusters of colour and
  position, made into K connected segments;
- :func:`merge_small_regions`: small connected regions joined to a neighbour.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, NamedTuple

import numpy as np

from kmseg.features import _autok, _regions, _spatial, _transfer
from kmseg.engine import _colorfit, _kmeans
from kmseg import options
from kmseg.features._color import COLOR_SPACES, from_space, to_space
from kmseg.errors import InvalidParameterError
from kmseg.io._image import ImageSource, LoadedImage, load_image
from kmseg._parallel import parallel_map, serial, threads
from kmseg._validate import as_generator
import kmseg.engine._kernels as _kernels

__all__ = ["COLOR_SPACES", "ColorHistogram", "ColorSpace", "MergedRegions", "PaletteFit", "SpatialFit",
           "apply_palette", "apply_spatial", "choose_k", "color_histogram", "default_n_init", "fit_palette",
           "fit_spatial", "merge_small_regions"]

ColorSpace = Literal["rgb", "lab", "oklab"]


# ------------------------------------------------------------------ colour steps


@dataclass(frozen=True, eq=False)
class ColorHistogram:
    """An image's distinct colours and how many opaque pixels have each: what
    the colour k-means runs on (the same optimum as over every pixel, from far
    fewer points). Made by :func:`color_histogram`.

    Attributes
    ----------
    image : LoadedImage
        The image counted.
    colors : (n, 3) uint8
        Every distinct colour of the image, opaque or not.
    counts : (n,) float64
        Opaque pixels of every colour (0 for a colour seen only under fully
        transparent pixels, which take no part in a fit).
    notes : tuple of str
        What happened on the way (every pixel transparent, ...).
    """

    image: LoadedImage
    colors: np.ndarray
    counts: np.ndarray
    notes: tuple[str, ...] = ()
    _codes: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    _pixels: _Pixels = field(default=None, repr=False)  # type: ignore[assignment]
    _features: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @cached_property
    def _used(self) -> Any:
        """The colours seen in opaque pixels: a mask, or a slice of all when they all are (views, not copies)."""
        used = self.counts > 0
        return slice(None) if used.all() else used

    def _in(self, color_space: str) -> np.ndarray:
        """(n, 3) float64: the colours in ``color_space`` (computed once)."""
        if color_space not in self._features:
            self._features[color_space] = to_space(color_space)(self.colors)
        return self._features[color_space]


def color_histogram(image: ImageSource, *, max_pixels: int | None = None) -> ColorHistogram:
    """Count an image's distinct colours.

    Parameters
    ----------
    image : path, bytes, binary file, PIL.Image.Image, ndarray or LoadedImage
        See :func:`load_image`.
    max_pixels : int, optional
        Largest image accepted (default ``DEFAULT_LIMITS.max_pixels``).

    Returns
    -------
    ColorHistogram
        To pass to :func:`fit_palette`, :func:`choose_k` and
        :func:`apply_palette` in place of the image, so it is counted once.

    Examples
    --------
    >>> import numpy as np, kmseg
    >>> image = np.zeros((2, 3, 3), np.uint8); image[0, 0] = (255, 0, 0)
    >>> hist = kmseg.color_histogram(image)
    >>> hist.colors.tolist(), hist.counts.tolist()
    ([[0, 0, 0], [255, 0, 0]], [5.0, 1.0])
    """
    img = load_image(image, max_pixels=options.validate("max_pixels", max_pixels))
    if img.alpha is None or not img.alpha.any():
        opaque, notes = None, _opaque_pixels(img)[1] if img.alpha is not None else ()
    else:  # alpha itself, compared band by band in _histogram: a full mask would cost a byte a pixel
        opaque, notes = img.alpha.reshape(-1), ()
    pixels = _Pixels(img)
    distinct, weights = _histogram(pixels, opaque)
    return ColorHistogram(img, _colorfit.codes_to_rgb(distinct), weights, notes, distinct, pixels)


def _opaque_pixels(img: LoadedImage) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """The flat mask of the pixels that take part (None: all), and a note when none would."""
    opaque = None if img.alpha is None else img.alpha.reshape(-1) > 0
    if opaque is not None and not opaque.any():
        return None, ("every pixel is fully transparent; colours clustered regardless",)
    return opaque, ()


@dataclass(frozen=True, eq=False)
class PaletteFit:
    """Cluster centres of an image's colours, from :func:`fit_palette` or
    :func:`choose_k`; :func:`apply_palette` labels the pixels with them.

    Attributes
    ----------
    centers : (k, 3) float64
        Cluster centres in ``color_space``.
    palette : (k, 3) uint8
        The centres as RGB rounded to 8 bits.
    color_space : {"rgb", "lab", "oklab"}
    inertia : float
        Sum over the opaque pixels of the squared distance to their centre.
    n_iter : int
        Exact Lloyd passes over all colours (0 for a given palette).
    converged : bool
    k_requested : int
        The K asked for (chosen, with :func:`choose_k`).
    notes : tuple of str
    k_curve : tuple of (K, inertia, PSNR) or None
        The fits :func:`choose_k` tried.
    histogram : ColorHistogram
        The colours fitted.
    """

    centers: np.ndarray
    palette: np.ndarray
    color_space: str
    inertia: float
    n_iter: int
    converged: bool
    k_requested: int
    notes: tuple[str, ...] = ()
    k_curve: tuple[tuple[int, float, float], ...] | None = None
    histogram: ColorHistogram | None = field(default=None, repr=False)
    # Cluster of every colour of the histogram seen in an opaque pixel.
    _color_labels: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    @property
    def k(self) -> int:
        """Number of clusters found."""
        return int(self.palette.shape[0])


def fit_palette(
    image: ImageSource | ColorHistogram,
    k: int,
    *,
    max_iter: int = 300,
    tol: float = 1e-4,
    n_init: int | None = None,
    seed: int | np.random.Generator | None = None,
    color_space: ColorSpace = "rgb",
    max_pixels: int | None = None,
) -> PaletteFit:
    """K colours for an image: k-means of its distinct colours weighted by
    their pixel counts (exact over every opaque pixel).

    Parameters
    ----------
    image : image source or ColorHistogram
        Any source :func:`load_image` takes, or :func:`color_histogram`'s
        count of one.
    k : int
        Clusters, 1 to 256; fewer are found (with a note) when the image has
        fewer distinct colours.
    max_iter, tol, n_init, seed, color_space, max_pixels
        As in :func:`segment`.

    Returns
    -------
    PaletteFit

    Raises
    ------
    InvalidParameterError
        A parameter out of range (``k="auto"``: use :func:`choose_k`).

    Examples
    --------
    >>> import numpy as np, kmseg
    >>> image = np.zeros((4, 4, 3), np.uint8); image[:, 2:] = (200, 30, 30)
    >>> fit = kmseg.fit_palette(image, 2, seed=0)
    >>> sorted(map(tuple, fit.palette.tolist())), fit.inertia
    ([(0, 0, 0), (200, 30, 30)], 0.0)
    """
    k = options.validate("k", k)
    if not isinstance(k, int):
        raise InvalidParameterError(f"k must be a whole number {options.get('k').range.words()} "
                                    f"(choose_k picks one), got {k!r}", param="k")
    hist, max_iter, tol, n_init, rng, color_space = _fit_inputs(image, max_iter, tol, n_init, seed, color_space,
                                                                max_pixels)
    notes: list[str] = []
    used = hist._used
    centers, color_labels, inertia, n_iter, converged, palette = _fit(
        hist._codes, hist._in(color_space), hist.colors, hist.counts, used, k, max_iter, tol,
        n_init or default_n_init(k), rng, color_space, notes)
    return PaletteFit(centers, palette, color_space, float(inertia), int(n_iter), bool(converged), k, tuple(notes),
                      histogram=hist, _color_labels=color_labels)


def choose_k(
    image: ImageSource | ColorHistogram,
    *,
    target_psnr: float | None = None,
    max_iter: int = 300,
    tol: float = 1e-4,
    n_init: int | None = None,
    seed: int | np.random.Generator | None = None,
    color_space: ColorSpace = "rgb",
    max_pixels: int | None = None,
) -> PaletteFit:
    """Choose K for an image and fit it: the smallest K reaching
    ``target_psnr``, or, without a target, the elbow of the inertia curve
    over K = 1..16 (:func:`elbow_of`). What ``segment(image, "auto")`` does.

    Parameters
    ----------
    image : image source or ColorHistogram
    target_psnr : float, optional
        PSNR (dB, 1 to 100) to reach.
    max_iter, tol, n_init, seed, color_space, max_pixels
        As in :func:`segment`.

    Returns
    -------
    PaletteFit
        With ``k_curve``: every K tried, its inertia and PSNR.

    Examples
    --------
    >>> import numpy as np, kmseg
    >>> image = np.zeros((6, 6, 3), np.uint8); image[:, 2:4] = (200, 30, 30); image[:, 4:] = (0, 0, 250)
    >>> fit = kmseg.choose_k(image, target_psnr=40, seed=0)
    >>> fit.k, [row[0] for row in fit.k_curve]
    (3, [1, 2, 3])
    """
    target_psnr = options.validate("target_psnr", target_psnr)
    hist, max_iter, tol, n_init, rng, color_space = _fit_inputs(image, max_iter, tol, n_init, seed, color_space,
                                                                max_pixels)
    used = hist._used
    weights = hist.counts[used]
    if weights.size <= 1:
        fit = fit_palette(hist, 1, max_iter=max_iter, tol=tol, n_init=n_init, seed=rng, color_space=color_space)
        return _replace_fit(fit, k_curve=((1, 0.0, float("inf")),),
                            notes=("K chosen automatically: 1 (a single colour)", *fit.notes))
    to_rgb = from_space(color_space)
    with serial(weights.size * (_autok.K_MAX if target_psnr is None else _autok.K_LIMIT) <= _SERIAL_WORK):
        auto = _autok.choose(hist._codes[used], hist._in(color_space)[used], weights, hist.colors[used], to_rgb,
                             max_iter, tol, (lambda kk: default_n_init(kk) if n_init is None else n_init), rng,
                             target_psnr, coarse=color_space == "rgb")
    notes = []
    if target_psnr is not None and auto.curve[-1][2] < target_psnr and auto.k == auto.curve[-1][0]:
        notes.append(f"target PSNR {target_psnr:g} dB not reached with K up to {auto.k}")
    notes.append(f"K chosen automatically: {auto.k}")
    palette = np.clip(np.rint(to_rgb(auto.centers)), 0, 255).astype(np.uint8)
    return PaletteFit(auto.centers, palette, color_space, float(auto.inertia), int(auto.n_iter),
                      bool(auto.converged), auto.k, tuple(notes), auto.curve, hist, auto.labels)


def _fit_inputs(image, max_iter, tol, n_init, seed, color_space, max_pixels):
    """The histogram and the checked options of a fit."""
    hist = image if isinstance(image, ColorHistogram) else color_histogram(image, max_pixels=max_pixels)
    return (hist, options.validate("max_iter", max_iter), options.validate("tol", tol),
            options.validate("n_init", n_init), as_generator(seed), options.validate("color_space", color_space))


def _replace_fit(fit: PaletteFit, **changes: Any) -> PaletteFit:
    from dataclasses import replace

    return replace(fit, **changes)


def _nearest_fit(hist: ColorHistogram, palette_rgb: np.ndarray, color_space: str,
                 centers: np.ndarray | None = None) -> PaletteFit:
    """The fit of given colours: every colour goes to the nearest (first on ties)."""
    if centers is None:
        centers = to_space(color_space)(palette_rgb)
    used = hist._used
    color_labels, dist = _transfer.nearest(hist._in(color_space)[used], centers)
    return PaletteFit(centers, palette_rgb, color_space, float(hist.counts[used] @ dist), 0, True,
                      int(palette_rgb.shape[0]), histogram=hist, _color_labels=color_labels)


def apply_palette(
    image: ImageSource | ColorHistogram,
    palette: PaletteFit | Any,
    *,
    color_space: ColorSpace = "rgb",
    max_pixels: int | None = None,
) -> np.ndarray:
    """Label every pixel with its colour's cluster.

    Parameters
    ----------
    image : image source or ColorHistogram
    palette : PaletteFit or (n, 3) colours 0-255
        A fit (its centres and colour space; the histogram it was fitted on
        keeps the fit's own labels), or colours: every pixel goes to the
        nearest, measured in ``color_space`` (first on ties).
    color_space : {"rgb", "lab", "oklab"}
        Where the distances to given colours are measured (a fit has its own).
    max_pixels : int, optional

    Returns
    -------
    labels : (H, W) uint8

    Examples
    --------
    >>> import numpy as np, kmseg
    >>> image = np.array([[[10, 10, 10], [250, 0, 0]]], np.uint8)
    >>> kmseg.apply_palette(image, [(255, 0, 0), (0, 0, 0)]).tolist()
    [[1, 0]]
    """
    hist = image if isinstance(image, ColorHistogram) else color_histogram(image, max_pixels=max_pixels)
    if isinstance(palette, PaletteFit):
        fit = palette if palette.histogram is hist else _nearest_fit(hist, palette.palette, palette.color_space,
                                                                     palette.centers)
    else:
        fit = _nearest_fit(hist, _transfer.palette_colors(palette), options.validate("color_space", color_space))
    used = hist._used
    if isinstance(used, slice):
        all_labels = np.asarray(fit._color_labels, dtype=np.uint8)
    else:  # some colours are seen only in transparent pixels
        all_labels = np.empty(hist._codes.size, dtype=np.uint8)
        all_labels[used] = fit._color_labels
        all_labels[~used] = _kmeans.nearest(hist._in(fit.color_space)[~used], fit.centers)[0]
    return _label_pixels(hist._pixels, hist._codes, all_labels).reshape(hist.image.height, hist.image.width)


# ------------------------------------------------------------------ spatial steps


@dataclass(frozen=True, eq=False)
class SpatialFit:
    """Clusters of colour and position, from :func:`fit_spatial`;
    :func:`apply_spatial` makes them connected segments.

    Attributes
    ----------
    centers : (k, 3) float64
        Colour part of the centres, in ``color_space``.
    positions : (k, 2) float64
        The centres' (x, y) pixel positions.
    palette : (k, 3) uint8
    color_space : {"rgb", "lab", "oklab"}
    spatial_weight : float
    n_iter : int
    converged : bool
    k_requested : int
    notes : tuple of str
    """

    centers: np.ndarray
    positions: np.ndarray
    palette: np.ndarray
    color_space: str
    spatial_weight: float
    n_iter: int
    converged: bool
    k_requested: int
    notes: tuple[str, ...] = ()
    _joint: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]  # (k, 5) colour + scaled position
    _scale: float = 1.0
    _opaque: np.ndarray | None = field(default=None, repr=False)

    @property
    def k(self) -> int:
        """Number of clusters found."""
        return int(self.palette.shape[0])


def fit_spatial(
    image: ImageSource,
    k: int,
    spatial_weight: float,
    *,
    fit_size: int = 256,
    max_iter: int = 300,
    tol: float = 1e-4,
    n_init: int | None = None,
    seed: int | np.random.Generator | None = None,
    color_space: ColorSpace = "rgb",
    max_pixels: int | None = None,
) -> SpatialFit:
    """k-means of the pixels' colour and position, fitted on a copy of the
    image downsampled to ``fit_size`` (see ``spatial_weight`` in :func:`segment`).

    Parameters
    ----------
    image : image source
    k : int
        Clusters, 1 to 256.
    spatial_weight : float
        Above 0, to 100: crossing the image's width counts this many times as
        much as going from black to white.
    fit_size, max_iter, tol, n_init, seed, color_space, max_pixels
        As in :func:`segment` (``n_init`` default: 2 restarts up to K = 32, 1 above).

    Returns
    -------
    SpatialFit

    Examples
    --------
    >>> import numpy as np, kmseg
    >>> image = np.zeros((8, 8, 3), np.uint8); image[:, 4:] = 255
    >>> fit = kmseg.fit_spatial(image, 2, 1.0, seed=0)
    >>> labels = kmseg.apply_spatial(image, fit)
    >>> len(np.unique(labels[:, :4])), len(np.unique(labels[:, 4:])), fit.k
    (1, 1, 2)
    """
    k = options.validate("k", k)
    if not isinstance(k, int):
        raise InvalidParameterError(f"k must be a whole number {options.get('k').range.words()}, got {k!r}",
                                    param="k")
    spatial_weight = options.validate("spatial_weight", spatial_weight)
    if spatial_weight <= 0:
        raise InvalidParameterError(f"spatial_weight must be above 0 for a spatial fit, got {spatial_weight}",
                                    param="spatial_weight")
    n_init = options.validate("n_init", n_init)
    color_space = options.validate("color_space", color_space)
    img = load_image(image, max_pixels=options.validate("max_pixels", max_pixels))
    opaque, notes = _opaque_pixels(img)
    s = _spatial.scale(spatial_weight, img.width, color_space)
    joint, n_iter, converged, _ = _spatial.fit(
        img.rgb, img.alpha if opaque is not None else None, k, s, options.validate("fit_size", fit_size),
        color_space, options.validate("max_iter", max_iter), options.validate("tol", tol),
        _spatial.default_n_init(k) if n_init is None else n_init, as_generator(seed))
    if joint.shape[0] < k:
        notes += (f"asked for K={k}, the downsampled image has only {joint.shape[0]} distinct points",)
    centers = joint[:, :3]
    to_rgb = from_space(color_space)
    palette = np.clip(np.rint(to_rgb(centers)), 0, 255).astype(np.uint8)
    return SpatialFit(centers, joint[:, 3:] / s, palette, color_space, spatial_weight, int(n_iter), bool(converged),
                      k, notes, joint, s, opaque)


def apply_spatial(image: ImageSource, fit: SpatialFit, *, max_pixels: int | None = None) -> np.ndarray:
    """Connected segments of an image from a :func:`fit_spatial` fit of it:
    every pixel to its nearest centre, then every cluster made one connected
    region (its other fragments join the neighbour they share the longest
    border with).

    Returns
    -------
    labels : (H, W) uint8
    """
    img = load_image(image, max_pixels=options.validate("max_pixels", max_pixels))
    return _spatial_labels(img, fit)[0]


def _spatial_labels(img: LoadedImage, fit: SpatialFit) -> tuple[np.ndarray, float]:
    """:func:`apply_spatial`'s labels and their inertia in the joint space."""
    labels, inertia, _ = _spatial.segments(img.rgb, _opaque_pixels(img)[0], fit._joint, fit._scale, fit.color_space)
    return labels, inertia


# ------------------------------------------------------------------ regions


class MergedRegions(NamedTuple):
    """What :func:`merge_small_regions` gives."""

    labels: np.ndarray
    """(H, W): the new label map."""
    regions: int
    """Connected regions left."""
    regions_before: int
    """Connected regions before merging."""


def merge_small_regions(labels: np.ndarray, min_region: int) -> MergedRegions:
    """Give every connected region (4-connectivity) smaller than
    ``min_region`` pixels the label of the neighbouring region it shares the
    longest border with, until none is left.

    Parameters
    ----------
    labels : (H, W) integer array
        Not modified.
    min_region : int
        Smallest region kept, in pixels (0 keeps every region).

    Returns
    -------
    MergedRegions
        ``(labels, regions, regions_before)``.

    Examples
    --------
    >>> import numpy as np, kmseg
    >>> labels = np.zeros((3, 3), np.uint8); labels[1, 1] = 1
    >>> merged = kmseg.merge_small_regions(labels, 2)
    >>> merged.labels.tolist(), merged.regions, merged.regions_before
    ([[0, 0, 0], [0, 0, 0], [0, 0, 0]], 1, 2)
    """
    out, before, after = _regions.merge_small(labels, options.validate("min_region", min_region))
    return MergedRegions(out, after, before)


def default_n_init(k: int) -> int:
    """Restarts used when ``n_init`` is None: many for small K, where they
    pay most and cost least, fewer for large K."""
    return int(min(16, max(4, 512 // k)))


def _fit(distinct, Y, colors, weights, used, k, max_iter, tol, n_init, rng, color_space, notes):
    """The histogram k-means of :func:`segment` for one K: centres, labels of
    the used colours (``used``: a mask or a slice), inertia, iterations,
    convergence and the RGB palette."""
    m = int(weights[used].size if isinstance(used, slice) else used.sum())
    if m <= k:
        if m < k:
            notes.append(f"asked for K={k}, the image has only {m} distinct colours: found {m}")
        return Y[used], np.arange(m, dtype=np.uint8), 0.0, 0, True, colors[used]
    Yu, wu = Y[used], weights[used]
    if k == 1:
        centers = (wu @ Yu / wu.sum())[None, :]
        color_labels = np.zeros(m, dtype=np.uint8)
        diff = Yu - centers[0]
        inertia, n_iter, converged = float(wu @ np.einsum("ij,ij->i", diff, diff)), 1, True
    else:
        with serial(m * k <= _SERIAL_WORK):
            centers, color_labels, inertia, n_iter, converged = _colorfit.fit_colors(
                distinct[used], Yu, wu, k, max_iter, tol, n_init, rng, integer_centers=color_space == "rgb"
            )
    rgb_centers = from_space(color_space)(centers)
    palette = np.clip(np.rint(rgb_centers), 0, 255).astype(np.uint8)
    return centers, color_labels, inertia, n_iter, converged, palette


class _Pixels:
    """The pixels of an image (a :class:`LoadedImage`, or an (h, w, 3) uint8
    array), read in bands of whole rows, with their Morton codes made when
    first asked for (the compiled passes count and label the pixels without
    a code array). A decoded file stays as decoded: each pass converts one
    band at a time, so no full-size RGB copy is made."""

    def __init__(self, image: LoadedImage | np.ndarray) -> None:
        self._image = image if isinstance(image, LoadedImage) else LoadedImage(image)
        self.width = self._image.width
        self.size = self.width * self._image.height
        self._codes: np.ndarray | None = None

    @property
    def flat(self) -> np.ndarray:
        """(n, 3) uint8: every pixel (makes the full RGB array of a decoded image)."""
        return self._image.rgb.reshape(-1, 3)

    @property
    def codes(self) -> np.ndarray:
        """(n,) uint32: every pixel's Morton code (made once, then kept)."""
        if self._codes is None:
            self._codes = self.make_codes()
        return self._codes

    def make_codes(self) -> np.ndarray:
        """(n,) uint32: every pixel's Morton code, made band by band (a
        decoded image is not converted whole), not kept."""
        codes = np.empty(self.size, dtype=np.uint32)
        for part, read in self.bands():
            codes[part] = _colorfit.pixel_codes(read())
        return codes

    def bands(self) -> list[tuple[slice, Any]]:
        """(pixels, read) for bands of whole rows in order: the band's slice of
        the flat pixel index and a function giving its (m, 3) uint8 pixels."""
        w = self.width
        return [(slice(top * w, bottom * w), (lambda read=read: read().reshape(-1, 3)))
                for top, bottom, read in self._image._row_bands()]


#: Images up to this many pixels are labelled on the calling thread.
_SERIAL_PIXELS = 1 << 18
#: Fits of up to this many distinct colours x clusters run on the calling
#: thread: their passes take less time than starting threads.
_SERIAL_WORK = 1 << 17
#: Images up to this many pixels are counted by sorting their colour codes
#: (time and memory follow the pixels); larger ones in a table of every
#: possible colour (2**24 counts, 64 MB, whatever the image).
_SORT_PIXELS = 1 << 20


def _histogram(pixels: _Pixels, opaque: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct colour codes (of every pixel, opaque or not) and their
    opaque pixel counts (float64); ``opaque``: None (every pixel counts), a
    flat bool mask, or the flat uint8 alpha (compared band by band)."""
    if pixels.size <= _SORT_PIXELS:
        return _sorted_histogram(pixels, opaque)
    return _table_histogram(pixels, opaque)


def _sorted_histogram(pixels: _Pixels, opaque: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_histogram` by sorting the pixels' codes. With ``opaque``, a
    code is shifted up one bit with 1 below for a pixel that does not
    count: a colour's counted pixels sort just before its others."""
    codes = pixels.make_codes()
    if opaque is not None:
        codes <<= np.uint32(1)
        codes |= opaque == 0  # a bool mask or the alpha
    codes.sort()
    values, _, lengths = _runs(codes)
    if opaque is None:
        return values, lengths.astype(np.float64)
    counted = np.where(values & np.uint32(1), 0, lengths)
    distinct, first, _ = _runs(values >> np.uint32(1))
    return distinct, np.add.reduceat(counted, first).astype(np.float64)


def _runs(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The runs of equal values of a sorted array: their values, starts and lengths."""
    if ordered.size == 0:
        return ordered, np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    first = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    return ordered[first], first, np.diff(first, append=ordered.size)


def _table_histogram(pixels: _Pixels, opaque: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_histogram` in a table of every colour code (made for large images)."""
    counts = np.zeros(_colorfit.N_CODES, dtype=np.uint32)  # fewer than 2**32 pixels: see Limits
    seen = np.zeros(0 if opaque is None else _colorfit.N_CODES, dtype=np.uint32)
    everywhere = np.zeros(0, dtype=bool)
    for part, flat in _read_ahead(pixels.bands()):
        mask = everywhere if opaque is None else opaque[part]
        _kernels.histogram(flat, mask if mask.dtype == bool else mask > 0, *_colorfit.MORTON_TABLES, counts, seen)
    if opaque is None:
        return _kernels.nonzero_counts(counts)
    distinct = np.flatnonzero(seen).astype(np.uint32)
    return distinct, counts[distinct].astype(np.float64)


def _read_ahead(bands: list[tuple[slice, Any]]) -> Iterator[tuple[slice, np.ndarray]]:
    """(slice, pixels) of every band in order; with several bands the next is
    read (converted by Pillow, which releases the GIL) while the caller works
    on this one."""
    if len(bands) == 1:
        yield bands[0][0], bands[0][1]()
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kmseg-read") as reader:
        pending = reader.submit(bands[0][1])
        for i, (part, _) in enumerate(bands):
            flat = pending.result()
            if i + 1 < len(bands):
                pending = reader.submit(bands[i + 1][1])
            yield part, flat


def _label_pixels(pixels: _Pixels, distinct: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Every pixel's label, from its colour's (``labels`` of the ``distinct``
    codes, which hold every pixel's code)."""
    # Only the entries of the distinct codes are ever read: no need to zero
    # the others (16 MB, which small images would pay for on every call).
    lut = np.empty(_colorfit.N_CODES, dtype=np.uint8)
    lut[distinct] = labels
    out = np.empty(pixels.size, dtype=np.uint8)
    bands = pixels.bands()
    with serial(pixels.size <= _SERIAL_PIXELS):
        if len(bands) == 1:  # an array: split it among the threads
            flat = bands[0][1]()
            bounds = np.linspace(0, pixels.size, threads() + 1).astype(int)
            parts = [(slice(a, b), lambda a=a, b=b: flat[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        else:
            parts = bands
        parallel_map(lambda job: _kernels.label_pixels(job[1](), *_colorfit.MORTON_TABLES, lut, out[job[0]]),
                     parts)
    return out
