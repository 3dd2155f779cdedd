"""kmseg reaches the best palette where it is known.

Grey images of a few flat grey levels: every centre of the optimal 8-bit
palette is then a grey level too (for any partition the best whole-number
centre of a cluster is its rounded mean, grey here), so trying every set of
K grey levels finds the lowest all-pixel SSE a K-colour palette can have.
Seeds 0-4 must all reach it. The cases are small histograms whose
whole-number optimum is not where the float optimum rounds to: kmseg must
choose its winner by the error of the palette it returns.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import kmseg


def grey_image(levels: list[int], counts: list[int]) -> np.ndarray:
    """A (1, n, 3) uint8 image with ``counts[i]`` pixels of grey ``levels[i]``."""
    row = np.repeat(np.asarray(levels, dtype=np.uint8), counts)
    return np.repeat(row[None, :, None], 3, axis=2)


def best_grey_palette_sse(levels: list[int], counts: list[int], k: int) -> float:
    """Lowest all-pixel SSE over every palette of k distinct grey levels (brute force)."""
    lv, w = np.asarray(levels, dtype=np.float64), np.asarray(counts, dtype=np.float64)
    best = np.inf
    for palette in itertools.combinations(range(min(levels), max(levels) + 1), k):
        d = ((lv[:, None] - np.asarray(palette, dtype=np.float64)[None, :]) ** 2).min(axis=1)
        best = min(best, 3.0 * float(w @ d))  # three equal channels
    return best


def pixel_sse(img: np.ndarray, seg: kmseg.Segmentation) -> float:
    """All-pixel SSE of the image against its segmentation's palette, computed here."""
    got = seg.palette[seg.labels].astype(np.float64)
    return float(((img.astype(np.float64) - got) ** 2).sum())


CASES = [
    (3, [1, 2, 12, 16, 19, 25, 28, 30, 38], [21, 2, 11, 17, 2, 26, 8, 6, 26]),
    (3, [1, 2, 3, 12, 35, 37, 39, 42, 43], [11, 9, 38, 5, 32, 29, 19, 9, 4]),
]


@pytest.mark.parametrize("k, levels, counts", CASES)
def test_small_histogram_reaches_the_best_palette_for_every_seed(k, levels, counts):
    img = grey_image(levels, counts)
    best = best_grey_palette_sse(levels, counts, k)
    for seed in range(5):
        seg = kmseg.segment(img, k, seed=seed)
        assert len(seg.palette) == k
        assert pixel_sse(img, seg) == pytest.approx(best, rel=1e-9), f"seed {seed}"
        assert seg.inertia == pytest.approx(best, rel=1e-9), f"seed {seed}"


def test_known_optimum_is_not_beaten():
    """The brute force is a true lower bound: no seed finds a lower SSE."""
    k, levels, counts = CASES[0]
    img = grey_image(levels, counts)
    best = best_grey_palette_sse(levels, counts, k)
    for seed in range(10):
        assert pixel_sse(img, kmseg.segment(img, k, seed=seed)) >= best - 1e-6
