"""A PNG writer for one-channel 8-bit images: indexed (palette) and greyscale.

Segmented pictures and label maps are large areas of few values, which is
the case Pillow's encoder serves least well: it filters every row (useless
on palette indices) and compresses on one core. Here rows are left
unfiltered, palettes of up to 2, 4 or 16 colours are packed to 1, 2 or 4
bits per pixel, and the deflate stream is compressed in fixed pieces on
several threads (zlib releases the GIL), each piece primed with the 32 KiB
before it, as pigz does. The pieces do not depend on the number of threads,
so the same image always gives the same bytes. A 12 MP segmentation at
K = 16 encodes about 4x faster than with Pillow (two cores), into a smaller file.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping

import numpy as np

from kmseg._parallel import parallel_map

__all__ = ["COMPRESS_LEVEL", "encode_png"]

#: zlib level of the image data. Level 5 takes half the time of zlib's
#: default 6 for 4% more bytes; with unfiltered rows the file is still
#: smaller than Pillow's at level 6.
COMPRESS_LEVEL = 5
#: Bytes of filtered rows compressed as one piece.
_PIECE = 1 << 20
#: Deflate's window: each piece is primed with this much data before it.
_WINDOW = 1 << 15
#: The eight bytes every PNG file starts with.
SIGNATURE = b"\x89PNG\r\n\x1a\n"
_GREY, _INDEXED = 0, 3


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _text_chunk(key: str, value: str) -> bytes:
    try:
        return _chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
    except UnicodeEncodeError:  # iTXt: uncompressed, no language tag
        return _chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode("utf-8"))


def _bit_depth(n_colors: int) -> int:
    return next(bits for bits in (1, 2, 4, 8) if n_colors <= 1 << bits)


def _rows(pixels: np.ndarray, bits: int) -> np.ndarray:
    """Each row packed to ``bits`` per pixel, after a 0 byte (filter "None")."""
    height, width = pixels.shape
    per_byte = 8 // bits
    padded = -width % per_byte
    if padded:
        pixels = np.pad(pixels, ((0, 0), (0, padded)))
    packed = pixels[:, ::per_byte].copy() if per_byte > 1 else pixels
    for j in range(1, per_byte):
        packed <<= bits
        packed |= pixels[:, j::per_byte]
    rows = np.empty((height, packed.shape[1] + 1), dtype=np.uint8)
    rows[:, 0] = 0
    rows[:, 1:] = packed
    return rows


def _compress_piece(data: memoryview, primer: bytes, last: bool, level: int) -> bytes:
    if primer:
        z = zlib.compressobj(level, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, primer)
    else:
        z = zlib.compressobj(level, zlib.DEFLATED, -15)
    return z.compress(data) + z.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def _deflate(raw: bytes | np.ndarray, level: int) -> bytes:
    """A zlib stream of ``raw`` (bytes or a 1-D uint8 array), its pieces compressed in parallel."""
    view = memoryview(raw)
    starts = range(0, max(len(raw), 1), _PIECE)
    jobs = [(view[s:s + _PIECE], bytes(view[max(0, s - _WINDOW):s]), s + _PIECE >= len(raw), level)
            for s in starts]
    pieces = parallel_map(lambda job: _compress_piece(*job), jobs)
    # zlib header: deflate, 32 KiB window, default compression, no dictionary
    return b"\x78\x9c" + b"".join(pieces) + struct.pack(">I", zlib.adler32(raw))


def encode_png(pixels: np.ndarray, palette: bytes | None = None,
               text: Mapping[str, str] | None = None, level: int = COMPRESS_LEVEL) -> bytes:
    """Encode a one-channel 8-bit image as PNG.

    Parameters
    ----------
    pixels : (H, W) uint8 array
        Palette indices, or grey levels when ``palette`` is None.
    palette : bytes, optional
        RGB triples, at most 256; every index in ``pixels`` must be below
        their number. Palettes of up to 16 colours are stored with fewer
        bits per pixel.
    text : mapping of str to str, optional
        Stored as text chunks (tEXt, or iTXt when not Latin-1) before the
        image data.
    level : int
        zlib compression level, 0 to 9.

    Returns
    -------
    bytes
        The PNG file.
    """
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim != 2 or pixels.size == 0:
        raise ValueError(f"encode_png needs a non-empty (H, W) array, got shape {pixels.shape}")
    height, width = pixels.shape
    head = [SIGNATURE]
    if palette is None:
        bits, color_type = 8, _GREY
    else:
        n_colors = len(palette) // 3
        if not 1 <= n_colors <= 256 or len(palette) % 3:
            raise ValueError(f"a palette holds 1 to 256 RGB triples, got {len(palette)} bytes")
        if int(pixels.max()) >= n_colors:
            raise ValueError(f"pixel index {int(pixels.max())} is past the palette's {n_colors} colours")
        bits, color_type = _bit_depth(n_colors), _INDEXED
    head.append(_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bits, color_type, 0, 0, 0)))
    if palette is not None:
        head.append(_chunk(b"PLTE", bytes(palette)))
    head.extend(_text_chunk(key, value) for key, value in (text or {}).items())
    data = _deflate(_rows(pixels, bits).reshape(-1), level)  # the rows' memory itself, not a bytes copy
    return b"".join(head) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")
