"""The web app's computations on top of kmseg's public API (no Streamlit import).

The Streamlit script caches these through :mod:`kmseg.app._cache`; here they
are plain functions so tests can call them directly.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

import kmseg

from kmseg.app._state import download_name
from kmseg.app._views import downscale_index, side_for_pixels

__all__ = [
    "Download",
    "animation_downloads",
    "curve_point",
    "curve_sample",
    "downloads",
    "image_array",
    "inertia_curve",
    "palette_source",
    "png_bytes",
    "rgb_preview",
    "segment_in_time",
    "time_limit",
]

#: Environment variable: seconds one clustering may run in the web app.
ENV_TIME_LIMIT = "KMSEG_APP_TIME_LIMIT"
#: Its default: a run nobody waits for any more is stopped, and its thread freed.
DEFAULT_TIME_LIMIT = 120.0


def time_limit(environ: Mapping[str, str] | None = None) -> float:
    """Seconds a clustering may run in the app: ``KMSEG_APP_TIME_LIMIT`` if it is a
    number above 0, else :data:`DEFAULT_TIME_LIMIT`."""
    raw = (os.environ if environ is None else environ).get(ENV_TIME_LIMIT, "")
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_TIME_LIMIT
    return value if 0 < value < float("inf") else DEFAULT_TIME_LIMIT


def segment_in_time(image: Any, k: int | str | None, *, environ: Mapping[str, str] | None = None,
                    run: Callable[..., Any] = kmseg.segment, **options: Any) -> Any:
    """``kmseg.segment`` (or ``run``: ``kmseg.segment_frames``) under the
    app's time limit (:func:`time_limit`).

    Raises
    ------
    kmseg.DeadlineExceeded
        The run took longer; the message names the limit and how to change it.
    """
    seconds = time_limit(environ)
    try:
        return run(image, k, deadline=kmseg.Deadline(seconds), **options)
    except kmseg.DeadlineExceeded:
        raise kmseg.DeadlineExceeded(
            f"the clustering took longer than the app's limit of {seconds:g} s and was stopped; try a "
            f"smaller K, fewer iterations or a smaller image (or raise {ENV_TIME_LIMIT})"
        ) from None


def image_array(loaded: kmseg.LoadedImage) -> np.ndarray:
    """The decoded pixels as one array: (H, W, 3), or (H, W, 4) with alpha."""
    if loaded.alpha is None:
        return loaded.rgb
    return np.dstack([loaded.rgb, loaded.alpha])


def curve_sample(loaded: kmseg.LoadedImage, sample_pixels: int) -> tuple[np.ndarray, float]:
    """The image scaled down (nearest neighbour) to at most ``sample_pixels``.

    Returns
    -------
    sample : numpy.ndarray
        (h, w, 3) or (h, w, 4) uint8.
    ratio : float
        Full pixel count divided by the sample's: multiply a sample's
        inertia by it to estimate the full image's.
    """
    array = image_array(loaded)
    h, w = array.shape[:2]
    array = downscale_index(array, side_for_pixels(w, h, sample_pixels))
    return array, (h * w) / (array.shape[0] * array.shape[1])


def curve_point(
    sample: np.ndarray, ratio: float, k: int, *, max_iter: int, color_space: str, seed: int
) -> dict[str, float | int]:
    """One point of the inertia-against-K curve (see :func:`inertia_curve`)."""
    seg = kmseg.segment(sample, int(k), max_iter=max_iter, color_space=color_space, seed=seed)
    return {"K": int(k), "inertia": float(seg.inertia) * ratio, "found": int(seg.k)}


def inertia_curve(
    loaded: kmseg.LoadedImage,
    ks: Sequence[int],
    *,
    max_iter: int,
    color_space: str,
    seed: int,
    sample_pixels: int,
) -> list[dict[str, float | int]]:
    """Inertia for each K in ``ks``, to help choose K.

    The image is first scaled down (nearest neighbour) to at most
    ``sample_pixels`` pixels; each inertia is then multiplied by the ratio
    of the full pixel count to the sample's, so the numbers are on the same
    scale as the full run's inertia.

    Returns
    -------
    list of dict
        One row per K with keys ``"K"``, ``"inertia"`` and ``"found"`` (the
        number of clusters actually found).
    """
    sample, ratio = curve_sample(loaded, sample_pixels)
    return [
        curve_point(sample, ratio, k, max_iter=max_iter, color_space=color_space, seed=seed)
        for k in ks
    ]


@dataclass(frozen=True)
class Download:
    """One download button: what it is called and how to make its bytes."""

    key: str
    label: str
    file_name: str
    mime: str
    make: Callable[[], bytes]


def downloads(seg: kmseg.Segmentation, source_name: str) -> list[Download]:
    """Every download the app offers for a (possibly recoloured) result.

    The bytes are made lazily by each ``make`` so a rerun that nobody
    downloads from costs nothing; all of them follow ``seg``'s palette.
    """
    tag = f"k{seg.k}"
    name = lambda kind, ext: download_name(source_name, kind, ext)  # noqa: E731
    items = [
        Download("png", "Segmented image (PNG)", name(tag, "png"), "image/png",
                 lambda: seg.to_bytes("png")),
        Download("jpeg", "JPEG", name(tag, "jpg"), "image/jpeg",
                 lambda: seg.to_bytes("jpeg", quality=92)),
        Download("webp", "WebP", name(tag, "webp"), "image/webp",
                 lambda: seg.to_bytes("webp")),
        Download("labels", "Label map (PNG)", name(f"{tag}-labels", "png"), "image/png",
                 seg.label_bytes),
        Download("json", "Palette (JSON)", name(f"{tag}-palette", "json"), "application/json",
                 lambda: kmseg.palette_bytes(seg.palette, seg.counts, "json")),
        Download("gpl", "Palette (GIMP .gpl)", name(f"{tag}-palette", "gpl"), "text/plain",
                 lambda: kmseg.palette_bytes(seg.palette, seg.counts, "gpl")),
        Download("svg", "Drawing (SVG)", name(tag, "svg"), "image/svg+xml", lambda: seg.to_bytes("svg")),
        Download("paint-png", "Paint by number (PNG)", name(f"{tag}-paint", "png"), "image/png",
                 lambda: seg.to_paint_by_number().to_png()),
        Download("paint-svg", "Paint by number (SVG)", name(f"{tag}-paint", "svg"), "image/svg+xml",
                 lambda: seg.to_paint_by_number().to_svg().encode()),
    ]
    return items


def animation_downloads(anim: kmseg.AnimationSegmentation, source_name: str) -> list[Download]:
    """The downloads of an animation segmented as a whole: GIF, APNG and WebP
    (lossless), with the upload's frame durations and loop count."""
    tag = f"k{anim.k}-animation"
    name = lambda ext: download_name(source_name, tag, ext)  # noqa: E731
    return [
        Download("animation-gif", "Animation (GIF)", name("gif"), "image/gif", lambda: anim.to_bytes("gif")),
        Download("animation-png", "Animation (APNG)", name("png"), "image/png", lambda: anim.to_bytes("png")),
        Download("animation-webp", "Animation (WebP)", name("webp"), "image/webp", lambda: anim.to_bytes("webp")),
    ]


def palette_source(name: str, data: bytes) -> np.ndarray | bytes:
    """What to pass as ``palette=`` for an uploaded palette file or image.

    A file whose name ends in one of ``kmseg.READ_PALETTE_FORMATS`` is read
    with :func:`kmseg.parse_palette` (messages name the upload as its user
    knows it) and its (n, 3) colours returned; anything else is returned as
    bytes, an image that ``kmseg.segment`` fits a palette on.

    Raises
    ------
    kmseg.InvalidParameterError
        The palette file is malformed (the message says how).
    """
    ext = os.path.splitext(name)[1].lower().lstrip(".")
    if ext not in kmseg.READ_PALETTE_FORMATS:
        return data
    return kmseg.parse_palette(data, name)


def rgb_preview(seg: kmseg.Segmentation) -> np.ndarray:
    """The result's picture output as an array (RGB or RGBA), dithered when
    ``seg.dither`` is set (unlike a palette lookup on the labels)."""
    im = seg.to_image()
    return np.asarray(im.convert("RGBA" if im.mode == "RGBA" else "RGB"))


def png_bytes(array: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) or (H, W, 4) uint8 array (e.g. the boundaries)."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()
