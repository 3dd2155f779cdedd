"""A decoded file is kept as Pillow decoded it and read as RGB one band of rows
at a time: the bands must give exactly the whole image, whatever the mode,
EXIF orientation or band size, and segmenting in bands must give the same
result as segmenting the whole array."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from PIL import Image, ImageOps

import kmseg
import kmseg.io._decoded as decoded


@pytest.fixture
def small_bands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bands of a few rows (the images here are far below the real band size)."""
    monkeypatch.setattr(decoded, "BAND_PIXELS", 700)


def photo(width: int = 150, height: int = 100) -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return np.asarray(Image.fromarray(load_sample_image("flower.jpg")).resize((width, height)))


def encoded(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def pillow_rgba(data: bytes) -> np.ndarray:
    """The oracle: Pillow's whole image, upright, as RGBA."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGBA"))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_band_by_band(small_bands: None, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encoded(Image.fromarray(photo()), "JPEG", exif=exif, quality=95)
    loaded = kmseg.load_image(data)
    expected = pillow_rgba(data)
    assert (loaded.height, loaded.width) == expected.shape[:2]
    assert np.array_equal(loaded.rgb, expected[:, :, :3])


def _cases() -> dict[str, bytes]:
    rgb = photo()
    alpha = np.tile(np.arange(150, dtype=np.uint8) * 2, (100, 1))
    alpha[:10] = 0
    rgba = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    grey16 = (rgb[:, :, 0].astype(np.uint16) * 257 + 99).astype(np.uint16)
    return {
        "RGBA PNG": encoded(rgba, "PNG"),
        "LA PNG": encoded(rgba.convert("LA"), "PNG"),
        "P with tRNS": encoded(Image.fromarray(rgb).quantize(40), "PNG", transparency=3),
        "RGB with colour key": encoded(Image.fromarray(rgb), "PNG", transparency=tuple(int(v) for v in rgb[0, 0])),
        "CMYK JPEG": encoded(Image.fromarray(rgb).convert("CMYK"), "JPEG"),
        "16-bit grey with key": encoded(Image.fromarray(grey16), "PNG", transparency=int(grey16[4, 4])),
        "greyscale JPEG": encoded(Image.fromarray(rgb).convert("L"), "JPEG"),
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_bands_give_the_whole_image(small_bands: None, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    data = _cases()[name]
    in_bands = kmseg.load_image(data)
    monkeypatch.setattr(decoded, "BAND_PIXELS", 1 << 30)  # one band: the whole image at once
    whole = kmseg.load_image(data)
    assert np.array_equal(in_bands.rgb, whole.rgb)
    assert (in_bands.alpha is None) == (whole.alpha is None)
    if whole.alpha is not None:
        assert np.array_equal(in_bands.alpha, whole.alpha)
    assert in_bands.notes == whole.notes
    if name in ("RGBA PNG", "P with tRNS", "RGB with colour key"):  # Pillow's own RGBA conversion
        expected = pillow_rgba(data)
        assert np.array_equal(in_bands.rgb, expected[:, :, :3])
        assert np.array_equal(in_bands.alpha, expected[:, :, 3])


@pytest.mark.parametrize("alpha", [False, True])
def test_segmenting_in_bands_matches_the_whole_array(small_bands: None, alpha: bool) -> None:
    pixels = photo()
    if alpha:
        a = np.full(pixels.shape[:2], 255, np.uint8)
        a[::7] = 0
        pixels = np.dstack([pixels, a])
    data = encoded(Image.fromarray(pixels), "PNG")
    from_file = kmseg.segment(data, 12, seed=4)
    from_array = kmseg.segment(pixels, 12, seed=4)
    assert np.array_equal(from_file.labels, from_array.labels)
    assert np.array_equal(from_file.palette, from_array.palette)
    assert from_file.inertia == from_array.inertia
    assert np.array_equal(from_file.counts, from_array.counts)
    assert from_file.to_bytes("png") == from_array.to_bytes("png")


def test_min_region_reads_the_moved_pixels_from_the_bands(small_bands: None) -> None:
    pixels = photo()
    data = encoded(Image.fromarray(pixels), "PNG")
    from_file = kmseg.segment(data, 8, seed=2, min_region=30)
    from_array = kmseg.segment(pixels, 8, seed=2, min_region=30)
    assert np.array_equal(from_file.labels, from_array.labels)
    assert from_file.inertia == pytest.approx(from_array.inertia, rel=1e-12)
    assert from_file.psnr == from_array.psnr


def test_a_loaded_file_pickles(small_bands: None) -> None:
    """The web app caches loaded images with st.cache_data, which pickles them."""
    loaded = kmseg.load_image(_cases()["RGBA PNG"])
    again = pickle.loads(pickle.dumps(loaded))
    assert np.array_equal(again.rgb, loaded.rgb) and np.array_equal(again.alpha, loaded.alpha)
    assert (again.width, again.height, again.format, again.notes) == (150, 100, "PNG", loaded.notes)


def test_images_past_pillows_own_limit_open_up_to_max_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow refuses more than 2 x Image.MAX_IMAGE_PIXELS (179 MP by default)
    whatever max_pixels allows: kmseg's limit is the one that counts."""
    data = encoded(Image.fromarray(photo(80, 60)), "PNG")  # 4,800 pixels: past 2 x 1,000
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    loaded = kmseg.load_image(data, max_pixels=10_000)
    assert loaded.rgb.shape == (60, 80, 3)
    assert kmseg.segment(data, 3, seed=0, max_pixels=10_000).labels.shape == (60, 80)
    assert Image.MAX_IMAGE_PIXELS == 1000  # put back
    with pytest.raises(kmseg.ImageTooLargeError, match="4,800 pixels, more than the limit of 4,000"):
        kmseg.load_image(data, max_pixels=4000)
    assert Image.MAX_IMAGE_PIXELS == 1000
