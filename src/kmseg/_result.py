"""The result of a segmentation, and the one summary of its figures."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from kmseg.features import _dither, _regions
from kmseg.features._color import ciede2000, rgb_to_lab
from kmseg.errors import InvalidParameterError
from kmseg._features import check_color
from kmseg.io._decoded import BAND_PIXELS
from kmseg.io._png import encode_png
from kmseg.io._image import ImageSource, atomic_write, encode_image, load_image, normalize_format
from kmseg._validate import check_int
from kmseg.features._paint import PaintByNumber, labels_to_paint_by_number
from kmseg.features._vector import DEFAULT_TOLERANCE, labels_to_svg
from kmseg._version import __version__

__all__ = ["Segmentation", "summarize"]


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
        colour space used: RGB on the 0-255 scale, CIELAB with L* 0-100,
        OKLab with L 0-1 (so about 10^4 times smaller than CIELAB's).
    n_iter : int
        Exact Lloyd passes over all colours.
    converged : bool
        False if ``max_iter`` stopped the run.
    k_requested : int
        The K asked for; ``k`` may be smaller only when the image has fewer
        distinct colours.
    color_space : {"rgb", "lab", "oklab"}
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
        index = self._picture_index()
        if self.alpha is None:
            im = Image.fromarray(index, "L")
            im.putpalette(self.palette.tobytes())
            return im
        rgba = np.empty(self.labels.shape + (4,), dtype=np.uint8)
        rows = max(1, BAND_PIXELS // self.width)
        for top in range(0, self.height, rows):  # no full-size temporary of palette[index]
            rgba[top:top + rows, :, :3] = self.palette[index[top:top + rows]]
        rgba[:, :, 3] = self.alpha
        return Image.fromarray(rgba, "RGBA")

    def _picture_index(self) -> np.ndarray:
        """(H, W) uint8: the palette index of every pixel of the picture outputs."""
        if self.dither and self._rgb is not None:
            return _dither.dither_labels(self._rgb, self.palette)
        return self.labels

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

    def to_bytes(self, format: str = "png", quality: int | None = None, *,
                 svg_tolerance: float = DEFAULT_TOLERANCE) -> bytes:
        """The segmented image encoded as PNG (indexed), JPEG, WebP or GIF, or
        the drawing of :meth:`to_svg` (UTF-8) for ``"svg"``, simplified by
        ``svg_tolerance`` pixels."""
        fmt = normalize_format(format)
        if fmt == "svg":
            return self.to_svg(svg_tolerance).encode()
        if fmt == "png" and self.alpha is None:  # indexed, from the label map itself: no full-size copy
            return encode_png(self._picture_index(), self.palette.tobytes(), self.metadata())
        return encode_image(self.to_image(), fmt, quality, self.metadata() if fmt == "png" else None)

    def save(self, path: str | os.PathLike, format: str | None = None, quality: int | None = None, *,
             svg_tolerance: float = DEFAULT_TOLERANCE) -> Path:
        """Write the segmented image atomically; the format follows the
        extension unless given (``.svg``: :meth:`to_svg`). PNGs carry :meth:`metadata`."""
        fmt = normalize_format(format or (os.path.splitext(os.fspath(path))[1] or ".png"))
        return atomic_write(path, self.to_bytes(fmt, quality, svg_tolerance=svg_tolerance))

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

    def to_paint_by_number(self, tolerance: float = DEFAULT_TOLERANCE, **sheet: Any) -> PaintByNumber:
        """A paint-by-number sheet of the segmentation: grey outlines, each
        region's cluster number (1-based) at its pole of inaccessibility, a
        legend of colour chips; ``.to_svg()`` or ``.to_png(dpi)``.

        See :func:`kmseg.labels_to_paint_by_number` for ``tolerance`` and the
        sheet's sizes (``width_mm``, ``min_font_mm``, ``max_font_mm``,
        ``line_mm``). Use ``min_region`` when segmenting for a sheet a
        person can paint.
        """
        opaque = None if self.alpha is None else self.alpha > 0
        return labels_to_paint_by_number(self.labels, self.palette, tolerance=tolerance, opaque=opaque, **sheet)

    def label_bytes(self) -> bytes:
        """The label map encoded as a greyscale PNG (pixel value = label)."""
        return encode_png(self.labels, None, self.metadata())

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
        """JSON-ready figures of the run: :func:`summarize` with every figure."""
        return summarize(self)


def summarize(seg: Segmentation, *, psnr: bool = True, delta_e: bool = True) -> dict[str, Any]:
    """The figures of a run as plain JSON values.

    The one serialiser of a result: :meth:`Segmentation.summary`, the
    ``--json`` output of ``kmseg segment``, the batch manifest, the HTTP
    API's JSON and ``X-Kmseg-*`` headers and the web app's figures are all
    made from it, so they agree.

    Parameters
    ----------
    seg : Segmentation or AnimationSegmentation
        An animation gives the figures of all its frames together, with its
        ``frames``, ``durations`` and ``loop``.
    psnr, delta_e : bool
        Compute the PSNR and the CIEDE2000 differences (``delta_e_mean``,
        ``delta_e_p95``). The PSNR costs a pass over the distinct colours, the
        differences about as much as the clustering on a large photo; a figure
        left out is None (its key is always there).

    Returns
    -------
    dict
        ``k_requested``, ``k``, ``width``, ``height``, ``color_space``,
        ``seed``, ``inertia``, ``psnr`` (dB; None when the picture equals the
        original), ``delta_e_mean``, ``delta_e_p95``, ``n_iter``,
        ``converged``, ``seconds``, ``palette`` (``#rrggbb``), ``counts``,
        ``shares`` and ``notes``; and, only when the run used them,
        ``spatial_weight``, ``regions`` and ``regions_before``, ``k_curve``
        (a list of ``{"k", "inertia", "psnr"}``) and ``dither``. No value is
        NaN or infinite.

    Examples
    --------
    >>> import numpy as np, kmseg
    >>> image = np.zeros((2, 2, 3), np.uint8); image[0, 0] = (255, 0, 0)
    >>> figures = kmseg.summarize(kmseg.segment(image, 2, seed=1))
    >>> figures["k"], figures["palette"], figures["psnr"]
    (2, ['#000000', '#ff0000'], None)
    """
    if isinstance(getattr(seg, "whole", None), Segmentation):  # kmseg.AnimationSegmentation
        return seg.summary(psnr=psnr, delta_e=delta_e)  # type: ignore[attr-defined]
    out: dict[str, Any] = {
        "k_requested": int(seg.k_requested),
        "k": seg.k,
        "width": seg.width,
        "height": seg.height,
        "color_space": seg.color_space,
        "seed": int(seg.seed),
        "inertia": _finite(float(seg.inertia)),
        "psnr": _decibels(seg.psnr) if psnr else None,
        "delta_e_mean": round(seg.delta_e_mean, 4) if delta_e else None,
        "delta_e_p95": round(seg.delta_e_p95, 4) if delta_e else None,
        "n_iter": int(seg.n_iter),
        "converged": bool(seg.converged),
        "seconds": round(seg.seconds, 4),
        "palette": ["#%02x%02x%02x" % tuple(int(v) for v in c) for c in seg.palette],
        "counts": [int(c) for c in seg.counts],
        "shares": [float(s) for s in seg.shares],
        "notes": list(seg.notes),
    }
    if seg.spatial_weight:
        out["spatial_weight"] = float(seg.spatial_weight)
    if seg.regions is not None:
        out["regions"], out["regions_before"] = int(seg.regions), int(seg.regions_before)  # type: ignore[arg-type]
    if seg.k_curve is not None:
        out["k_curve"] = [{"k": int(k), "inertia": _finite(float(i)), "psnr": _decibels(p)}
                          for k, i, p in seg.k_curve]
    if seg.dither:
        out["dither"] = True
    return out


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _decibels(value: float) -> float | None:
    """A PSNR rounded to 4 decimals; None when infinite (the picture equals the original)."""
    return round(float(value), 4) if math.isfinite(value) else None
