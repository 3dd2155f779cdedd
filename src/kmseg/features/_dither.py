"""Floyd-Steinberg dithering of an RGB image to a fixed palette (Pillow's)."""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["dither_labels"]


def dither_labels(rgb: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Palette index of every pixel after Floyd-Steinberg error diffusion.

    Parameters
    ----------
    rgb : (H, W, 3) uint8
        The original colours.
    palette : (k, 3) uint8
        The colours allowed, k <= 256.

    Returns
    -------
    (H, W) uint8
        Indices into ``palette``; only these colours appear in the output.
    """
    k = palette.shape[0]
    # Pillow's palette has 256 entries: fill the unused ones with copies of
    # the first colour so that no foreign colour can be chosen, then fold
    # their indices back to 0.
    full = np.empty((256, 3), dtype=np.uint8)
    full[:] = palette[0]
    full[:k] = palette
    pal = Image.new("P", (1, 1))
    pal.putpalette(full.tobytes())
    out = Image.fromarray(np.ascontiguousarray(rgb), "RGB").quantize(
        palette=pal, dither=Image.Dither.FLOYDSTEINBERG
    )
    idx = np.asarray(out, dtype=np.uint8)
    fold = np.arange(256, dtype=np.uint8)
    fold[k:] = 0
    return fold[idx]
