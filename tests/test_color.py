"""Colour conversions against published reference values."""

from __future__ import annotations

import numpy as np
import pytest

from kmseg.features._color import ciede2000, lab_to_rgb, rgb_to_lab

# Sharma, Wu and Dalal (2005), table 1, a selection of pairs.
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def test_ciede2000_reference_pairs():
    lab1 = np.array([p[0] for p in SHARMA])
    lab2 = np.array([p[1] for p in SHARMA])
    assert ciede2000(lab1, lab2) == pytest.approx([p[2] for p in SHARMA], abs=1e-4)
    assert ciede2000(lab2, lab1) == pytest.approx([p[2] for p in SHARMA], abs=1e-4)


def test_lab_reference_values():
    # sRGB white is L*=100, a*=b*=0; pure red is (53.24, 80.09, 67.20).
    lab = rgb_to_lab(np.array([[255, 255, 255], [255, 0, 0], [0, 0, 0]], dtype=np.uint8))
    assert lab[0] == pytest.approx([100, 0, 0], abs=1e-3)
    assert lab[1] == pytest.approx([53.24, 80.09, 67.20], abs=0.01)
    assert lab[2] == pytest.approx([0, 0, 0], abs=1e-9)


def test_round_trip_is_exact_for_8_bit_colours():
    rgb = np.random.default_rng(0).integers(0, 256, (2000, 3)).astype(np.uint8)
    back = lab_to_rgb(rgb_to_lab(rgb))
    assert np.array_equal(np.rint(back).astype(np.uint8), rgb)
    assert rgb_to_lab(rgb) == pytest.approx(rgb_to_lab(rgb.astype(float)), abs=1e-9)


# ---------------------------------------------------------------- OKLab

# sRGB primaries, white and black in OKLab (Björn Ottosson, "A perceptual color
# space for image processing", 2020; the same values as CSS Color 4's examples).
OKLAB_REFERENCE = [
    ((255, 255, 255), (1.0, 0.0, 0.0)),
    ((255, 0, 0), (0.62796, 0.22486, 0.12585)),
    ((0, 255, 0), (0.86644, -0.23389, 0.17950)),
    ((0, 0, 255), (0.45201, -0.03246, -0.31153)),
    ((0, 0, 0), (0.0, 0.0, 0.0)),
]


def test_oklab_reference_values():
    from kmseg.features._color import rgb_to_oklab

    rgb = np.array([p[0] for p in OKLAB_REFERENCE], dtype=np.uint8)
    got = rgb_to_oklab(rgb)
    for (colour, want), row in zip(OKLAB_REFERENCE, got):
        assert row == pytest.approx(want, abs=6e-6), colour
    # the same from float input
    assert rgb_to_oklab(rgb.astype(np.float64)) == pytest.approx(got, abs=1e-12)


def test_oklab_round_trip_is_exact_to_float64():
    from kmseg.features._color import oklab_to_rgb, rgb_to_oklab

    rng = np.random.default_rng(1)
    rgb = rng.uniform(0, 255, (5000, 3))
    assert np.abs(oklab_to_rgb(rgb_to_oklab(rgb)) - rgb).max() < 1e-9
    rgb8 = rng.integers(0, 256, (5000, 3)).astype(np.uint8)
    assert np.array_equal(np.rint(oklab_to_rgb(rgb_to_oklab(rgb8))).astype(np.uint8), rgb8)


def test_out_of_gamut_oklab_is_clipped():
    from kmseg.features._color import oklab_to_rgb

    rgb = oklab_to_rgb(np.array([[1.2, 0.0, 0.0], [0.5, 0.4, 0.4], [-0.1, 0.0, 0.0]]))
    assert rgb.min() >= 0 and rgb.max() <= 255 and rgb[0] == pytest.approx([255, 255, 255])


def test_every_colour_space_has_a_pair_of_conversions():
    from kmseg.features._color import COLOR_SPACES, from_space, to_space

    rgb = np.random.default_rng(2).integers(0, 256, (300, 3)).astype(np.uint8)
    for space in COLOR_SPACES:
        assert np.array_equal(np.rint(from_space(space)(to_space(space)(rgb))).astype(np.uint8), rgb), space
