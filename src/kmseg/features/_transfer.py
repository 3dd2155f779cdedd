"""Palette transfer: every colour goes to the nearest colour of a given palette."""

from __future__ import annotations

import os

import numpy as np

from kmseg.engine import _kmeans
from kmseg.errors import InvalidParameterError
from kmseg.io._palette import READ_PALETTE_FORMATS, check_palette_array, read_palette

__all__ = ["is_palette_source", "nearest", "palette_colors"]


def is_palette_source(palette: object) -> bool:
    """True when ``palette`` gives colours directly (an (n, 3) array or list,
    or a palette file path), False when it is an image to fit a palette on."""
    if isinstance(palette, (str, os.PathLike)):
        ext = os.path.splitext(os.fspath(palette))[1].lower().lstrip(".")
        return ext in READ_PALETTE_FORMATS
    if isinstance(palette, (list, tuple)):
        return True
    if isinstance(palette, np.ndarray):
        return palette.ndim == 2 and palette.shape[1] == 3
    return False


def palette_colors(palette: object) -> np.ndarray:
    """The (n, 3) uint8 colours of an array, list or palette file."""
    if isinstance(palette, (str, os.PathLike)):
        return read_palette(palette)
    try:
        arr = np.asarray(palette)
    except (ValueError, TypeError):
        raise InvalidParameterError("palette must be an (n, 3) array of colours 0-255", param="palette") from None
    return check_palette_array(arr)


def nearest(Y: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest of centres ``C`` (n, d) for every row of ``Y`` (m, d), and its
    squared distance (first centre wins ties)."""
    return _kmeans.nearest(Y, C)
