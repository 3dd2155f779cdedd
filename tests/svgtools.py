"""Rendering SVGs for the tests: resvg (the resvg-py wheel, no system libraries)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

#: Backgrounds in no test palette: a pixel that differs between renders over
#: the two shows the background through.
MAGENTA = (255, 0, 255)
GREEN = (0, 255, 1)


def render(svg: str, width: int, height: int, background: tuple[int, int, int] = MAGENTA) -> np.ndarray:
    """(H, W, 3) uint8: the SVG drawn at its own size over a solid background."""
    import resvg_py

    png = resvg_py.svg_to_bytes(svg_string=svg, width=width, height=height,
                                background="#%02x%02x%02x" % background)
    with Image.open(io.BytesIO(bytes(png))) as im:
        assert im.size == (width, height)
        return np.asarray(im.convert("RGB"))


def fidelity(svg: str, labels: np.ndarray, palette: np.ndarray,
             painted: np.ndarray | None = None) -> tuple[float, int]:
    """Fraction of the painted pixels rendered in exactly their label's
    colour, and the number of painted pixels where the background shows
    through (they differ between renders over two backgrounds)."""
    h, w = labels.shape
    over_magenta = render(svg, w, h, MAGENTA)
    over_green = render(svg, w, h, GREEN)
    if painted is None:
        painted = np.ones(labels.shape, dtype=bool)
    right = (over_magenta == np.asarray(palette, np.uint8)[labels]).all(axis=2) & painted
    through = (over_magenta != over_green).any(axis=2) & painted
    return float(right.sum() / max(int(painted.sum()), 1)), int(through.sum())
