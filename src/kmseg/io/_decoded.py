"""A decoded image kept as Pillow holds it and read as 8-bit RGB one band of
rows at a time.

Pillow stores a decoded RGB photo at 4 bytes a pixel (1 for greyscale).
Converting it to a full (H, W, 3) array doubles that for a moment (the
array, and the bytes Pillow joins to fill it); reading it in bands instead
keeps one full-size copy: the passes of :func:`kmseg.segment` (histogram,
labels) convert a band, use it and drop it. EXIF rotation, the CMYK
inversion and mode conversions (palette, greyscale, 16-bit) act per pixel,
so they are applied band by band too, with the same result as on the whole
image.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageChops

from kmseg.errors import ImageDecodeError, InvalidParameterError

__all__ = ["BAND_PIXELS", "DecodedPixels", "GREY_MODES", "scale_float", "scale_uint16"]

#: Pixels in one band (whole rows, at least one): about 10 MB of temporary
#: copies while it is converted.
BAND_PIXELS = 1 << 20

#: Pillow's one-channel integer and float modes (16-bit PNG and TIFF, 32-bit TIFF).
GREY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")

# EXIF orientation -> the transposition that shows the image upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = (Image.Transpose.TRANSPOSE, Image.Transpose.ROTATE_270, Image.Transpose.ROTATE_90,
               Image.Transpose.TRANSVERSE)


def upright_method(orientation: object) -> Image.Transpose | None:
    """The transposition for an EXIF orientation value (None: as stored)."""
    return _UPRIGHT.get(orientation)  # type: ignore[call-overload]


def scale_uint16(a: np.ndarray) -> np.ndarray:
    """16-bit values (others clipped to 0-65535) rounded to 8 bits."""
    a = a.astype(np.int64)
    if a.min() < 0 or a.max() > 65535:
        a = np.clip(a, 0, 65535)
    return ((a * 255 + 32767) // 65535).astype(np.uint8)


def scale_float(a: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] rounded to 8 bits.

    Raises
    ------
    ImageDecodeError
        NaN or infinite values.
    InvalidParameterError
        Values outside [0, 1].
    """
    check_float_range(*_float_range(a))
    return np.rint(a * 255).astype(np.uint8)


def _float_range(a: np.ndarray) -> tuple[bool, float, float]:
    return bool(np.isfinite(a).all()), float(a.min()), float(a.max())


def check_float_range(finite: bool, low: float, high: float) -> None:
    """Refuse float pixels that are not all finite and within [0, 1]."""
    if not finite:
        raise ImageDecodeError("image contains NaN or infinite values")
    if low < 0 or high > 1:
        raise InvalidParameterError(f"float images must have values in [0, 1], got {low:g}..{high:g}",
                                    param="image")


class DecodedPixels:
    """A loaded Pillow image and how to turn any band of its rows into 8-bit RGB.

    Parameters
    ----------
    im : PIL.Image.Image
        Loaded; kept, not copied: nothing else may change it.
    orientation : PIL.Image.Transpose or None
        Applied to every band (EXIF orientation); ``size`` is upright.
    invert : bool
        Invert the values first (a CMYK JPEG without an Adobe marker).
    """

    def __init__(self, im: Image.Image, *, orientation: Image.Transpose | None = None, invert: bool = False) -> None:
        self.im = im
        self.orientation = orientation
        self.invert = invert
        mode, key = im.mode, im.info.get("transparency")
        if mode in GREY_MODES:
            self.target = mode
            self.key = key if isinstance(key, int) and mode != "F" else None
        elif (mode in ("1", "L", "RGB") and key is not None) or (mode == "P" and key is not None) or mode in (
                "LA", "La", "RGBa", "PA", "RGBA"):
            self.target, self.key = "RGBA", None  # Pillow turns a colour key into alpha
        else:
            self.target, self.key = "RGB", None
        width, height = im.size
        self.size = (height, width) if orientation in _SWAPS_AXES else (width, height)

    @property
    def has_alpha(self) -> bool:
        """Whether the bands can carry transparency."""
        return self.target == "RGBA" or self.key is not None

    def row_bands(self) -> Iterator[tuple[int, int]]:
        """(top, bottom) rows of the bands, in order."""
        width, height = self.size
        rows = max(1, BAND_PIXELS // width)
        for top in range(0, height, rows):
            yield top, min(height, top + rows)

    def _source_box(self, top: int, bottom: int) -> tuple[int, int, int, int]:
        """The box of the stored image that becomes upright rows top:bottom."""
        width, height = self.im.size
        t = self.orientation
        if t is None or t == Image.Transpose.FLIP_LEFT_RIGHT:
            return 0, top, width, bottom
        if t in (Image.Transpose.ROTATE_180, Image.Transpose.FLIP_TOP_BOTTOM):
            return 0, height - bottom, width, height - top
        if t in (Image.Transpose.TRANSPOSE, Image.Transpose.ROTATE_270):
            return top, 0, bottom, height
        return width - bottom, 0, width - top, height  # ROTATE_90, TRANSVERSE

    def _part(self, top: int, bottom: int) -> Image.Image:
        part = self.im.crop(self._source_box(top, bottom))
        if self.orientation is not None:
            part = part.transpose(self.orientation)
        if self.invert:
            part = ImageChops.invert(part)
        return part

    def band(self, top: int, bottom: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows top:bottom as RGB (bottom - top, W, 3) uint8 (maybe a strided
        view) and their opacity (bottom - top, W) uint8, or None where the
        image has no transparency.

        Raises
        ------
        ImageDecodeError
            The mode cannot be converted to RGB (seen on the first band read,
            which :func:`kmseg.load_image` does).
        """
        part = self._part(top, bottom)
        if self.target in GREY_MODES:
            a = np.asarray(part)
            grey = scale_float(a.astype(np.float64)) if self.target == "F" else scale_uint16(a)
            alpha = None if self.key is None else np.where(a == self.key, 0, 255).astype(np.uint8)
            return np.repeat(grey[:, :, None], 3, axis=2), alpha
        if part.mode != self.target:
            try:
                part = part.convert(self.target)
            except (ValueError, OSError) as e:
                raise ImageDecodeError(f"cannot convert image mode {self.im.mode} to RGB: {e}") from None
        a = np.asarray(part)
        return a[:, :, :3], (a[:, :, 3] if self.target == "RGBA" else None)

    def grey_range(self) -> tuple[bool, float, float, bool]:
        """For a one-channel integer or float image: whether all values are
        finite, their minimum and maximum, and whether any equals the colour
        key (before scaling to 8 bits)."""
        finite, low, high, keyed = True, float("inf"), float("-inf"), False
        for top, bottom in self.row_bands():
            a = np.asarray(self._part(top, bottom))
            ok, lo, hi = _float_range(a) if self.target == "F" else (True, float(a.min()), float(a.max()))
            finite, low, high = finite and ok, min(low, lo), max(high, hi)
            keyed = keyed or (self.key is not None and bool((a == self.key).any()))
        return finite, low, high, keyed

    def alpha(self) -> np.ndarray | None:
        """(H, W) uint8 opacity, or None when every pixel is opaque."""
        if not self.has_alpha:
            return None
        width, height = self.size
        out = np.empty((height, width), dtype=np.uint8)
        for top, bottom in self.row_bands():
            band_alpha = self.band(top, bottom)[1]
            out[top:bottom] = 255 if band_alpha is None else band_alpha
        return None if out.min() == 255 else out

    def to_array(self) -> np.ndarray:
        """The whole image as a C-contiguous (H, W, 3) uint8 array."""
        width, height = self.size
        out = np.empty((height, width, 3), dtype=np.uint8)
        for top, bottom in self.row_bands():
            out[top:bottom] = self.band(top, bottom)[0]
        return out
