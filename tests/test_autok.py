"""Automatic K: the elbow of the inertia curve, or the smallest K reaching a PSNR."""

from __future__ import annotations

import numpy as np
import pytest

import kmseg
from kmseg.features._autok import _elbow

COLOURS = np.array(
    [[230, 30, 30], [30, 200, 40], [40, 60, 220], [240, 230, 60], [20, 20, 20], [240, 240, 240],
     [200, 60, 220], [40, 200, 210], [130, 80, 30], [120, 120, 130]], float)


def made_with(n: int, noise: float = 6.0, seed: int = 0, size: int = 120) -> np.ndarray:
    """An image of exactly ``n`` colours in blobs of unequal size, plus noise."""
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, size, (n, 2))
    yy, xx = np.mgrid[0:size, 0:size]
    # Weighted Voronoi cells: unequal areas, each colour present.
    scale = np.linspace(1.0, 1.8, n)
    d = ((yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2) * scale
    truth = d.argmin(axis=2)
    img = COLOURS[:n][truth] + rng.normal(0, noise, (size, size, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("n", [2, 3, 5, 7, 10])
def test_elbow_finds_the_number_of_colours(n):
    seg = kmseg.segment(made_with(n, seed=n), "auto", seed=0)
    print(f"made with {n} colours + noise: elbow K = {seg.k}")
    assert seg.k == n and seg.k_requested == n
    ks = [k for k, _, _ in seg.k_curve]
    assert ks == list(range(1, 17))
    inertia = [i for _, i, _ in seg.k_curve]
    assert inertia[n - 1] < 0.5 * inertia[n - 2]  # the drop that makes the elbow
    assert seg.params["k"] == "auto" and seg.summary()["k_curve"][0]["k"] == 1


@pytest.mark.parametrize("n", [3, 6])
def test_target_psnr_gives_the_smallest_k_reaching_it(n):
    img = made_with(n, seed=10 + n)
    seg = kmseg.segment(img, "auto", target_psnr=28.0, seed=0)
    print(f"made with {n} colours + noise: K for 28 dB = {seg.k}, PSNR {seg.psnr:.1f}")
    assert seg.k == n and seg.psnr >= 28.0
    below = kmseg.segment(img, n - 1, seed=0)
    assert below.psnr < 28.0
    curve = dict((k, p) for k, _, p in seg.k_curve)
    assert curve[n] >= 28.0 and all(p < 28.0 for k, p in curve.items() if k < n)
    # The reported PSNR is the real one of the result.
    mse = ((img.reshape(-1, 3).astype(float) - seg.palette[seg.labels.ravel()]) ** 2).mean()
    assert seg.psnr == pytest.approx(10 * np.log10(255**2 / mse), rel=1e-9)


def test_photo_auto_k_is_reproducible_and_consistent(china):
    img = china[::2, ::2]
    seg = kmseg.segment(img, "auto", seed=5)
    again = kmseg.segment(img, **seg.params)
    assert again.k == seg.k and np.array_equal(again.labels, seg.labels)
    inertia = np.array([i for _, i, _ in seg.k_curve])
    assert np.all(np.diff(inertia) < 0)
    assert 2 <= seg.k <= 8
    reach = kmseg.segment(img, "auto", target_psnr=26.0, seed=5)
    assert reach.psnr >= 26.0 and reach.k > seg.k


def test_single_colour_and_unreachable_target():
    flat = np.full((8, 8, 3), 77, np.uint8)
    seg = kmseg.segment(flat, "auto", seed=0)
    assert seg.k == 1
    two = np.zeros((8, 8, 3), np.uint8)
    two[:, 4:] = 255
    seg = kmseg.segment(two, "auto", target_psnr=60.0, seed=0)
    assert seg.k == 2 and np.isinf(seg.psnr)


def test_elbow_of_synthetic_curves():
    assert _elbow(np.array([100.0, 10, 9, 8, 7, 6])) == 2
    assert _elbow(np.array([100.0, 70, 40, 5, 4, 3, 2])) == 4
    assert _elbow(np.array([1000.0, 300, 100, 30, 10, 1, 0.9, 0.8, 0.7])) == 6
    assert _elbow(np.array([50.0, 20, 0, 0, 0])) == 3
    assert _elbow(np.array([5.0, 5.0])) == 2


@pytest.mark.parametrize(
    "kwargs, param",
    [(dict(k="many"), "k"), (dict(k="auto", target_psnr=0.5), "target_psnr"),
     (dict(k=4, target_psnr=30.0), "target_psnr"), (dict(k="auto", target_psnr="high"), "target_psnr")],
)
def test_bad_auto_parameters(kwargs, param):
    with pytest.raises(kmseg.InvalidParameterError) as err:
        kmseg.segment(made_with(2), **kwargs)
    assert err.value.param == param


def test_lab_space_and_metadata_round_trip():
    img = made_with(4, seed=44)
    seg = kmseg.segment(img, "auto", color_space="lab", seed=2)
    assert seg.k == 4 and seg.color_space == "lab"
    import json

    params = json.loads(seg.metadata()["kmseg-params"])
    assert params["k"] == "auto"
    again = kmseg.segment(img, **params)
    assert np.array_equal(again.labels, seg.labels)
