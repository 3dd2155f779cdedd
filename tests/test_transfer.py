"""Palette transfer: segment(image, palette=...) maps every pixel to the
nearest given colour, from an array, a palette file or another image."""

from __future__ import annotations

import json

import numpy as np
import pytest

import kmseg
from kmseg.features._color import rgb_to_lab

PALETTE = np.array([[0, 0, 0], [255, 255, 255], [200, 40, 40], [30, 120, 60], [40, 60, 200]], np.uint8)


def brute_nearest(pixels: np.ndarray, palette: np.ndarray) -> np.ndarray:
    d = ((pixels[:, None, :].astype(float) - palette[None].astype(float)) ** 2).sum(axis=2)
    return d, d.argmin(axis=1)


def test_every_pixel_goes_to_its_nearest_colour(china):
    img = china[::3, ::3]
    seg = kmseg.segment(img, palette=PALETTE)
    pixels = img.reshape(-1, 3)
    d, expect = brute_nearest(pixels, PALETTE)
    got = seg.labels.ravel()
    # Ties may go either way; the distance must be the minimum.
    assert np.array_equal(d[np.arange(len(got)), got], d.min(axis=1))
    assert (got == expect).mean() > 0.999
    assert np.array_equal(seg.palette, PALETTE)
    assert seg.k == len(PALETTE) and seg.n_iter == 0
    assert seg.counts.tolist() == np.bincount(got, minlength=len(PALETTE)).tolist()
    assert seg.inertia == pytest.approx(float(d.min(axis=1).sum()), rel=1e-9)
    picture = np.asarray(seg.to_image().convert("RGB")).reshape(-1, 3)
    assert np.array_equal(picture, PALETTE[got])


def test_lab_space_uses_lab_distances(flower):
    img = flower[::4, ::4]
    seg = kmseg.segment(img, palette=PALETTE, color_space="lab")
    lab_px, lab_pal = rgb_to_lab(img.reshape(-1, 3)), rgb_to_lab(PALETTE)
    d = ((lab_px[:, None] - lab_pal[None]) ** 2).sum(axis=2)
    got = seg.labels.ravel()
    assert np.allclose(d[np.arange(len(got)), got], d.min(axis=1))


@pytest.mark.parametrize("fmt", ["json", "gpl", "txt", "css"])
def test_palette_files_written_by_kmseg_read_back(fmt, tmp_path, china):
    path = tmp_path / f"colours.{fmt}"
    path.write_bytes(kmseg.palette_bytes(PALETTE, np.ones(len(PALETTE), int), fmt))
    assert np.array_equal(kmseg.read_palette(path), PALETTE)
    img = china[::4, ::4]
    assert np.array_equal(kmseg.segment(img, palette=str(path)).labels,
                          kmseg.segment(img, palette=PALETTE).labels)


def test_hand_written_palette_files(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(["#ff0000", [0, 255, 0], {"hex": "#0000ff"}]))
    assert kmseg.read_palette(tmp_path / "a.json").tolist() == [[255, 0, 0], [0, 255, 0], [0, 0, 255]]
    (tmp_path / "b.gpl").write_text("GIMP Palette\nName: x\n#\n  1   2   3\tone\n250 251 252 two\n")
    assert kmseg.read_palette(tmp_path / "b.gpl").tolist() == [[1, 2, 3], [250, 251, 252]]


@pytest.mark.parametrize(
    "name, text",
    [("bad.json", "{not json"), ("bad.gpl", "no header\n1 2 3\n"), ("empty.txt", "nothing here"),
     ("range.json", "[[0, 0, 300]]"), ("bad.xyz", "#ffffff")],
)
def test_bad_palette_files_are_refused(name, text, tmp_path):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(kmseg.InvalidParameterError) as err:
        kmseg.read_palette(path)
    assert err.value.param == "palette"


def test_palette_fitted_on_another_image(china, flower):
    target = china[::3, ::3]
    other = flower[::3, ::3]
    seg = kmseg.segment(target, 4, palette=other, seed=3)
    fitted = kmseg.segment(other, 4, seed=np.random.default_rng(3)).palette
    assert np.array_equal(seg.palette, fitted)
    d, _ = brute_nearest(target.reshape(-1, 3), fitted)
    got = seg.labels.ravel()
    assert np.array_equal(d[np.arange(len(got)), got], d.min(axis=1))
    # The metadata holds the colours, so the run repeats without the other image.
    again = kmseg.segment(target, **seg.params)
    assert np.array_equal(again.labels, seg.labels)


@pytest.mark.parametrize(
    "kwargs, param",
    [(dict(palette=np.zeros((0, 3))), "palette"), (dict(palette=[[0, 0, 256]]), "palette"),
     (dict(palette=[[0.5, 0, 0]]), "palette"), (dict(palette=np.zeros((300, 3), int)), "palette"),
     (dict(k="auto", palette=np.zeros((4, 4, 3), np.uint8)), "k"), (dict(), "k")],
)
def test_bad_palettes(kwargs, param):
    with pytest.raises(kmseg.InvalidParameterError) as err:
        kmseg.segment(np.zeros((4, 4, 3), np.uint8), **kwargs)
    assert err.value.param == param
