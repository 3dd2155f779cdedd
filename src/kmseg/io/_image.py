"""Reading images of any common kind into 8-bit RGB (+ alpha), and writing
outputs atomically."""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import os
import stat
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Union

import numpy as np
from PIL import Image, ImageFile, PngImagePlugin, UnidentifiedImageError

# The decoders of INPUT_FORMATS (JPEG also opens MPO), registered explicitly:
# Image.open(formats=...) only knows plugins that were imported.
from PIL import (  # noqa: F401  isort: skip
    BmpImagePlugin,
    GifImagePlugin,
    JpegImagePlugin,
    PpmImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
)

from kmseg.errors import ImageDecodeError, ImageTooLargeError, InvalidParameterError, UnsupportedFormatError
from kmseg.limits import DEFAULT_LIMITS
from kmseg._validate import check_int
from kmseg.io import _png
from kmseg.io._decoded import (GREY_MODES, DecodedPixels, check_float_range, scale_float, scale_uint16,
                               upright_method)
from kmseg import options

__all__ = [
    "INPUT_FORMATS",
    "OUTPUT_FORMATS",
    "ImageSource",
    "LoadedImage",
    "atomic_write",
    "encode_image",
    "load_image",
    "normalize_format",
    "read_metadata",
    "read_regular_file",
]

#: Pillow format names kmseg decodes; anything else is refused before decoding.
INPUT_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "PPM")
#: Formats kmseg writes.
OUTPUT_FORMATS: tuple[str, ...] = ("png", "jpeg", "webp", "gif")
# "svg" is a format of Segmentation.to_bytes/save (a drawing), not of encode_image.
_FORMAT_ALIASES = {"jpg": "jpeg", "jpe": "jpeg", "jpeg": "jpeg", "png": "png", "webp": "webp", "gif": "gif",
                   "svg": "svg"}

# Magic numbers of formats we recognise but do not open (for a precise error).
_REFUSED_SIGNATURES = (
    (b"%PDF", "PDF"),
    (b"%!PS", "PostScript/EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"8BPS", "Photoshop PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"PK\x03\x04", "ZIP archive"),
)

# PNG chunks kmseg never uses, dropped unread: text (Pillow refuses text that unpacks past
# PngImagePlugin.MAX_TEXT_CHUNK) and the ICC profile (kmseg does not colour-manage; Pillow
# refuses a profile past the same 1 MB).
_DROPPED_PNG_CHUNKS = {b"tEXt": "text chunks", b"zTXt": "text chunks", b"iTXt": "text chunks",
                       b"iCCP": "ICC profile"}

# Dropped PNG text larger than this is mentioned in the notes (PngImagePlugin.MAX_TEXT_CHUNK).
_TEXT_NOTE_BYTES = 1 << 20

_UMASK_LOCK = threading.Lock()
_WARNINGS_LOCK = threading.Lock()
_MATERIALIZE_LOCK = threading.Lock()

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, IO[bytes], Image.Image, np.ndarray, "LoadedImage"]


@dataclass(frozen=True, init=False, eq=False)
class LoadedImage:
    """An image as kmseg works on it.

    Attributes
    ----------
    rgb : (H, W, 3) uint8
        Colours (greyscale and CMYK are converted, 16-bit is reduced to 8-bit).
        A decoded file is kept as decoded and converted band by band where
        kmseg reads it; this array is made on first access (3 bytes a pixel).
    alpha : (H, W) uint8 or None
        Opacity, or None when every pixel is opaque.
    format : str or None
        Pillow's name of the file format ("JPEG", "PNG", ...), None for arrays.
    notes : tuple of str
        What was done to the image on the way in (EXIF rotation, frames, bit depth).
    """

    alpha: np.ndarray | None
    format: str | None
    notes: tuple[str, ...]
    _rgb: np.ndarray | None = field(repr=False)
    _decoded: DecodedPixels | None = field(repr=False)

    def __init__(self, rgb: np.ndarray, alpha: np.ndarray | None = None, format: str | None = None,
                 notes: tuple[str, ...] = ()) -> None:
        self._set(rgb, None, alpha, format, notes)

    @classmethod
    def _from_decoded(cls, decoded: DecodedPixels, alpha: np.ndarray | None, format: str | None,
                      notes: tuple[str, ...]) -> LoadedImage:
        """An image whose colours stay in ``decoded`` until :attr:`rgb` is read."""
        image = cls.__new__(cls)
        image._set(None, decoded, alpha, format, notes)
        return image

    def _set(self, rgb: np.ndarray | None, decoded: DecodedPixels | None, alpha: np.ndarray | None,
             format: str | None, notes: tuple[str, ...]) -> None:
        for name, value in (("_rgb", rgb), ("_decoded", decoded), ("alpha", alpha), ("format", format),
                            ("notes", tuple(notes))):
            object.__setattr__(self, name, value)

    @property
    def rgb(self) -> np.ndarray:
        """(H, W, 3) uint8: the colours (made from the decoded image when first read)."""
        if self._rgb is None:
            with _MATERIALIZE_LOCK:
                decoded = self._decoded
                if decoded is not None:  # else another thread made it meanwhile
                    object.__setattr__(self, "_rgb", decoded.to_array())
                    object.__setattr__(self, "_decoded", None)  # one full-size copy, not two
        assert self._rgb is not None
        return self._rgb

    @property
    def width(self) -> int:
        decoded = self._decoded
        return decoded.size[0] if decoded is not None else int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        decoded = self._decoded
        return decoded.size[1] if decoded is not None else int(self.rgb.shape[0])

    def _row_bands(self) -> Iterator[tuple[int, int, Callable[[], np.ndarray]]]:
        """(top, bottom, read) for bands of whole rows covering the image, in
        order; ``read()`` gives rows top:bottom as (rows, W, 3) uint8, maybe a
        strided view. An array is one band; a decoded image is read in bands
        of about :data:`BAND_PIXELS` pixels, converted on every read."""
        decoded = self._decoded
        if decoded is None:
            rgb = self.rgb
            yield 0, rgb.shape[0], lambda: rgb
            return
        for top, bottom in decoded.row_bands():
            yield top, bottom, functools.partial(_band_rgb, decoded, top, bottom)

    def to_pil(self) -> Image.Image:
        """The image as a PIL image, RGB or RGBA."""
        if self.alpha is None:
            return Image.fromarray(self.rgb, "RGB")
        return Image.fromarray(np.dstack([self.rgb, self.alpha]), "RGBA")


def _band_rgb(decoded: DecodedPixels, top: int, bottom: int) -> np.ndarray:
    return decoded.band(top, bottom)[0]


def load_image(source: ImageSource, *, max_pixels: int | None = None) -> LoadedImage:
    """Read an image into 8-bit RGB and an optional alpha channel.

    Parameters
    ----------
    source : path, bytes, binary file object, PIL.Image.Image, ndarray or LoadedImage
        Files are recognised from their bytes, not their name; only
        :data:`INPUT_FORMATS` are opened. Arrays may be (H, W), (H, W, 3) or
        (H, W, 4), uint8, uint16 (scaled to 8 bits) or float in [0, 1].
    max_pixels : int, optional
        Largest width x height accepted, checked before decoding. Default:
        ``DEFAULT_LIMITS.max_pixels``.

    Returns
    -------
    LoadedImage

    Raises
    ------
    ImageDecodeError
        Empty, corrupt or truncated data, or not an image.
    UnsupportedFormatError
        An image format kmseg does not open (SVG, PDF, EPS, ...).
    ImageTooLargeError
        More pixels than ``max_pixels``.
    """
    limit = DEFAULT_LIMITS.max_pixels if max_pixels is None else check_int("max_pixels", max_pixels, 1, None)
    if isinstance(source, LoadedImage):
        _check_pixels(source.width, source.height, limit)
        return source
    if isinstance(source, np.ndarray):
        return _from_array(source, limit)
    with _pillow_pixel_limit(limit):
        if isinstance(source, Image.Image):
            _check_pixels(source.width, source.height, limit)
            loaded = _from_pil(source, [], limit, decode=True)
            loaded.rgb  # noqa: B018 - read now: the caller may change their image afterwards
            return loaded
        return _from_file(source, limit)


# Decodes in progress that raised Pillow's pixel limit, and its value before them.
_RAISED_LIMITS: list[int] = []
_PILLOW_LIMIT: list[int | None] = [None]
_LIMIT_LOCK = threading.Lock()


@contextlib.contextmanager
def _pillow_pixel_limit(limit: int) -> Iterator[None]:
    """Let Pillow open images of up to ``limit`` pixels.

    Pillow refuses any image of more than 2 x ``Image.MAX_IMAGE_PIXELS``
    (179 MP by default) whatever kmseg's own limit, which is checked from
    the header. While a decode with a larger ``limit`` runs, that global is
    raised to the largest such limit, and put back when the last one ends.
    """
    with _LIMIT_LOCK:
        base = _PILLOW_LIMIT[0] if _RAISED_LIMITS else Image.MAX_IMAGE_PIXELS
        needed = base is not None and limit > base
        if needed:
            if not _RAISED_LIMITS:
                _PILLOW_LIMIT[0] = base
            _RAISED_LIMITS.append(limit)
            Image.MAX_IMAGE_PIXELS = max(_RAISED_LIMITS)
    try:
        yield
    finally:
        if needed:
            with _LIMIT_LOCK:
                _RAISED_LIMITS.remove(limit)
                Image.MAX_IMAGE_PIXELS = max(_RAISED_LIMITS) if _RAISED_LIMITS else _PILLOW_LIMIT[0]


def _check_pixels(width: int, height: int, limit: int) -> None:
    if width * height > limit:
        raise ImageTooLargeError(
            f"image is {width} x {height} = {width * height:,} pixels, more than the limit of "
            f"{limit:,}; raise max_pixels to accept it"
        )
    if width == 0 or height == 0:
        raise ImageDecodeError(f"image has no pixels ({width} x {height})")


class InputUnreadableError(ImageDecodeError):
    """The file could not be read (permissions, an I/O error): the machine's fault,
    not the image's, so a batch tries it again on its next run."""


class NotRegularFileError(OSError):
    """A path names a named pipe, socket or device rather than a regular file."""


def special_file_kind(mode: int) -> str | None:
    """What a file of ``st_mode`` ``mode`` is, when it is not a regular file or a folder."""
    for test, kind in ((stat.S_ISFIFO, "named pipe"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return kind
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else "special file"


def read_regular_file(path: str | os.PathLike, *, max_bytes: int | None = None) -> bytes:
    """The content of the regular file ``path``.

    The file is opened without blocking (a named pipe with no writer would
    wait for ever) and checked through its open descriptor, so a path that
    is swapped for a pipe or a device after a check cannot hang or flood the
    reader.

    Raises
    ------
    NotRegularFileError
        ``path`` is a named pipe, socket or device (``strerror`` says which).
    IsADirectoryError
        ``path`` is a folder.
    ValueError
        The file is larger than ``max_bytes``.
    OSError
        It cannot be opened or read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    name = os.fspath(path)
    try:
        fd = os.open(name, flags)
    except OSError as e:
        if e.errno == errno.ENXIO:  # a socket, or a pipe opened for writing only
            raise NotRegularFileError(e.errno, "a socket or pipe, not a regular file", name) from None
        raise
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", name)
        kind = special_file_kind(mode)
        if kind is not None:
            raise NotRegularFileError(errno.EINVAL, f"a {kind}, not a regular file", name)
        if max_bytes is None:
            return f.read()
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{name} is larger than {max_bytes:,} bytes")
    return data


def _from_file(source: ImageSource, limit: int) -> LoadedImage:
    im, notes, what = open_image(source, limit)
    stream = im.fp
    try:
        _check_pixels(im.width, im.height, limit)
        frames = _frame_count(im)
        if frames > 1:
            notes.append(f"first of {frames} frames used")
        loaded = _from_pil(im, notes, limit, decode=True, fmt=im.format)
    except ImageDecodeError as e:
        im.close()
        raise ImageDecodeError(f"{what}{e}") from None
    except BaseException:
        im.close()
        raise
    if stream is not None:
        stream.close()  # the decoded image is kept (read in bands); the file's bytes are not
    return loaded


def open_image(source: ImageSource, limit: int) -> tuple[Image.Image, list[str], str]:
    """The file, bytes or binary file ``source`` opened by Pillow (header read,
    no pixel decoded), the notes so far, and ``"<path>: "`` to put before
    messages ("" for bytes). The caller closes the image.

    Raises
    ------
    ImageDecodeError, UnsupportedFormatError, ImageTooLargeError, InvalidParameterError
        As :func:`load_image`.
    """
    name = None
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        try:
            data = read_regular_file(name)
        except FileNotFoundError:
            raise ImageDecodeError(f"no such file: {name}") from None
        except IsADirectoryError:
            raise ImageDecodeError(f"is a directory, not an image: {name}") from None
        except NotRegularFileError as e:
            raise ImageDecodeError(f"{name}: {e.strerror}") from None
        except OSError as e:
            raise InputUnreadableError(f"cannot read {name}: {e.strerror or e}") from None
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read()  # type: ignore[union-attr]
        if not isinstance(data, (bytes, bytearray)):
            raise InvalidParameterError("file objects must be opened in binary mode", param="image")
        data = bytes(data)
    else:
        raise InvalidParameterError(
            "image must be a path, bytes, a binary file, a PIL image or a NumPy array, "
            f"got {type(source).__name__}",
            param="image",
        )
    what = f"{name}: " if name else ""
    if not data:
        raise ImageDecodeError(f"{what}empty file (0 bytes), not an image")
    notes: list[str] = []
    if data.startswith(_png.SIGNATURE):
        data = _drop_png_chunks(data, notes)
    stream = io.BytesIO(data)
    try:
        with _pillow_warnings() as caught:
            im = Image.open(stream, formats=INPUT_FORMATS)
        notes.extend(_warning_notes(caught))
    except Image.DecompressionBombError:
        raise ImageTooLargeError(f"{what}image has far more pixels than the limit of {limit:,}") from None
    except UnidentifiedImageError:
        refused = _sniff_refused(data)
        if refused:
            raise UnsupportedFormatError(
                f"{what}{refused} files are not supported; use one of: "
                + ", ".join(INPUT_FORMATS)
            ) from None
        raise ImageDecodeError(f"{what}not an image kmseg can read (unknown or corrupt data)") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise ImageDecodeError(f"{what}corrupt image: {_reason(e)}") from None
    return im, notes, what


def _drop_png_chunks(data: bytes, notes: list[str]) -> bytes:
    """The PNG without the chunks kmseg never reads (:data:`_DROPPED_PNG_CHUNKS`).

    Pillow refuses a file whose text or ICC profile unpacks to more than
    ``PngImagePlugin.MAX_TEXT_CHUNK`` (1 MB): dropping the chunks unread
    keeps such images usable without unpacking anything. Data that does
    not walk as PNG chunks is returned as it is, for Pillow to report.
    """
    keep, start, pos = [], 0, len(_png.SIGNATURE)
    dropped: dict[str, int] = {}
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if kind in _DROPPED_PNG_CHUNKS:
            keep.append(data[start:pos])
            what = _DROPPED_PNG_CHUNKS[kind]
            dropped[what] = dropped.get(what, 0) + end - pos
            start = end
        if kind == b"IEND":
            break
        pos = end
    if not dropped:
        return data
    keep.append(data[start:])
    for what, size in dropped.items():
        if size > _TEXT_NOTE_BYTES:
            notes.append(f"PNG {what} ({size:,} bytes) ignored")
    return b"".join(keep)


def _frame_count(im: Image.Image) -> int:
    """Frames in the file. Counting walks the frame chain (GIF blocks, TIFF
    IFDs); Pillow fails there with IndexError, struct.error, TypeError ... on
    garbage after the first frame: that is a corrupt file."""
    try:
        return int(getattr(im, "n_frames", 1))
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - found by fuzzing (tests/fuzz)
        raise ImageDecodeError(f"corrupt image: {_reason(e)}") from None


def _sniff_refused(data: bytes) -> str | None:
    head = data[:1024]
    for signature, label in _REFUSED_SIGNATURES:
        if head.startswith(signature):
            return label
    text = head.lstrip().lower()
    if text.startswith(b"<?xml") or text.startswith(b"<svg"):
        return "SVG" if b"<svg" in data[:4096].lower() else "XML"
    if text.startswith(b"<!doctype html") or text.startswith(b"<html"):
        return "HTML"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "HEIF/AVIF"
    return None


def _from_pil(im: Image.Image, notes: list[str], limit: int, *, decode: bool, fmt: str | None = None) -> LoadedImage:
    try:
        im.load()
    except Image.DecompressionBombError:
        raise ImageTooLargeError(f"image has far more pixels than the limit of {limit:,}") from None
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - decoders fail on corrupt data with OSError, ValueError,
        # SyntaxError, EOFError, but also TypeError, struct.error ... (found by fuzzing, tests/fuzz)
        raise ImageDecodeError(f"corrupt image: {_reason(e)}") from None
    source_format = fmt or im.format
    method = None
    try:
        with _pillow_warnings() as caught:
            orientation = im.getexif().get(0x0112)
            method = upright_method(orientation)  # as ImageOps.exif_transpose, applied band by band
        notes.extend(_warning_notes(caught))
        if orientation not in (None, 1):
            notes.append(f"EXIF orientation {orientation} applied")
    except Exception:  # noqa: BLE001 - any broken EXIF block: use the pixels as stored
        notes.append("EXIF data unreadable; image used as stored")
    # Pillow reads every CMYK JPEG as Adobe's inverted CMYK; without an
    # Adobe (APP14) marker the values are plain CMYK, so invert them back.
    invert = im.mode == "CMYK" and source_format == "JPEG" and "adobe" not in im.info
    decoded = DecodedPixels(im, orientation=method, invert=invert)
    alpha = _check_decoded(decoded, im, notes)
    return LoadedImage._from_decoded(decoded, alpha, fmt, tuple(dict.fromkeys(notes)))


def _check_decoded(decoded: DecodedPixels, im: Image.Image, notes: list[str]) -> np.ndarray | None:
    """Check that every band of ``decoded`` converts (else an error now, not
    in the middle of a segmentation), note the conversions, and return the
    opacity ((H, W) uint8, or None when every pixel is opaque)."""
    mode = im.mode
    if mode in GREY_MODES:
        finite, low, high, keyed = decoded.grey_range()
        if mode == "F":
            check_float_range(finite, low, high)
        else:
            bits = _integer_bits(im)
            notes.append(f"{bits}-bit image reduced to 8 bits per channel")
            if bits > 16 and (low < 0 or high > 65535):
                notes.append("values outside 0-65535 clipped")
        return decoded.alpha() if keyed else None
    if mode == "CMYK":
        notes.append("CMYK converted to RGB")
    decoded.band(0, 1)  # a mode Pillow cannot convert fails here
    return decoded.alpha()


@contextlib.contextmanager
def _pillow_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Collect Pillow's warnings while reading (they become notes) instead of
    letting them reach stderr. Our own pixel limit is checked from the header,
    so Pillow's DecompressionBombWarning for large allowed images is dropped.

    ``catch_warnings`` swaps process-wide state; the lock keeps kmseg's own
    threads (the HTTP service decodes in a thread pool) from interleaving it.
    """
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield caught


def _reason(exc: BaseException) -> str:
    """Pillow's complaint about a file, in words a user understands."""
    reason = str(exc) or type(exc).__name__
    if "truncated" in reason.lower():
        reason = "the file is truncated (cut off before the end)"
    return reason


def _warning_notes(caught: list[warnings.WarningMessage]) -> list[str]:
    """Notes for the warnings Pillow gave while reading (a broken EXIF block ...)."""
    notes = []
    for w in caught:
        text = str(w.message).strip()
        notes.append("EXIF data unreadable; image used as stored" if "EXIF" in text
                     else f"decoder warning: {text}")
    return notes


def _pil_to_arrays(im: Image.Image, notes: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """The whole of a loaded Pillow image at once, as (H, W, 3) uint8 RGB and
    (H, W) uint8 opacity (None when every pixel is opaque): for small images
    read whole, such as the frames of an animation."""
    decoded = DecodedPixels(im)
    rgb, alpha = decoded.band(0, decoded.size[1])
    if alpha is not None and alpha.min() == 255:
        alpha = None
    return np.ascontiguousarray(rgb), None if alpha is None else np.ascontiguousarray(alpha)


def _integer_bits(im: Image.Image) -> int:
    """Bits per sample of a greyscale integer image: 16, or 32 for a 32-bit TIFF
    (Pillow opens both as mode ``I``)."""
    if im.mode != "I":
        return 16
    tags = getattr(im, "tag_v2", None)
    bits = tags.get(258) if tags is not None else None  # BitsPerSample
    if isinstance(bits, tuple):
        bits = bits[0] if bits else None
    return 32 if bits == 32 or (im.format == "TIFF" and bits is None) else 16


def _from_array(a: np.ndarray, limit: int) -> LoadedImage:
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise InvalidParameterError(
            f"image arrays must be (H, W), (H, W, 3) or (H, W, 4), got shape {a.shape}", param="image"
        )
    _check_pixels(a.shape[1], a.shape[0], limit)
    notes: list[str] = []
    if a.dtype == np.uint8:
        b = a  # only read, never written: no copy needed
    elif a.dtype == np.uint16:
        b = scale_uint16(a)
        notes.append("16-bit image reduced to 8 bits per channel")
    elif a.dtype == np.bool_:
        b = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.floating):
        b = scale_float(a.astype(np.float64))
    else:
        raise InvalidParameterError(
            f"image arrays must be uint8, uint16 or float in [0, 1], got {a.dtype}", param="image"
        )
    if b.ndim == 2:
        return LoadedImage(np.repeat(b[:, :, None], 3, axis=2), None, None, tuple(notes))
    rgb = np.ascontiguousarray(b[:, :, :3])
    alpha = None
    if b.shape[2] == 4:
        alpha = np.ascontiguousarray(b[:, :, 3])
        if alpha.min() == 255:
            alpha = None
    return LoadedImage(rgb, alpha, None, tuple(notes))


def normalize_format(name: str) -> str:
    """The canonical output format for a name or extension ("jpg", ".PNG" ...).

    Raises
    ------
    InvalidParameterError
        For a format kmseg does not write.
    """
    key = str(name).lower().lstrip(".")
    if key not in _FORMAT_ALIASES:
        raise InvalidParameterError(
            f"output format must be one of png, jpg, webp, gif, svg, got {name!r}", param="format"
        )
    return _FORMAT_ALIASES[key]


def encode_image(
    im: Image.Image, fmt: str, quality: int | None = None, text: dict[str, str] | None = None
) -> bytes:
    """Encode an image; PNG keeps palette images indexed and stores ``text``.

    No EXIF or ICC data is carried over from any input.
    """
    fmt = normalize_format(fmt)
    if fmt == "svg":
        raise InvalidParameterError("svg is a drawing of the segments, not a raster encoding: "
                                    "use Segmentation.to_svg() or to_bytes('svg')", param="format")
    quality = options.validate("quality", quality)
    buf = io.BytesIO()
    if fmt == "png" and im.mode in ("L", "P") and "transparency" not in im.info:
        palette = bytes(im.getpalette() or ()) if im.mode == "P" else None
        return _png.encode_png(np.asarray(im), palette, text)
    if fmt == "png":
        info = PngImagePlugin.PngInfo()
        for key, value in (text or {}).items():
            info.add_text(key, value)
        im.save(buf, "PNG", pnginfo=info)
    elif fmt == "jpeg":
        if im.mode == "RGBA":
            flat = Image.new("RGB", im.size, (255, 255, 255))
            flat.paste(im, mask=im.getchannel("A"))
            im = flat
        elif im.mode != "RGB":
            im = im.convert("RGB")
        im.save(buf, "JPEG", quality=quality or 90)
    elif fmt == "gif":
        if quality is not None:
            raise InvalidParameterError("quality applies to jpeg and webp output, not gif", param="quality")
        if im.mode == "L":
            im = im.convert("P")
        im.save(buf, "GIF")  # an RGBA picture: Pillow keeps a transparent entry
    else:
        if im.mode not in ("RGB", "RGBA"):
            im = im.convert("RGB")
        im.save(buf, "WEBP", quality=quality or 90)
    return buf.getvalue()


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder
    and a rename, so the path holds either its old content or all of the new.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); give it the usual new-file mode.
        os.chmod(tmp, 0o666 & ~_current_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _current_umask() -> int:
    """The process umask. Reading it means setting it, so it is read under a
    lock and put back at once; the API server writes no files, the CLI's
    workers are processes."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def read_metadata(source: str | os.PathLike | bytes) -> dict[str, str]:
    """The text chunks of a PNG (kmseg stores its version, parameters and seed there).

    Only the chunks before the pixel data are read (kmseg writes its record
    there), and no pixel is decoded, so any PNG is read in bounded memory.

    Raises
    ------
    ImageDecodeError
        If the source is not a readable PNG.
    ImageTooLargeError
        If its header claims more pixels than Pillow opens at all (a bomb).
    """
    data = source if isinstance(source, (bytes, bytearray)) else None
    try:
        stream = io.BytesIO(data) if data is not None else open(os.fspath(source), "rb")  # type: ignore[arg-type]
    except OSError as e:
        raise ImageDecodeError(f"cannot read {source}: {e.strerror or e}") from None
    try:
        with _pillow_warnings(), stream, Image.open(stream, formats=("PNG",)) as im:
            # Text chunks read with the header are in im.info; im.text would decode the pixels.
            return {str(k): str(v) for k, v in im.info.items() if isinstance(v, str)}
    except Image.DecompressionBombError:
        raise ImageTooLargeError("PNG claims far more pixels than any image kmseg writes") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ImageDecodeError("not a readable PNG file") from None


# Refuse half-decoded files rather than padding them with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False
