"""color_space="oklab" on every face: the library, the CLI and batch (the API's
and the web app's in tests/api/test_api_oklab.py and tests/app/test_apptest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kmseg
from cli_helpers import run_kmseg, save_photo
from imagetools import sample_image

# The OKLab matrices (Ottosson 2020), written here independently of kmseg's.
M1 = np.array([[0.4122214708, 0.5363325363, 0.0514459929], [0.2119034982, 0.6806995451, 0.1073969566],
               [0.0883024619, 0.2817188376, 0.6299787005]])
M2 = np.array([[0.2104542553, 0.7936177850, -0.0040720468], [1.9779984951, -2.4285922050, 0.4505937099],
               [0.0259040371, 0.7827717662, -0.8086757660]])


def oklab(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.float64) / 255
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return np.cbrt(linear @ M1.T) @ M2.T


def six_colour_image() -> tuple[np.ndarray, np.ndarray]:
    colours = np.array([[250, 20, 20], [20, 200, 30], [30, 40, 230], [240, 240, 240], [15, 15, 15],
                        [200, 120, 40]], np.uint8)
    rng = np.random.default_rng(0)
    index = rng.integers(0, 6, (40, 50))
    return colours[index], index


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.ravel().tolist(), b.ravel().tolist()))
    return len(pairs) == len(set(a.ravel().tolist())) == len(set(b.ravel().tolist()))


def test_an_image_of_k_colours_comes_back_unchanged_in_oklab() -> None:
    image, index = six_colour_image()
    seg = kmseg.segment(image, 6, seed=0, color_space="oklab")
    assert seg.color_space == "oklab" and seg.k == 6
    assert np.array_equal(np.asarray(seg.to_image().convert("RGB")), image)
    assert same_partition(seg.labels, index)
    assert seg.inertia == pytest.approx(0.0, abs=1e-18) and seg.psnr == float("inf")


def test_inertia_and_centres_are_in_oklab_units() -> None:
    image = sample_image("china.jpg")[::4, ::4]
    seg = kmseg.segment(image, 8, seed=0, color_space="oklab")
    assert 0 <= seg.centers[:, 0].min() and seg.centers[:, 0].max() <= 1  # L runs from 0 to 1
    assert np.abs(seg.centers[:, 1:]).max() < 0.5
    diff = oklab(image.reshape(-1, 3)) - seg.centers[seg.labels.reshape(-1)]
    assert seg.inertia == pytest.approx(float((diff * diff).sum()), rel=1e-9)
    # Each centre is its cluster's mean in OKLab.
    for i in range(seg.k):
        members = oklab(image[seg.labels == i])
        assert seg.centers[i] == pytest.approx(members.mean(axis=0), abs=1e-6)


@pytest.mark.parametrize("kwargs", [{"k": "auto"}, {"k": 4, "spatial_weight": 1.0},
                                    {"k": 6, "min_region": 30}, {"k": None, "palette": [[0, 0, 0], [255, 255, 255]]}])
def test_the_features_run_in_oklab(kwargs: dict) -> None:
    image = sample_image("china.jpg")[::4, ::4]
    seg = kmseg.segment(image, **{"seed": 0, "color_space": "oklab", **kwargs})
    assert seg.color_space == "oklab" and seg.k >= 1 and np.isfinite(seg.inertia)
    assert 0 < seg.delta_e_mean < 100  # the quality figures stay CIEDE2000


def test_spatial_weight_in_oklab_splits_far_apart_squares() -> None:
    image = np.full((40, 120, 3), 255, np.uint8)
    image[10:30, 5:25] = (200, 30, 30)
    image[10:30, 95:115] = (200, 30, 30)
    seg = kmseg.segment(image, 3, seed=0, color_space="oklab", spatial_weight=3.0)
    assert seg.labels[20, 15] != seg.labels[20, 105]


def test_the_cli_and_batch_take_oklab(tmp_path: Path) -> None:
    save_photo(tmp_path / "photo.png", 48, 32)
    proc = run_kmseg("segment", tmp_path / "photo.png", "-k", "4", "--seed", "0", "--color-space", "oklab",
                     "-o", tmp_path / "out.png", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (item,) = json.loads(proc.stdout)["images"]
    assert item["color_space"] == "oklab"
    from kmseg import batch

    results = batch.segment_many([tmp_path / "photo.png"], tmp_path / "many", k=4, seed=0, color_space="oklab",
                                 manifest=False, jobs=1)
    assert [r.status for r in results] == ["done"] and results[0].summary["color_space"] == "oklab"
    bad = run_kmseg("segment", tmp_path / "photo.png", "-k", "4", "--color-space", "hsv", cwd=tmp_path)
    assert bad.returncode == 2 and "oklab" in bad.stderr
