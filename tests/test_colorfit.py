"""The histogram k-means (kmseg.engine._colorfit) against independent answers:
a layout whose best clustering is known, and scikit-learn's Lloyd run to
its fixed point."""

from __future__ import annotations

import numpy as np
import pytest
from imagetools import sample_image

from kmseg.engine import _colorfit


def histogram_of(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = _colorfit.pixel_codes(img)
    distinct, counts = np.unique(codes, return_counts=True)
    return distinct, _colorfit.codes_to_rgb(distinct).astype(np.float64), counts.astype(np.float64)


def three_blobs() -> np.ndarray:
    """Pixels of three well separated colour blobs, as an (n, 1, 3) image."""
    rng = np.random.default_rng(0)
    centres = np.array([[40.0, 40.0, 40.0], [200.0, 60.0, 60.0], [60.0, 200.0, 200.0]])
    pixels = np.concatenate([c + rng.normal(0, 6, (3000, 3)) for c in centres])
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)[:, None, :]


def test_jumps_leave_a_local_optimum_lloyd_cannot():
    img = three_blobs()
    codes, Y, w = histogram_of(img)
    levels = _colorfit._build_levels(codes, Y, w)
    stats = _colorfit.prepare(levels)
    # Two centres share the first blob, one sits between the other two:
    # a fixed point of Lloyd, far from the best clustering.
    C0 = np.array([[35.0, 40.0, 40.0], [45.0, 40.0, 40.0], [130.0, 130.0, 130.0]])
    tol_abs = 1e-4 * _colorfit.variance(levels)
    C, items, stuck, n_iter, converged = _colorfit._refine(stats, Y, C0, 300, tol_abs)
    assert converged
    blob = np.argmin(((Y[:, None, :] - np.array([[40, 40, 40], [200, 60, 60], [60, 200, 200]])) ** 2).sum(2), 1)
    best = sum(float(w[blob == b] @ ((Y[blob == b] - w[blob == b] @ Y[blob == b] / w[blob == b].sum()) ** 2)
                     .sum(1)) for b in range(3))
    assert stuck > 2 * best  # Lloyd alone stays there
    C, items, inertia, n_iter, converged = _colorfit._jumps(stats, Y, (C, items, stuck, n_iter, converged), 300,
                                                            tol_abs)
    assert converged
    assert inertia == pytest.approx(best, rel=1e-9)
    assert inertia == pytest.approx(items.inertia(C), rel=1e-12)


@pytest.mark.parametrize("k", [4, 8])
def test_small_histograms_reach_the_lloyd_fixed_point(k):
    # Lloyd's last passes on a photo can move the centres less than tol
    # each while the error still drops; on a small histogram the exact
    # passes go on. scikit-learn's Lloyd with tol=0 from our centres
    # (the same basin) finds the fixed point: we must be at it already.
    from sklearn.cluster import KMeans

    codes, Y, w = histogram_of(sample_image("china.jpg"))
    C, labels, inertia, n_iter, converged = _colorfit.fit_colors(
        codes, Y, w, k, 300, 1e-4, 8, np.random.default_rng(0), integer_centers=False)
    assert converged
    ref = KMeans(k, init=C, n_init=1, tol=0, max_iter=1000).fit(Y, sample_weight=w)
    assert inertia <= ref.inertia_ * (1 + 2e-5)


def test_large_histograms_pass_through_finer_cubes_and_stay_exact(monkeypatch):
    # Where the exact passes stop at tol (many colours x clusters), Lloyd
    # first runs on the cubes between the trial's and the colours. The fit
    # must still be exact over every colour: each colour at its nearest
    # centre, the inertia that of those labels, no higher than one
    # scikit-learn run's.
    from sklearn.cluster import KMeans

    monkeypatch.setattr(_colorfit, "_CHEAP_FINAL_WORK", 0)
    monkeypatch.setattr(_colorfit, "_MID_SHRINK", 1.0)
    passes = []
    through = _colorfit._through_finer_cubes

    def spy(*args):
        C, n = through(*args)
        passes.append(n)
        return C, n

    monkeypatch.setattr(_colorfit, "_through_finer_cubes", spy)
    codes, Y, w = histogram_of(sample_image("china.jpg"))
    k = 24
    C, labels, inertia, n_iter, converged = _colorfit.fit_colors(
        codes, Y, w, k, 300, 1e-4, 16, np.random.default_rng(1), integer_centers=False)  # segment's n_init at K=24
    assert passes and passes[0] > 0
    d = ((Y[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
    own = d[np.arange(Y.shape[0]), labels]
    assert np.all(own <= d.min(axis=1) + 1e-9)
    assert inertia == pytest.approx(float(w @ own), rel=1e-9)
    ref = KMeans(k, n_init=1, random_state=0).fit(Y, sample_weight=w)
    assert inertia <= ref.inertia_


@pytest.mark.parametrize("seed", range(4))
def test_cheapest_removal_at_once_agrees_with_the_bounded_search(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """The cost of removing each centre (its colours going to their second
    nearest), found for every centre at once on few items, is the bounded
    search's, centre and cost; empty clusters cost nothing."""
    rng = np.random.default_rng(seed)
    k = 7
    mean = rng.uniform(0, 255, (300, 3))
    w = rng.integers(1, 50, 300).astype(float)
    C = rng.uniform(0, 255, (k, 3))
    C[3] = 1000.0  # far away: an empty cluster
    sq = ((mean[:, None, :] - C[None]) ** 2).sum(axis=2)
    lab = sq.argmin(axis=1)
    own = sq[np.arange(300), lab]
    lower = np.zeros(300)  # a valid (loose) bound: the search costs every centre
    monkeypatch.setattr(_colorfit, "_SMALL_REMOVAL_WORK", 0)
    j_loop, cost_loop = _colorfit._cheapest_removal(mean, w, lab, own, lower, C)
    monkeypatch.setattr(_colorfit, "_SMALL_REMOVAL_WORK", 10**9)
    j_once, cost_once = _colorfit._cheapest_removal(mean, w, lab, own, lower, C)
    assert (j_once, cost_once) == (3, 0.0) == (j_loop, cost_loop)
    C[3] = mean[0] + 0.5  # now every cluster has colours
    sq = ((mean[:, None, :] - C[None]) ** 2).sum(axis=2)
    lab = sq.argmin(axis=1)
    own = sq[np.arange(300), lab]
    monkeypatch.setattr(_colorfit, "_SMALL_REMOVAL_WORK", 0)
    j_loop, cost_loop = _colorfit._cheapest_removal(mean, w, lab, own, lower, C)
    monkeypatch.setattr(_colorfit, "_SMALL_REMOVAL_WORK", 10**9)
    j_once, cost_once = _colorfit._cheapest_removal(mean, w, lab, own, lower, C)
    second = np.sort(sq, axis=1)[:, 1]
    brute = [float((w[lab == c] * (second[lab == c] - own[lab == c])).sum()) for c in range(k)]
    assert j_once == j_loop == int(np.argmin(brute))
    assert cost_once == pytest.approx(cost_loop, rel=1e-12) and cost_once == pytest.approx(min(brute), rel=1e-12)
