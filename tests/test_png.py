"""kmseg's own PNG writer (indexed and greyscale): checked by a decoder written
here from the PNG specification, by Pillow, and against Pillow's file size."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import kmseg
from kmseg.io import _png


def parse_png(data: bytes) -> dict:
    """Decode a PNG of bit depth 1-8, colour type 0 or 3, no interlace, by
    the specification: every chunk's CRC and the zlib stream's checksum are
    verified, each row's filter type must be 0 (None)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    kinds = [k for k, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and pos == len(data)
    width, height, bits, color_type, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (comp, filt, interlace) == (0, 0, 0)
    raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))  # checks the Adler-32 too
    stride = (width * bits + 7) // 8
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1)
    assert (rows[:, 0] == 0).all()
    bits_per_row = np.unpackbits(rows[:, 1:], axis=1)[:, :width * bits].reshape(height, width, bits)
    pixels = (bits_per_row * (1 << np.arange(bits - 1, -1, -1))).sum(axis=2).astype(np.uint8)
    text = {}
    for kind, body in chunks:
        if kind == b"tEXt":
            key, value = body.split(b"\0", 1)
            text[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"iTXt":
            key, rest = body.split(b"\0", 1)
            assert rest[:2] == b"\0\0"  # not compressed
            _lang, _translated, value = rest[2:].split(b"\0", 2)
            text[key.decode("latin-1")] = value.decode("utf-8")
    palette = next((b for k, b in chunks if k == b"PLTE"), None)
    return {"pixels": pixels, "bits": bits, "color_type": color_type, "palette": palette, "text": text,
            "text_before_data": max((i for i, k in enumerate(kinds) if k in (b"tEXt", b"iTXt")), default=0)
            < kinds.index(b"IDAT")}


@pytest.mark.parametrize("n_colors, bits", [(1, 1), (2, 1), (3, 2), (4, 2), (5, 4), (16, 4), (17, 8), (256, 8)])
@pytest.mark.parametrize("width", [1, 7, 8, 9, 333])
def test_indexed_round_trip_at_every_bit_depth(n_colors: int, bits: int, width: int) -> None:
    rng = np.random.default_rng(width * 1000 + n_colors)
    pixels = rng.integers(0, n_colors, (23, width), dtype=np.uint8)
    palette = rng.integers(0, 256, n_colors * 3, dtype=np.uint8).tobytes()
    data = _png.encode_png(pixels, palette)
    decoded = parse_png(data)
    assert decoded["bits"] == bits and decoded["color_type"] == 3 and decoded["palette"] == palette
    np.testing.assert_array_equal(decoded["pixels"], pixels)
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        assert im.mode == "P" and im.size == (width, 23)
        np.testing.assert_array_equal(np.asarray(im), pixels)
        assert bytes(im.getpalette()[:n_colors * 3]) == palette


def test_grey_keeps_eight_bits_and_text_of_any_script() -> None:
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)[:, :13]
    text = {"Software": "kmseg", "kmseg-params": '{"k": 3}', "note": "Zürich → 東京"}
    data = _png.encode_png(pixels, None, text)
    decoded = parse_png(data)
    assert decoded["bits"] == 8 and decoded["color_type"] == 0
    np.testing.assert_array_equal(decoded["pixels"], pixels)
    assert decoded["text"] == text and decoded["text_before_data"]
    with Image.open(io.BytesIO(data)) as im:
        assert im.text == text  # readable before the pixels are decoded
        np.testing.assert_array_equal(np.asarray(im), pixels)


def test_large_image_is_compressed_in_pieces_the_same_for_any_thread_count(monkeypatch) -> None:
    rng = np.random.default_rng(7)
    # 3 MB of rows: three pieces; blocks of one value, like a segmentation
    pixels = np.kron(rng.integers(0, 200, (150, 250), dtype=np.uint8), np.ones((10, 8), dtype=np.uint8))
    outputs = set()
    for n in ("1", "2", "3"):
        monkeypatch.setenv("KMSEG_THREADS", n)
        outputs.add(_png.encode_png(pixels, bytes(range(200)) * 3))
    assert len(outputs) == 1
    data = outputs.pop()
    assert data.count(b"IDAT") == 1
    np.testing.assert_array_equal(parse_png(data)["pixels"], pixels)


def test_refuses_what_it_cannot_write() -> None:
    with pytest.raises(ValueError, match="past the palette"):
        _png.encode_png(np.full((2, 2), 4, np.uint8), bytes(12))
    with pytest.raises(ValueError, match="1 to 256 RGB"):
        _png.encode_png(np.zeros((2, 2), np.uint8), b"")
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        _png.encode_png(np.zeros((2, 2, 3), np.uint8), None)


def test_segmentation_png_is_smaller_than_pillows_and_carries_its_record(china: np.ndarray) -> None:
    seg = kmseg.segment(china, 16, seed=0)
    ours = seg.to_bytes("png")
    buf = io.BytesIO()
    seg.to_image().save(buf, "PNG")  # Pillow's defaults
    assert len(ours) < len(buf.getvalue())
    decoded = parse_png(ours)
    assert decoded["bits"] == 4
    np.testing.assert_array_equal(decoded["pixels"], seg.labels)
    assert decoded["text"] == seg.metadata()
    labels = parse_png(seg.label_bytes())
    assert labels["color_type"] == 0 and labels["bits"] == 8
    np.testing.assert_array_equal(labels["pixels"], seg.labels)


def test_transparent_and_rgb_images_still_go_through_pillow() -> None:
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 3] = 128
    seg = kmseg.segment(rgba, 1, seed=0)
    with Image.open(io.BytesIO(seg.to_bytes("png"))) as im:
        assert im.mode == "RGBA" and (np.asarray(im)[..., 3] == 128).all()
