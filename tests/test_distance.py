"""The compiled distance transform (kmseg.engine.region_poles): every
region's pole on the half-pixel lattice, checked against a brute-force NumPy
oracle, the distance from each lattice point to the nearest pixel square of
another region, on small random region maps (ties and the image's border
included)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from kmseg.engine import region_poles


def framed_regions(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected regions of a label map framed by one pixel of its own
    label (-1), numbered by scipy (any numbering will do)."""
    padded = np.pad(labels.astype(np.int64), 1, constant_values=-1)
    out = np.zeros(padded.shape, dtype=np.int64)
    n = 0
    for value in np.unique(padded):
        comp, count = ndimage.label(padded == value)
        out[comp > 0] = comp[comp > 0] - 1 + n
        n += count
    return out, n


def oracle(regions: np.ndarray, n: int) -> tuple[np.ndarray, list[int]]:
    """Every region's largest squared distance (in half pixels) from a point
    of the half-pixel lattice inside it to the pixel squares of the other
    regions, and the first such point in raster order."""
    h, w = regions.shape
    best = np.zeros(n, dtype=np.int64)
    first = [-1] * n
    py, px = np.mgrid[:h, :w]
    lattice_w = 2 * w - 3
    for Y in range(2 * h - 3):
        for X in range(lattice_w):
            x2, y2 = X + 2, Y + 2  # the point, in half pixels (pixel (y, x) spans [2x, 2x + 2])
            touching = regions[(y2 - 1) // 2:y2 // 2 + 1, (x2 - 1) // 2:x2 // 2 + 1]  # the squares it lies on
            if (touching != touching.flat[0]).any():
                continue  # on an edge
            r = touching.flat[0]
            other = regions != r
            dx = np.maximum(np.maximum(2 * px - x2, x2 - 2 * px - 2), 0)[other]
            dy = np.maximum(np.maximum(2 * py - y2, y2 - 2 * py - 2), 0)[other]
            d2 = int((dx * dx + dy * dy).min())
            if d2 > best[r]:
                best[r], first[r] = d2, Y * lattice_w + X
    return best, first


@pytest.mark.parametrize("seed", range(12))
def test_poles_match_a_brute_force_distance(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 18, size=2)
    k = int(rng.integers(1, 4))
    labels = rng.integers(0, k, size=(h, w))
    if seed % 3 == 0:  # large flat regions: long plateaus of equal distance
        labels = np.repeat(np.repeat(labels[: (h + 3) // 4, : (w + 3) // 4], 4, 0), 4, 1)[:h, :w]
    regions, n = framed_regions(labels)
    d2, corner = region_poles(regions, n)
    best, first = oracle(regions, n)
    np.testing.assert_array_equal(d2, best)
    np.testing.assert_array_equal(corner, first)


def test_a_square_has_its_pole_at_its_centre() -> None:
    labels = np.zeros((30, 40), np.uint8)
    labels[5:25, 10:30] = 1
    regions, n = framed_regions(labels)
    d2, corner = region_poles(regions, n)
    r = regions[6, 11]
    assert d2[r] == 400  # 10 pixels, in half pixels squared
    y, x = divmod(int(corner[r]), 2 * regions.shape[1] - 3)
    assert (x / 2, y / 2) == (20, 15)  # in the label map's pixel coordinates (the frame is pixel 0)


def test_a_region_three_pixels_wide_has_its_pole_on_its_middle_row() -> None:
    labels = np.zeros((9, 12), np.uint8)
    labels[3:6, 2:10] = 1
    regions, n = framed_regions(labels)
    d2, point = region_poles(regions, n)
    r = regions[4, 3]
    assert d2[r] == 9  # 1.5 pixels from the long edges
    y, x = divmod(int(point[r]), 2 * regions.shape[1] - 3)
    assert (x / 2, y / 2) == (3.5, 4.5)  # the first pixel centre of the middle row with room on both sides


def test_bad_region_maps_are_refused() -> None:
    with pytest.raises(TypeError, match="int64"):
        region_poles(np.zeros((4, 4), np.int32), 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        region_poles(np.zeros((4, 4), np.int64)[:, ::2], 1)
    with pytest.raises(ValueError, match="between 0 and"):
        region_poles(np.full((4, 4), 3, np.int64), 2)
