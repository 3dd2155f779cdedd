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


# Where the wider search runs. It pays on flat colour and, for the jumps, on
# photos from K=16 up; elsewhere it only costs time. What a fit does is
# counted here (not timed): the starts finished, the jumps tried, the passes
# a try is given.


class FitSpy:
    """Counts the starts ``fit_colors`` finishes and the Lloyd runs its jumps start."""

    def __init__(self, monkeypatch):
        from kmseg.engine import _colorfit

        self.finished, self.jump_runs = 0, 0
        self._in_jumps = False
        best_of, jumps, refine = _colorfit.best_of, _colorfit._jumps, _colorfit._refine

        def spy_best_of(*args, **kwargs):
            self.finished += 1
            return best_of(*args, **kwargs)

        def spy_jumps(*args, **kwargs):
            self._in_jumps = True
            try:
                return jumps(*args, **kwargs)
            finally:
                self._in_jumps = False

        def spy_refine(*args, **kwargs):
            self.jump_runs += self._in_jumps
            return refine(*args, **kwargs)

        monkeypatch.setattr(_colorfit, "best_of", spy_best_of)
        monkeypatch.setattr(_colorfit, "_jumps", spy_jumps)
        monkeypatch.setattr(_colorfit, "_refine", spy_refine)


def test_a_photo_at_small_k_is_finished_once_without_wide_jumps(monkeypatch):
    # A photo (a few pixels a colour) at K=8: extra finished starts and
    # jumps found nothing lower on ten photos x five seeds, at 2-4x the time.
    from imagetools import sample_image

    img = sample_image("flower.jpg")
    colours = np.unique(img.reshape(-1, 3), axis=0).shape[0]
    assert 2 < img.shape[0] * img.shape[1] / colours < 10  # a photo's histogram
    spy = FitSpy(monkeypatch)
    kmseg.segment(img, 8, seed=0)
    assert spy.finished == 1
    assert spy.jump_runs == 0


@pytest.mark.parametrize("k, levels, counts", CASES)
def test_flat_colour_keeps_the_wide_search(monkeypatch, k, levels, counts):
    spy = FitSpy(monkeypatch)
    kmseg.segment(grey_image(levels, [40 * c for c in counts]), k, seed=0)
    assert spy.finished > 1


def test_a_hopeless_jump_try_is_given_up_before_its_passes_run_out():
    # Three tight blobs; the try puts two centres on one blob and the third
    # between the other two, a fixed point of Lloyd far above the best: its
    # error stops falling, so the try stops at a check instead of running
    # all its passes.
    from kmseg.engine import _colorfit

    rng = np.random.default_rng(0)
    blobs = np.array([[40.0, 40.0, 40.0], [200.0, 60.0, 60.0], [60.0, 200.0, 200.0]])
    pixels = np.concatenate([b + rng.normal(0, 6, (3000, 3)) for b in blobs])
    img = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)[:, None, :]
    codes, counts = np.unique(_colorfit.pixel_codes(img), return_counts=True)
    Y, w = _colorfit.codes_to_rgb(codes).astype(np.float64), counts.astype(np.float64)
    levels = _colorfit._build_levels(codes, Y, w)
    stats = _colorfit.prepare(levels)
    tol_abs = 1e-6 * _colorfit.variance(levels)
    best = _colorfit._refine(stats, Y, blobs, 300, tol_abs)[2]
    start = np.array([[35.0, 40.0, 40.0], [45.0, 40.0, 40.0], [130.0, 130.0, 130.0]])
    budget = 10
    C, items, got, passes, converged = _colorfit._judged(stats, Y, start, budget, tol_abs, best)
    assert passes < budget and not converged
    assert got > 2 * best
    assert _colorfit._refine(stats, Y, start, budget, tol_abs)[2] > 2 * best  # all its passes would not have made it
    assert got == pytest.approx(items.inertia(C), rel=1e-12)


def test_the_finer_cube_step_waits_for_larger_k(monkeypatch):
    # Lloyd on finer cubes before the exact passes (large histograms) cost
    # 20% of the time at 12 MP K=16 for 0.02% lower error: from K=24 only.
    from imagetools import sample_image

    from kmseg.engine import _colorfit

    monkeypatch.setattr(_colorfit, "_CHEAP_FINAL_WORK", 0)  # china taken for a large histogram
    monkeypatch.setattr(_colorfit, "_MID_SHRINK", 1.0)
    calls = []
    through = _colorfit._through_finer_cubes

    def spy(*args):
        calls.append(args[1])
        return through(*args)

    monkeypatch.setattr(_colorfit, "_through_finer_cubes", spy)
    img = sample_image("china.jpg")
    kmseg.segment(img, 16, seed=0)
    assert calls == []
    kmseg.segment(img, 32, seed=0)
    assert calls
