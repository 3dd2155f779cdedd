"""segment(): an image in, its k-means colour segmentation out."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from kmseg.features import _autok, _dither, _regions, _spatial, _transfer
from kmseg.engine import _colorfit, _kmeans
from kmseg import options
from kmseg.features._color import ciede2000, lab_to_rgb, rgb_to_lab
from kmseg.errors import InvalidParameterError
from kmseg._features import check_color
from kmseg.io._image import ImageSource, LoadedImage, atomic_write, encode_image, load_image, normalize_format
from kmseg._parallel import parallel_map, threads
from kmseg._validate import as_generator, check_int
from kmseg.features._vector import DEFAULT_TOLERANCE, labels_to_svg
from kmseg._version import __version__
import kmseg.engine._kernels as _kernels

__all__ = ["COLOR_SPACES", "ColorSpace", "Segmentation", "segment"]

ColorSpace = Literal["rgb", "lab"]
#: Colour spaces the clustering can run in.
COLOR_SPACES: tuple[str, ...] = ("rgb", "lab")


@dataclass(frozen=True, eq=False)
class Segmentation:
    """The result of :func:`segment`.

    Attributes
    ----------
    labels : (H, W) uint8
        Cluster of every pixel, 0 .. k-1.
    palette : (k, 3) uint8
        Colour of every cluster (its centre, as RGB rounded to 8 bits).
    centers : (k, 3) float64
        Cluster centres in the colour space used.
    counts : (k,) int64
        Pixels in every cluster (fully transparent pixels not counted).
    inertia : float
        Sum over the pixels of the squared distance to their centre, in the
        colour space used (0-255 scale for RGB).
    n_iter : int
        Exact Lloyd passes over all colours.
    converged : bool
        False if ``max_iter`` stopped the run.
    k_requested : int
        The K asked for; ``k`` may be smaller only when the image has fewer
        distinct colours.
    color_space : {"rgb", "lab"}
    seed : int
        Seed used (drawn at random when none was given); pass it again to
        repeat the run exactly.
    alpha : (H, W) uint8 or None
        Opacity passed through from the input.
    notes : tuple of str
        What happened on the way (EXIF rotation, fewer colours than K, ...).
    seconds : float
        Time spent in :func:`segment`.
    params : dict
        The parameters of the run, enough to repeat it.
    spatial_weight : float
        Weight of pixel position beside colour (0: colour only).
    positions : (k, 2) float64 or None
        Cluster centres' (x, y) pixel positions when ``spatial_weight`` > 0.
    regions, regions_before : int or None
        Connected regions (4-connectivity) after and before merging the
        regions smaller than ``min_region``; None when ``min_region`` is 0.
    k_curve : tuple of (K, inertia, PSNR) or None
        The fits tried when K was "auto".
    dither : bool
        Whether the picture outputs are Floyd-Steinberg dithered (the label
        map never is).
    """

    labels: np.ndarray
    palette: np.ndarray
    centers: np.ndarray
    counts: np.ndarray
    inertia: float
    n_iter: int
    converged: bool
    k_requested: int
    color_space: str
    seed: int
    alpha: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)
    spatial_weight: float = 0.0
    positions: np.ndarray | None = None
    regions: int | None = None
    regions_before: int | None = None
    k_curve: tuple[tuple[int, float, float], ...] | None = None
    dither: bool = False
    # Distinct opaque colours, their pixel counts and clusters: the quality
    # figures are computed on these, not on every pixel.
    _colors: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    _weights: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    _color_labels: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    # The original colours, kept for dithering and the boundaries overlay.
    _rgb: np.ndarray | None = field(default=None, repr=False)

    @property
    def k(self) -> int:
        """Number of clusters found."""
        return int(self.palette.shape[0])

    @property
    def width(self) -> int:
        return int(self.labels.shape[1])

    @property
    def height(self) -> int:
        return int(self.labels.shape[0])

    @property
    def shares(self) -> np.ndarray:
        """(k,) float64: fraction of the pixels in every cluster."""
        total = self.counts.sum()
        return self.counts / total if total else np.zeros(self.k)

    @cached_property
    def _errors(self) -> np.ndarray:
        diff = self._colors.astype(np.float64) - self.palette[self._color_labels]
        return np.einsum("ij,ij->i", diff, diff)

    @cached_property
    def psnr(self) -> float:
        """PSNR in dB of the segmented image against the original (inf if equal)."""
        n = self._weights.sum() * 3
        mse = float(self._weights @ self._errors) / n if n else 0.0
        return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))

    @cached_property
    def _delta_e(self) -> tuple[float, float]:
        if self._weights.sum() == 0:
            return 0.0, 0.0
        de = ciede2000(rgb_to_lab(self._colors), rgb_to_lab(self.palette)[self._color_labels])
        order = np.argsort(de, kind="stable")
        cum = np.cumsum(self._weights[order])
        p95 = de[order][min(int(np.searchsorted(cum, 0.95 * cum[-1])), de.size - 1)]
        return float(self._weights @ de / cum[-1]), float(p95)

    @property
    def delta_e_mean(self) -> float:
        """Mean CIEDE2000 difference between a pixel and its cluster's colour."""
        return self._delta_e[0]

    @property
    def delta_e_p95(self) -> float:
        """95th percentile of the CIEDE2000 difference over the pixels."""
        return self._delta_e[1]

    def mask(self, i: int) -> np.ndarray:
        """(H, W) bool: the pixels of cluster ``i``."""
        i = check_int("cluster", i, 0, self.k - 1)
        return self.labels == i

    def to_image(self) -> Image.Image:
        """The segmented image: indexed ("P") without alpha, RGBA with it.
        Floyd-Steinberg dithered to the palette when ``dither`` is set."""
        index = self.labels
        if self.dither and self._rgb is not None:
            index = _dither.dither_labels(self._rgb, self.palette)
        if self.alpha is None:
            im = Image.fromarray(index, "L")
            im.putpalette(self.palette.tobytes())
            return im
        rgba = np.empty(self.labels.shape + (4,), dtype=np.uint8)
        rgba[:, :, :3] = self.palette[index]
        rgba[:, :, 3] = self.alpha
        return Image.fromarray(rgba, "RGBA")

    def boundaries_image(self, original: ImageSource | None = None,
                         color: tuple[int, int, int] = (255, 0, 0)) -> Image.Image:
        """The segment edges drawn on the original image (RGB).

        Parameters
        ----------
        original : image source, optional
            The image that was segmented (any source :func:`load_image`
            takes); may be omitted when the segmentation kept it (``dither``).
        color : (r, g, b)
            Colour of the edges.
        """
        color = check_color("color", color)
        if original is None:
            if self._rgb is None:
                raise InvalidParameterError(
                    "boundaries_image needs the original image: pass original=", param="original")
            rgb = self._rgb.copy()
        else:
            rgb = load_image(original).rgb.copy()
            if rgb.shape[:2] != self.labels.shape:
                raise InvalidParameterError(
                    f"original must be {self.width}x{self.height} like the segmentation, "
                    f"got {rgb.shape[1]}x{rgb.shape[0]}", param="original")
        rgb[_regions.boundaries(self.labels)] = color
        return Image.fromarray(rgb, "RGB")

    def label_image(self) -> Image.Image:
        """The label map as a greyscale image whose pixel values are the labels."""
        return Image.fromarray(self.labels, "L")

    def metadata(self) -> dict[str, str]:
        """Text to store with an output: version, parameters and seed."""
        return {
            "Software": f"kmseg {__version__}",
            "kmseg-version": __version__,
            "kmseg-params": json.dumps(self.params, sort_keys=True),
        }

    def to_bytes(self, format: str = "png", quality: int | None = None) -> bytes:
        """The segmented image encoded as PNG (indexed), JPEG or WebP."""
        fmt = normalize_format(format)
        return encode_image(self.to_image(), fmt, quality, self.metadata() if fmt == "png" else None)

    def save(self, path: str | os.PathLike, format: str | None = None, quality: int | None = None) -> Path:
        """Write the segmented image atomically; the format follows the
        extension unless given. PNGs carry :meth:`metadata`."""
        fmt = normalize_format(format or (os.path.splitext(os.fspath(path))[1] or ".png"))
        return atomic_write(path, self.to_bytes(fmt, quality))

    def to_svg(self, tolerance: float = DEFAULT_TOLERANCE, *, crisp: bool | None = None) -> str:
        """The segmentation as an SVG drawing: one filled path per connected
        region (4-connectivity), grouped by cluster (``<g id="cluster-N">``),
        neighbours sharing their boundaries exactly. Transparent pixels are
        left unpainted; the picture is never dithered.

        See :func:`kmseg.labels_to_svg` for ``tolerance`` (pixels; 0 = the
        exact pixel edges) and ``crisp``.
        """
        opaque = None if self.alpha is None else self.alpha > 0
        return labels_to_svg(self.labels, self.palette, tolerance=tolerance, opaque=opaque, crisp=crisp,
                             title=f"kmseg {__version__}: K={self.k}")

    def save_svg(self, path: str | os.PathLike, tolerance: float = DEFAULT_TOLERANCE, *,
                 crisp: bool | None = None) -> Path:
        """Write :meth:`to_svg` to ``path``, atomically."""
        return atomic_write(path, self.to_svg(tolerance, crisp=crisp).encode())

    def label_bytes(self) -> bytes:
        """The label map encoded as a greyscale PNG (pixel value = label)."""
        return encode_image(self.label_image(), "png", None, self.metadata())

    def save_labels(self, path: str | os.PathLike) -> Path:
        """Write the label map as a PNG, atomically."""
        return atomic_write(path, self.label_bytes())

    def recolor(self, palette: np.ndarray) -> Segmentation:
        """The same segmentation painted with another (k, 3) palette."""
        new = np.asarray(palette)
        if new.shape != (self.k, 3):
            raise InvalidParameterError(
                f"palette must have shape ({self.k}, 3), got {new.shape}", param="palette"
            )
        if not np.issubdtype(new.dtype, np.integer) or new.min() < 0 or new.max() > 255:
            raise InvalidParameterError("palette values must be integers 0-255", param="palette")
        return replace(self, palette=new.astype(np.uint8))

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures of the run."""
        psnr = self.psnr
        out: dict[str, Any] = {
            "k_requested": self.k_requested,
            "k": self.k,
            "width": self.width,
            "height": self.height,
            "color_space": self.color_space,
            "seed": self.seed,
            "inertia": self.inertia,
            "psnr": None if np.isinf(psnr) else round(psnr, 4),
            "delta_e_mean": round(self.delta_e_mean, 4),
            "delta_e_p95": round(self.delta_e_p95, 4),
            "n_iter": self.n_iter,
            "converged": self.converged,
            "seconds": round(self.seconds, 4),
            "palette": ["#%02x%02x%02x" % tuple(int(v) for v in c) for c in self.palette],
            "counts": [int(c) for c in self.counts],
            "shares": [float(s) for s in self.shares],
            "notes": list(self.notes),
        }
        if self.spatial_weight:
            out["spatial_weight"] = self.spatial_weight
        if self.regions is not None:
            out["regions"], out["regions_before"] = self.regions, self.regions_before
        if self.k_curve is not None:
            out["k_curve"] = [
                {"k": k, "inertia": i, "psnr": None if np.isinf(p) else round(p, 4)} for k, i, p in self.k_curve
            ]
        if self.dither:
            out["dither"] = True
        return out


def default_n_init(k: int) -> int:
    """Restarts used when ``n_init`` is None: many for small K, where they
    pay most and cost least, fewer for large K."""
    return int(min(16, max(4, 512 // k)))


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
    color_space : {"rgb", "lab"}
        Space the distances are measured in (CIELAB: sRGB, D65).
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
        given = segment(palette, k, max_iter=max_iter, tol=tol, n_init=n_init, seed=rng,
                        color_space=color_space, max_pixels=max_pixels).palette
    img = load_image(image, max_pixels=max_pixels)
    params: dict[str, Any] = {"k": k, "max_iter": max_iter, "tol": tol, "n_init": n_init, "seed": seed,
                              "color_space": color_space}
    if given is not None:
        del params["k"]
        params["palette"] = given.tolist()
    if spatial_weight > 0:
        params.update(spatial_weight=spatial_weight, fit_size=fit_size)
    if min_region:
        params["min_region"] = min_region
    if target_psnr is not None:
        params["target_psnr"] = target_psnr
    if dither:
        params["dither"] = True

    notes = list(img.notes)
    pixels = _Pixels(img.rgb)
    opaque = None if img.alpha is None else img.alpha.reshape(-1) > 0
    if opaque is not None and not opaque.any():
        notes.append("every pixel is fully transparent; colours clustered regardless")
        opaque = None
    extra: dict[str, Any] = {}
    to_rgb = (lambda c: c) if color_space == "rgb" else lab_to_rgb
    if spatial_weight > 0:
        assert isinstance(k, int)
        s = _spatial.scale(spatial_weight, img.width, color_space)
        centers5, n_iter, converged, _ = _spatial.fit(
            img.rgb, img.alpha if opaque is not None else None, k, s, fit_size, color_space,
            max_iter, tol, n_init, rng)
        if centers5.shape[0] < k:
            notes.append(f"asked for K={k}, the downsampled image has only {centers5.shape[0]} distinct points")
        labels, inertia, _ = _spatial.segments(img.rgb, opaque, centers5, s, color_space)
        centers = centers5[:, :3]
        palette_rgb = np.clip(np.rint(to_rgb(centers)), 0, 255).astype(np.uint8)
        extra.update(spatial_weight=spatial_weight, positions=centers5[:, 3:] / s)
        k_requested = k
    else:
        distinct, weights = _histogram(pixels, opaque)
        colors = _colorfit.codes_to_rgb(distinct)
        Y = colors.astype(np.float64) if color_space == "rgb" else rgb_to_lab(colors)
        used: Any = weights > 0
        m = int(used.sum())
        if m == used.size:  # every colour is seen in an opaque pixel: views, not copies
            used = slice(None)
        if given is not None:
            centers = given.astype(np.float64) if color_space == "rgb" else rgb_to_lab(given)
            color_labels, dist = _transfer.nearest(Y[used], centers)
            inertia, n_iter, converged = float(weights[used] @ dist), 0, True
            palette_rgb = given
            k_requested = given.shape[0]
        elif k == "auto" and m > 1:
            auto = _autok.choose(distinct[used], Y[used], weights[used], colors[used], to_rgb, max_iter, tol,
                                 (lambda kk: default_n_init(kk) if n_init is None else n_init), rng, target_psnr,
                                 coarse=color_space == "rgb")
            centers, color_labels, inertia, n_iter, converged = (
                auto.centers, auto.labels, auto.inertia, auto.n_iter, auto.converged)
            palette_rgb = np.clip(np.rint(to_rgb(centers)), 0, 255).astype(np.uint8)
            if target_psnr is not None and auto.curve[-1][2] < target_psnr and auto.k == auto.curve[-1][0]:
                notes.append(f"target PSNR {target_psnr:g} dB not reached with K up to {auto.k}")
            notes.append(f"K chosen automatically: {auto.k}")
            extra["k_curve"] = auto.curve
            k_requested = auto.k
        else:
            if k == "auto":
                k = 1
                extra["k_curve"] = ((1, 0.0, float("inf")),)
                notes.append("K chosen automatically: 1 (a single colour)")
            assert isinstance(k, int)
            k_requested = k
            centers, color_labels, inertia, n_iter, converged, palette_rgb = _fit(
                distinct, Y, colors, weights, used, k, max_iter, tol, n_init or default_n_init(k), rng,
                color_space, notes)
        if isinstance(used, slice):
            all_labels = np.asarray(color_labels, dtype=np.uint8)
        else:  # some colours are seen only in transparent pixels
            all_labels = np.empty(distinct.size, dtype=np.uint8)
            all_labels[used] = color_labels
            all_labels[~used] = _kmeans.nearest(Y[~used], centers)[0]
        labels = _label_pixels(pixels, distinct, all_labels).reshape(img.rgb.shape[:2])

    by_color = spatial_weight == 0
    if min_region:
        by_colour_labels = labels
        labels, before, after = _regions.merge_small(labels, min_region)
        extra.update(regions=after, regions_before=before)
        by_color = False
        if spatial_weight > 0:
            _, inertia = _spatial.assign(img.rgb, opaque, centers5, s, color_space, labels)
    if by_color:
        px_colors, px_weights, px_labels = colors[used], weights[used], color_labels
        counts = np.bincount(color_labels, weights=weights[used], minlength=len(palette_rgb)).astype(np.int64)
    else:
        if spatial_weight == 0:  # min_region moved a few pixels off their colour's label
            px_colors, px_weights, px_labels, was = _moved_pairs(
                pixels, opaque, by_colour_labels, labels, distinct[used], colors[used], weights[used], color_labels)
            # The inertia against the same centres changes only at the moved pixels (the last pairs).
            moved = slice(px_labels.size - was.size, None)
            Ym = px_colors[moved].astype(np.float64) if color_space == "rgb" else rgb_to_lab(px_colors[moved])
            now, before_move = Ym - centers[px_labels[moved]], Ym - centers[was]
            inertia += float(px_weights[moved] @ (np.einsum("ij,ij->i", now, now)
                                                  - np.einsum("ij,ij->i", before_move, before_move)))
        else:
            px_colors, px_weights, px_labels = _pairs(pixels.codes, labels.reshape(-1), opaque)
        counts = np.bincount(px_labels, weights=px_weights, minlength=len(palette_rgb)).astype(np.int64)
    return Segmentation(
        labels=labels,
        palette=palette_rgb,
        centers=np.asarray(centers, dtype=np.float64),
        counts=counts,
        inertia=float(inertia),
        n_iter=int(n_iter),
        converged=bool(converged),
        k_requested=k_requested,
        color_space=color_space,
        seed=int(seed),
        alpha=img.alpha,
        notes=tuple(notes),
        seconds=time.perf_counter() - start,
        params=params,
        _colors=px_colors,
        _weights=px_weights,
        _color_labels=px_labels,
        _rgb=img.rgb if dither else None,
        dither=dither,
        **extra,
    )


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
        centers, color_labels, inertia, n_iter, converged = _colorfit.fit_colors(
            distinct[used], Yu, wu, k, max_iter, tol, n_init, rng, integer_centers=color_space == "rgb"
        )
    rgb_centers = centers if color_space == "rgb" else lab_to_rgb(centers)
    palette = np.clip(np.rint(rgb_centers), 0, 255).astype(np.uint8)
    return centers, color_labels, inertia, n_iter, converged, palette


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
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_pairs` after some pixels changed label (``old`` -> ``new``),
    from the pairs by colour (sorted ``codes``, their ``colors``, opaque
    pixel counts and labels): those less the moved pixels, then the moved
    pixels' own pairs, whose former labels come fourth. Only the moved pixels
    are looked at; a (colour, label) pair may appear twice, with the pixels
    split between the entries."""
    moved = np.flatnonzero(old.reshape(-1) != new.reshape(-1))
    if opaque is not None:
        moved = moved[opaque[moved]]
    key = _colorfit.pixel_codes(pixels.flat[moved]).astype(np.uint64) << np.uint64(8)
    key |= new.reshape(-1)[moved]
    uniq, n = np.unique(key, return_counts=True)
    moved_codes = (uniq >> np.uint64(8)).astype(np.uint32)
    where = np.searchsorted(codes, moved_codes)
    left = weights - np.bincount(where, weights=n, minlength=codes.size)
    keep = left > 0
    return (np.concatenate([colors[keep], _colorfit.codes_to_rgb(moved_codes)]),
            np.concatenate([left[keep], n.astype(np.float64)]),
            np.concatenate([color_labels[keep], (uniq & np.uint64(255)).astype(np.uint8)]),
            np.asarray(color_labels)[where])


class _Pixels:
    """The pixels of an (h, w, 3) uint8 image, with their Morton codes made
    when first asked for (the compiled passes count and label the pixels
    without a code array)."""

    def __init__(self, rgb: np.ndarray) -> None:
        self.flat = rgb.reshape(-1, 3)
        self.size = self.flat.shape[0]
        self._codes: np.ndarray | None = None

    @property
    def codes(self) -> np.ndarray:
        if self._codes is None:
            self._codes = _colorfit.pixel_codes(self.flat)
        return self._codes


def _histogram(pixels: _Pixels, opaque: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct colour codes (of every pixel, opaque or not) and their
    opaque pixel counts (float64)."""
    counts = np.zeros(_colorfit.N_CODES, dtype=np.uint32)  # fewer than 2**32 pixels: see Limits
    seen = np.zeros(0 if opaque is None else _colorfit.N_CODES, dtype=np.uint32)
    _kernels.histogram(pixels.flat, np.zeros(0, dtype=bool) if opaque is None else opaque,
                       *_colorfit.MORTON_TABLES, counts, seen)
    if opaque is None:
        return _kernels.nonzero_counts(counts)
    distinct = np.flatnonzero(seen).astype(np.uint32)
    return distinct, counts[distinct].astype(np.float64)


def _label_pixels(pixels: _Pixels, distinct: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Every pixel's label, from its colour's (``labels`` of the ``distinct`` codes)."""
    lut = np.zeros(_colorfit.N_CODES, dtype=np.uint8)
    lut[distinct] = labels
    out = np.empty(pixels.size, dtype=np.uint8)
    bounds = np.linspace(0, pixels.size, threads() + 1).astype(int)
    parallel_map(lambda part: _kernels.label_pixels(pixels.flat[part], *_colorfit.MORTON_TABLES, lut, out[part]),
                 [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])])
    return out
