"""Pure helpers behind the web app's views: previews, highlight, chips, chart.

Nothing here imports Streamlit; every function takes arrays or a
:class:`kmseg.Segmentation` and returns arrays, strings or plain data, so the
whole module is unit-tested without a running app.
"""

from __future__ import annotations

import base64
import io
import math
import re
from collections.abc import Sequence

import numpy as np
from PIL import Image

import kmseg


__all__ = [
    "app_icon",
    "boundary_overlay",
    "contrast_text",
    "chips_html",
    "display_order",
    "downscale_index",
    "format_inertia",
    "full_size_html",
    "hex_color",
    "highlight",
    "highlight_palette",
    "paint",
    "parse_hex",
    "preview_png",
    "preview_size",
    "side_for_pixels",
    "suggest_k",
    "wipe",
]

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")
#: The boundaries preview's line colour, on a black rim.
LINE_COLOUR = (255, 221, 0)


def hex_color(rgb: Sequence[int] | np.ndarray) -> str:
    """Return ``"#rrggbb"`` for an RGB triple of 0..255 integers."""
    r, g, b = (int(v) for v in rgb[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def parse_hex(text: str) -> tuple[int, int, int]:
    """Parse ``"#rrggbb"`` (the ``#`` optional) into an RGB triple.

    Raises
    ------
    ValueError
        If ``text`` is not six hexadecimal digits.
    """
    m = _HEX.match(text.strip())
    if m is None:
        raise ValueError(f"not a #rrggbb colour: {text!r}")
    v = m.group(1)
    return int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16)


def contrast_text(rgb: Sequence[int] | np.ndarray) -> str:
    """Black or white, whichever reads better on the colour ``rgb``."""
    r, g, b = (int(v) / 255.0 for v in rgb[:3])
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if lum > 0.5 else "#ffffff"


def preview_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Size of a preview whose longer side is at most ``max_side`` pixels.

    Images already small enough keep their size; the aspect ratio is kept
    and neither side drops below one pixel.
    """
    if max_side < 1:
        raise ValueError("max_side must be at least 1")
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def side_for_pixels(width: int, height: int, max_pixels: int) -> int:
    """Longest side that keeps a ``width`` x ``height`` image near ``max_pixels``.

    Returns the current longest side when the image is already small enough;
    feed the result to :func:`downscale_index`.
    """
    if max_pixels < 1:
        raise ValueError("max_pixels must be at least 1")
    longest = max(width, height)
    if width * height <= max_pixels:
        return longest
    return max(1, math.floor(longest * math.sqrt(max_pixels / (width * height))))


def downscale_index(array: np.ndarray, max_side: int) -> np.ndarray:
    """Nearest-neighbour downscale of a 2-D or 3-D array to ``max_side``.

    Nearest-neighbour picks existing pixels, so a label map stays a label
    map and a segmented image keeps exactly its palette colours.
    """
    h, w = array.shape[:2]
    pw, ph = preview_size(w, h, max_side)
    if (pw, ph) == (w, h):
        return array
    rows = ((np.arange(ph) + 0.5) * (h / ph)).astype(np.intp)
    cols = ((np.arange(pw) + 0.5) * (w / pw)).astype(np.intp)
    return array[rows[:, None], cols[None, :]]


def paint(
    labels: np.ndarray, palette: np.ndarray, alpha: np.ndarray | None = None
) -> np.ndarray:
    """Paint each pixel with its cluster's colour.

    Parameters
    ----------
    labels : (H, W) integer array
    palette : (k, 3) uint8 array
    alpha : (H, W) uint8 array or None
        Carried over as a fourth channel when given.

    Returns
    -------
    numpy.ndarray
        (H, W, 3) or (H, W, 4) uint8.
    """
    rgb = np.asarray(palette, dtype=np.uint8)[labels]
    if alpha is None:
        return rgb
    return np.dstack([rgb, alpha.astype(np.uint8)])


def highlight_palette(palette: np.ndarray, index: int, dim: float = 0.25) -> np.ndarray:
    """A palette that keeps cluster ``index``'s colour and dims all others.

    The other colours are turned grey (their luminance) and pulled, keeping
    only ``dim`` of their own brightness, toward dark grey when the chosen
    colour is light and toward light grey when it is dark, so the chosen
    cluster stands out whatever its colour.
    """
    pal = np.asarray(palette, dtype=np.uint8)
    if not 0 <= index < len(pal):
        raise IndexError(f"cluster {index} does not exist (k={len(pal)})")
    grey = pal.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    backdrop = 32.0 if grey[index] >= 128 else 224.0
    dimmed = np.repeat((backdrop * (1 - dim) + grey * dim)[:, None], 3, axis=1)
    table = np.clip(np.rint(dimmed), 0, 255).astype(np.uint8)
    table[index] = pal[index]
    return table


def highlight(
    labels: np.ndarray,
    palette: np.ndarray,
    index: int,
    alpha: np.ndarray | None = None,
    dim: float = 0.25,
) -> np.ndarray:
    """Paint cluster ``index`` in its colour and every other pixel dimmed.

    Returns
    -------
    numpy.ndarray
        (H, W, 3) or (H, W, 4) uint8, like :func:`paint`; see
        :func:`highlight_palette` for the dimming.
    """
    return paint(labels, highlight_palette(palette, index, dim), alpha)


def preview_png(
    labels: np.ndarray, palette: np.ndarray, alpha: np.ndarray | None = None
) -> bytes:
    """PNG bytes of a painted label map, for display.

    Without alpha the PNG is indexed (one byte per pixel, the palette in the
    file), which is several times faster to encode than RGB and exact.
    """
    buf = io.BytesIO()
    if alpha is None:
        im = Image.fromarray(np.ascontiguousarray(labels, dtype=np.uint8))  # mode "L"
        im.putpalette(np.asarray(palette, dtype=np.uint8).reshape(-1).tolist())  # now "P"
    else:
        im = Image.fromarray(paint(labels, palette, alpha))  # (H, W, 4): "RGBA"
    im.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _grow(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` grown by ``radius`` pixels in every direction (a square dilation)."""
    out = mask.copy()
    for _ in range(radius):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
        out = grown
    return out


def boundary_overlay(image: np.ndarray, labels: np.ndarray, width: int | None = None) -> np.ndarray:
    """The segment edges drawn on a preview, readable at its size.

    The edges are found on ``labels`` at the preview's own size (edges found
    at full size and then scaled down break into dots), drawn as solid yellow
    lines ``width`` pixels wide with a one-pixel black rim, so they stand out
    on light and dark areas alike (and a busy photo's many edges still leave
    the picture visible between them).

    Parameters
    ----------
    image : (H, W, 3) or (H, W, 4) uint8
        The preview of the original image.
    labels : (H, W) integer array
        The label map scaled to the same size (:func:`downscale_index`).
    width : int, optional
        Width of the yellow line; default 1 below 2000 pixels on the longer
        side, 3 from 2000, 5 from 4000 (with the rim: 3, 5, 7 pixels).

    Returns
    -------
    numpy.ndarray
        (H, W, 3) or (H, W, 4) uint8; lines are opaque.
    """
    if image.shape[:2] != labels.shape:
        raise ValueError(f"image {image.shape[:2]} and labels {labels.shape} differ in size")
    if width is None:
        width = 2 * (max(labels.shape) // 2000) + 1
    if width < 1:
        raise ValueError("width must be at least 1")
    edge = np.zeros(labels.shape, bool)
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[1:] |= labels[1:] != labels[:-1]
    line = _grow(edge, (width - 1) // 2)
    if width % 2 == 0:  # an even width: one more pixel to the right and below
        line[1:, 1:] |= line[:-1, :-1]
    rim = _grow(line, 1) & ~line
    out = np.array(image, dtype=np.uint8, copy=True)
    out[rim, :3] = 0
    out[line, :3] = LINE_COLOUR
    if out.shape[2] == 4:
        out[rim | line, 3] = 255
    return out


def wipe(original: np.ndarray, result: np.ndarray, fraction: float) -> np.ndarray:
    """Compare two images of the same shape with a vertical split.

    Columns left of ``fraction`` of the width come from ``result``, the rest
    from ``original``; a 2-pixel white line marks the split.
    """
    if original.shape != result.shape:
        raise ValueError(f"shapes differ: {original.shape} and {result.shape}")
    fraction = min(max(float(fraction), 0.0), 1.0)
    out = original.copy()
    w = out.shape[1]
    cut = round(w * fraction)
    out[:, :cut] = result[:, :cut]
    if 0 < cut < w:
        lo, hi = max(cut - 1, 0), min(cut + 1, w)
        out[:, lo:hi, :3] = 255
        if out.shape[2] == 4:
            out[:, lo:hi, 3] = 255
    return out


def display_order(shares: Sequence[float] | np.ndarray) -> list[int]:
    """Cluster indices from the largest share of pixels to the smallest."""
    shares = np.asarray(shares, dtype=np.float64)
    return [int(i) for i in np.argsort(-shares, kind="stable")]


def chips_html(
    palette: np.ndarray,
    shares: Sequence[float] | np.ndarray,
    counts: Sequence[int] | np.ndarray,
    selected: int | None = None,
) -> str:
    """HTML for the palette as colour chips, largest cluster first.

    Each chip shows the cluster number (1-based, as in the app's pickers),
    its hex code and its share of the pixels; the ``selected`` cluster gets a
    thick outline. Only numbers and hex codes are interpolated, so the
    string is safe to render as HTML.
    """
    palette = np.asarray(palette, dtype=np.uint8)
    parts = ['<div class="kmseg-chips" style="display:flex;flex-wrap:wrap;gap:6px;">']
    for i in display_order(shares):
        colour = hex_color(palette[i])
        text = contrast_text(palette[i])
        outline = "3px solid #ff4b4b" if i == selected else "1px solid rgba(0,0,0,.25)"
        parts.append(
            f'<div class="kmseg-chip" data-cluster="{i}" title="{int(counts[i])} pixels" '
            f'style="background:{colour};color:{text};border:{outline};border-radius:6px;'
            f'padding:6px 8px;min-width:84px;font:12px/1.3 monospace;">'
            f"<b>#{i + 1}</b> {colour}<br>{float(shares[i]) * 100:.1f}%</div>"
        )
    parts.append("</div>")
    return "".join(parts)


def format_inertia(value: float) -> str:
    """Inertia in a short form: ``1.23e7``, or plain digits below 10 000."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) < 10_000:
        return f"{value:.0f}"
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def suggest_k(ks: Sequence[int], inertias: Sequence[float]) -> int | None:
    """Pick the elbow of an inertia-against-K curve by the rule ``k="auto"``
    uses (:func:`kmseg.elbow_of`: log inertia).

    Returns
    -------
    int or None
        One of ``ks``, or None when there are fewer than three points or the
        curve is flat.
    """
    return kmseg.elbow_of(ks, inertias)


def full_size_html(array: np.ndarray, zoom: int = 1) -> str:
    """HTML showing an image at full size (times ``zoom``) in a scrolling box.

    The image is embedded as a PNG data URI and drawn with
    ``image-rendering: pixelated`` so zoomed pixels stay sharp.
    """
    if zoom < 1:
        raise ValueError("zoom must be at least 1")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", compress_level=1)
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    h, w = array.shape[:2]
    return (
        '<div class="kmseg-fullsize" style="overflow:auto;max-height:80vh;'
        'border:1px solid rgba(128,128,128,.4);border-radius:4px;">'
        f'<img src="{uri}" width="{w * zoom}" height="{h * zoom}" alt="full-size comparison" '
        'style="max-width:none;display:block;image-rendering:pixelated;"></div>'
    )


def app_icon(size: int = 64) -> Image.Image:
    """The page icon: four flat colour quadrants, a segmentation in miniature.

    Made here rather than named as a Material icon or an emoji, which
    Streamlit fetches from Google's font server: the page must work offline.

    Returns
    -------
    PIL.Image.Image
        RGB, ``size`` x ``size``.
    """
    half = size // 2
    icon = np.empty((size, size, 3), np.uint8)
    icon[:half, :half] = (230, 80, 60)
    icon[:half, half:] = (250, 200, 60)
    icon[half:, :half] = (60, 130, 200)
    icon[half:, half:] = (70, 170, 110)
    return Image.fromarray(icon, "RGB")
