"""Floyd-Steinberg dithering of the picture output; labels stay undithered."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

import kmseg


def gradient(width: int = 384, height: int = 96) -> np.ndarray:
    x = np.linspace(0, 255, width)
    img = np.stack([x, 0.6 * x + 40, 255 - x], axis=-1)
    return np.repeat(np.rint(img)[None], height, axis=0).astype(np.uint8)


def blurred_error(picture: Image.Image, original: np.ndarray) -> float:
    soft = np.asarray(picture.convert("RGB").filter(ImageFilter.GaussianBlur(2)), dtype=float)
    ref = np.asarray(Image.fromarray(original).filter(ImageFilter.GaussianBlur(2)), dtype=float)
    return float(np.abs(soft - ref)[8:-8, 8:-8].mean())


def test_dithered_picture_is_closer_once_blurred_and_uses_only_the_palette():
    img = gradient()
    plain = kmseg.segment(img, 4, seed=0)
    dith = kmseg.segment(img, 4, seed=0, dither=True)
    assert np.array_equal(plain.labels, dith.labels) and np.array_equal(plain.palette, dith.palette)
    picture = dith.to_image()
    assert picture.mode == "P"
    rgb = np.asarray(picture.convert("RGB")).reshape(-1, 3)
    assert set(map(tuple, np.unique(rgb, axis=0).tolist())) <= set(map(tuple, dith.palette.tolist()))
    assert not np.array_equal(np.asarray(picture), dith.labels)  # the picture is dithered...
    assert np.array_equal(np.asarray(dith.label_image()), plain.labels)  # ...the labels are not
    e_plain, e_dith = blurred_error(plain.to_image(), img), blurred_error(picture, img)
    assert e_dith < 0.6 * e_plain, (e_plain, e_dith)
    assert dith.params["dither"] is True and dith.summary()["dither"] is True


def test_dither_reaches_saved_files_and_alpha(tmp_path):
    img = np.dstack([gradient(128, 32), np.full((32, 128), 255, np.uint8)])
    img[:, :10, 3] = 0
    seg = kmseg.segment(img, 3, seed=1, dither=True)
    out = seg.to_image()
    assert out.mode == "RGBA" and (np.asarray(out)[:, :10, 3] == 0).all()
    path = seg.save(tmp_path / "d.png")
    saved = np.asarray(Image.open(path).convert("RGBA"))
    assert np.array_equal(saved, np.asarray(out))
    assert Image.open(io.BytesIO(seg.to_bytes("png"))).size == (128, 32)


def test_dither_off_by_default_and_validated():
    seg = kmseg.segment(gradient(64, 8), 3, seed=0)
    assert seg.dither is False and np.array_equal(np.asarray(seg.to_image()), seg.labels)
    with pytest.raises(kmseg.InvalidParameterError) as err:
        kmseg.segment(gradient(8, 8), 3, dither="yes")
    assert err.value.param == "dither"
