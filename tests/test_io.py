"""Reading odd images and refusing bad ones; writing outputs."""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from imagetools import encode, quadrants, sample_image
from PIL import Image

import kmseg


def test_paths_bytes_files_pil_and_arrays_agree(tmp_path):
    img, _ = quadrants(40)
    png = encode(img)
    path = tmp_path / "q.png"
    path.write_bytes(png)
    sources = [str(path), path, png, io.BytesIO(png), Image.fromarray(img), img]
    results = [kmseg.segment(s, 4, seed=0) for s in sources]
    for r in results[1:]:
        assert np.array_equal(r.labels, results[0].labels)


def test_rgba_palette_and_grey_alpha_keep_transparency():
    img, _ = quadrants(32)
    alpha = np.tile(np.linspace(0, 255, 32).astype(np.uint8), (32, 1))
    rgba = Image.fromarray(np.dstack([img, alpha]), "RGBA")
    loaded = kmseg.load_image(encode(rgba))
    assert np.array_equal(loaded.alpha, alpha)

    pal = Image.fromarray(img).quantize(8)
    pal.info["transparency"] = 0
    loaded = kmseg.load_image(encode(pal, transparency=0))
    assert loaded.alpha is not None and (loaded.alpha == 0).any()

    la = Image.merge("LA", [Image.fromarray(img[:, :, 0]), Image.fromarray(alpha)])
    loaded = kmseg.load_image(encode(la))
    assert np.array_equal(loaded.rgb[:, :, 0], img[:, :, 0]) and np.array_equal(loaded.alpha, alpha)


def test_fully_transparent_image_is_still_segmented():
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:, 4:, :3] = 200
    result = kmseg.segment(encode(rgba), 2, seed=0)
    assert result.k == 2 and any("transparent" in n for n in result.notes)
    assert (np.asarray(result.to_image())[:, :, 3] == 0).all()


def test_sixteen_bit_png_is_scaled():
    grey16 = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)
    loaded = kmseg.load_image(encode(Image.fromarray(grey16)))
    expected = np.rint(grey16 / 257).astype(np.uint8)
    assert np.abs(loaded.rgb[:, :, 0].astype(int) - expected).max() <= 1
    assert any("16-bit" in n for n in loaded.notes)
    arr = kmseg.load_image(np.stack([grey16] * 3, axis=2))
    assert np.abs(arr.rgb[:, :, 1].astype(int) - expected).max() <= 1


def test_cmyk_jpeg_including_adobe_inverted():
    img = sample_image("flower.jpg")[::4, ::4]
    cmyk = Image.fromarray(img).convert("CMYK")
    loaded = kmseg.load_image(encode(cmyk, "JPEG", quality=95))
    assert loaded.rgb.shape == img.shape
    assert np.abs(loaded.rgb.astype(int) - img).mean() < 8
    # Adobe's inverted CMYK: Pillow writes it when the APP14 marker is set.
    loaded_tiff = kmseg.load_image(encode(cmyk, "TIFF"))
    assert np.abs(loaded_tiff.rgb.astype(int) - img).mean() < 3


@pytest.mark.parametrize("orientation", range(2, 9))
def test_exif_orientation_is_applied(orientation):
    img = np.zeros((20, 30, 3), np.uint8)
    img[:5, :5] = 255  # a marker in the top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    # Store the pixels so that applying the orientation gives `img` back.
    inverse = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
               6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_270}[orientation]
    stored = Image.fromarray(img).transpose(inverse)
    loaded = kmseg.load_image(encode(stored, "JPEG", exif=exif, quality=95))
    assert loaded.rgb.shape == img.shape
    assert loaded.rgb[:5, :5].mean() > 200 and loaded.rgb[-5:, -5:].mean() < 50


def test_multi_frame_gif_uses_first_frame():
    frames = [Image.fromarray(np.full((10, 10, 3), v, np.uint8)) for v in (0, 128, 255)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    loaded = kmseg.load_image(buf.getvalue())
    assert loaded.rgb.max() == 0 and any("first of 3 frames" in n for n in loaded.notes)


@pytest.mark.parametrize(
    "data, error, text",
    [
        (b"", kmseg.ImageDecodeError, "empty"),
        (b"<html><body>hi</body></html>", kmseg.UnsupportedFormatError, "HTML"),
        (b"just some text, named .jpg", kmseg.ImageDecodeError, "not an image"),
        (b"%PDF-1.7\n...", kmseg.UnsupportedFormatError, "PDF"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n", kmseg.UnsupportedFormatError, "EPS"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script/></svg>',
         kmseg.UnsupportedFormatError, "SVG"),
        (b"PK\x03\x04" + b"\0" * 40, kmseg.UnsupportedFormatError, "ZIP"),
    ],
)
def test_non_images_are_refused_clearly(data, error, text):
    with pytest.raises(error, match=text):
        kmseg.load_image(data)


def test_truncated_jpeg_and_png_are_refused():
    img = sample_image("china.jpg")
    for fmt in ("JPEG", "PNG"):
        data = encode(img, fmt)
        with pytest.raises(kmseg.ImageDecodeError, match="truncated|corrupt"):
            kmseg.load_image(data[: len(data) // 2])


def png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10))


def test_huge_declared_size_is_refused_before_decoding():
    with pytest.raises(kmseg.ImageTooLargeError, match="limit"):
        kmseg.load_image(png_header_only(65000, 65000))
    with pytest.raises(kmseg.ImageTooLargeError, match="max_pixels"):
        kmseg.load_image(png_header_only(100, 100), max_pixels=9999)
    with pytest.raises(kmseg.ImageTooLargeError):
        kmseg.segment(np.zeros((100, 101, 3), np.uint8), 2, max_pixels=10_000)
    assert kmseg.load_image(np.zeros((100, 100, 3), np.uint8), max_pixels=10_000).width == 100


def test_missing_file_and_bad_array():
    with pytest.raises(kmseg.ImageDecodeError, match="no such file"):
        kmseg.load_image("/nonexistent/x.png")
    with pytest.raises(kmseg.InvalidParameterError, match="shape"):
        kmseg.load_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(kmseg.InvalidParameterError, match=r"\[0, 1\]"):
        kmseg.load_image(np.full((4, 4), 3.0))


def test_save_formats_and_metadata(tmp_path):
    img = sample_image("flower.jpg")[::4, ::4]
    result = kmseg.segment(img, 6, seed=9)
    png = result.save(tmp_path / "out.png")
    with Image.open(png) as im:
        assert im.mode == "P" and im.size == (img.shape[1], img.shape[0])
        assert len(im.getcolors()) <= 6
    meta = kmseg.read_metadata(png)
    params = json.loads(meta["kmseg-params"])
    assert params["seed"] == 9 and params["k"] == 6 and meta["kmseg-version"] == kmseg.__version__
    rerun = kmseg.segment(img, **{k: v for k, v in params.items()})
    assert rerun.to_bytes() == png.read_bytes()
    for ext, fmt in [("jpg", "JPEG"), ("webp", "WEBP")]:
        path = result.save(tmp_path / f"out.{ext}", quality=80)
        with Image.open(path) as im:
            assert im.format == fmt and "exif" not in im.info and "icc_profile" not in im.info
    labels = result.save_labels(tmp_path / "labels.png")
    assert np.array_equal(np.asarray(Image.open(labels)), result.labels)
    with pytest.raises(kmseg.InvalidParameterError, match="png, jpg, webp, gif"):
        result.save(tmp_path / "out.bmp")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.png", "out.jpg", "out.png", "out.webp"]


def test_atomic_write_leaves_old_content_on_failure(tmp_path):
    target = tmp_path / "keep.png"
    target.write_bytes(b"old")

    class Boom(bytes):
        pass

    with pytest.raises(TypeError):
        kmseg.atomic_write(target, None)  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_outputs_get_the_usual_file_mode(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        path = kmseg.atomic_write(tmp_path / "x.bin", b"data")
    finally:
        os.umask(umask)
    assert path.read_bytes() == b"data"
    assert (path.stat().st_mode & 0o777) == 0o644


# ------------------------------------------------ issue 14: odd files, kept transparency


def _read_in_thread(path, limit: float = 30.0):
    """load_image(path) in a daemon thread: a read that blocks (a pipe) cannot hang the suite."""
    import threading

    box: dict[str, object] = {}

    def read() -> None:
        try:
            box["result"] = kmseg.load_image(path)
        except Exception as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(limit)
    return box, t.is_alive()


def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "x.jpg"
    os.mkfifo(fifo)
    try:
        box, blocked = _read_in_thread(fifo)
    finally:  # a reader stuck in open() is released by a writer appearing
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    assert not blocked, "load_image blocked on a named pipe"
    assert isinstance(box.get("error"), kmseg.ImageDecodeError)
    assert "named pipe" in str(box["error"]) and "not a regular file" in str(box["error"])


def test_a_device_is_refused_not_read():
    import os

    # /dev/null, not an endless device: on code that reads devices, the test must fail, not fill memory.
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null here")
    with pytest.raises(kmseg.ImageDecodeError, match="character device, not a regular file"):
        kmseg.load_image("/dev/null")


def _with_colour_key(mode: str):
    """A small image of 3 values whose first value is the tRNS colour key, and that key's mask."""
    if mode == "RGB":
        values = np.array([[255, 0, 0], [0, 200, 0], [0, 0, 255]], np.uint8)
        key = (255, 0, 0)
    else:
        values = np.array([10, 120, 240], np.uint8)
        key = 10
    index = np.array([[0, 1, 2, 0], [1, 0, 2, 2], [0, 0, 1, 2]])
    img = Image.fromarray(values[index], mode)
    buf = io.BytesIO()
    img.save(buf, "PNG", transparency=key)
    return buf.getvalue(), index == 0


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_trns_colour_key_becomes_alpha(mode, tmp_path):
    data, transparent = _with_colour_key(mode)
    assert b"tRNS" in data
    loaded = kmseg.load_image(data)
    assert loaded.alpha is not None, "the tRNS colour key was dropped"
    assert np.array_equal(loaded.alpha == 0, transparent) and set(np.unique(loaded.alpha)) == {0, 255}
    out = kmseg.segment(data, 2, seed=0).to_image()
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[:, :, 3] == 0, transparent)


def test_sixteen_bit_grey_png_with_a_colour_key_keeps_it():
    grey16 = (np.arange(12).reshape(3, 4) * 5000).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(grey16).save(buf, "PNG", transparency=10000)
    loaded = kmseg.load_image(buf.getvalue())
    assert loaded.alpha is not None and np.array_equal(loaded.alpha == 0, grey16 == 10000)


def test_png_with_a_two_megabyte_icc_profile_is_read():
    img, _ = quadrants(16)
    buf = io.BytesIO()
    profile = bytes(np.random.default_rng(0).integers(0, 256, 2_000_000, dtype=np.uint8))
    Image.fromarray(img).save(buf, "PNG", icc_profile=profile)
    loaded = kmseg.load_image(buf.getvalue())
    assert np.array_equal(loaded.rgb, img)
    assert any("ICC profile" in n for n in loaded.notes)


def test_thirty_two_bit_integer_tiff_note_says_32_bit():
    a = (np.arange(64).reshape(8, 8) * 1000).astype(np.int32)
    buf = io.BytesIO()
    Image.fromarray(a, "I").save(buf, "TIFF")
    loaded = kmseg.load_image(buf.getvalue())
    assert any("32-bit" in n for n in loaded.notes) and not any("16-bit" in n for n in loaded.notes)
