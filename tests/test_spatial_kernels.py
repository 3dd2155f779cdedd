"""The compiled spatial passes (kmseg.engine._spatial_kernels) against the
plain NumPy versions in tests/spatial_reference.py: the tiles and bounds
must not change which centre is nearest, ties included."""

from __future__ import annotations

import numpy as np
import pytest

import kmseg.engine._spatial_kernels as sk
import spatial_reference as ref


def grid(rng: np.random.Generator, h: int, w: int, k: int, integer: bool):
    """A random grid and centres; integer data has many exact ties."""
    if integer:  # few values, so many pixels are at equal distances from two centres
        colors = rng.integers(0, 3, (h * w, 3)).astype(float)
        xs, ys = np.arange(w, dtype=float), np.arange(h, dtype=float)
        C = np.column_stack([rng.integers(0, 3, (k, 3)), rng.integers(0, w, k), rng.integers(0, h, k)])
        return colors, xs, ys, C.astype(float)
    s = rng.uniform(0.05, 5)
    colors = rng.uniform(0, 255, (h * w, 3))
    xs, ys = np.arange(w) * s, np.arange(h) * s
    C = np.column_stack([rng.uniform(0, 255, (k, 3)), rng.uniform(-5, w * s + 5, k), rng.uniform(-5, h * s + 5, k)])
    return colors, xs, ys, C


@pytest.mark.parametrize("integer", [True, False])
def test_assign_gives_the_exact_nearest_centre_for_any_tile(integer):
    rng = np.random.default_rng(7 + integer)
    ties = 0
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(1, 48, 2))
        k = int(rng.integers(1, 257 if rng.random() < 0.2 else 40))
        colors, xs, ys, C = grid(rng, h, w, k, integer)
        X = ref.points(colors, xs, ys)
        want, dist = ref.nearest(X, C)
        d = ref.sq_distances(X, C)
        ties += int(((d == dist[:, None]).sum(axis=1) > 1).sum())
        mask = rng.random(h * w) < 0.7
        for tile in (1, 3, 8, 64):
            labels = np.empty(h * w, np.uint8)
            inertia = sk.assign(colors, xs, ys, C, labels, mask, tile=tile)
            assert np.array_equal(labels, want)
            assert inertia == pytest.approx(float(dist[mask].sum()), rel=1e-12, abs=1e-12)
    if integer:
        assert ties > 1000  # the lowest index among equal distances was checked


def test_inertia_of_given_labels():
    rng = np.random.default_rng(2)
    colors, xs, ys, C = grid(rng, 13, 17, 9, False)
    labels = rng.integers(0, 9, 13 * 17).astype(np.uint8)
    mask = rng.random(13 * 17) < 0.5
    d = ref.sq_distances(ref.points(colors, xs, ys), C)[np.arange(13 * 17), labels]
    assert sk.inertia(colors, xs, ys, C, labels) == pytest.approx(float(d.sum()), rel=1e-12)
    assert sk.inertia(colors, xs, ys, C, labels, mask) == pytest.approx(float(d[mask].sum()), rel=1e-12)
    with pytest.raises(ValueError):
        sk.inertia(colors, xs, ys, C, np.full(13 * 17, 9, np.uint8))


def test_assign_finds_a_centre_far_outside_the_image():
    colors = np.zeros((4 * 5, 3))
    colors[:] = 200.0
    xs, ys = np.arange(5.0), np.arange(4.0)
    # Centre 0 sits on the image in the wrong colour; centre 1, far to the
    # left, has the pixels' colour and wins for every pixel.
    C = np.array([[0.0, 0.0, 0.0, 2.0, 2.0], [200.0, 200.0, 200.0, -100.0, 1.0]])
    labels = np.empty(20, np.uint8)
    sk.assign(colors, xs, ys, C, labels, tile=2)
    assert (labels == 1).all()


@pytest.mark.parametrize("weighted", [False, True])
def test_seed_draws_like_greedy_kmeans_plus_plus(weighted):
    rng = np.random.default_rng(3)
    for _ in range(8):
        h, w = (int(v) for v in rng.integers(4, 30, 2))
        k = int(rng.integers(2, 20))
        colors, xs, ys, _ = grid(rng, h, w, 1, False)
        weights = (rng.random(h * w) < 0.8).astype(float) if weighted else None
        wv = np.ones(h * w) if weights is None else weights
        trials = 2 + int(np.log(k))
        first = int(rng.choice(h * w, p=wv / wv.sum()))
        uniforms = rng.random((k - 1) * trials)
        for tile in (1, 4, 7):
            out = np.empty((k, 5))
            sk.seed(colors, xs, ys, weights, first, uniforms, k, trials, out, tile=tile)
            want = ref.seed(ref.points(colors, xs, ys), h, w, wv, first, uniforms, k, trials, tile)
            assert np.array_equal(out, want)


def blobs(rng: np.random.Generator, h: int, w: int, k: int):
    """Pixels in k colour blobs, so no cluster empties out."""
    colors = rng.normal(0, 8, (h * w, 3)) + rng.uniform(0, 255, (k, 3))[rng.integers(0, k, h * w)]
    return colors, np.arange(w) * 0.8, np.arange(h) * 0.8


@pytest.mark.parametrize("weighted", [False, True])
def test_lloyd_matches_plain_lloyd(weighted):
    rng = np.random.default_rng(11)
    for _ in range(6):
        h, w = (int(v) for v in rng.integers(10, 40, 2))
        k = int(rng.integers(2, 12))
        colors, xs, ys = blobs(rng, h, w, k)
        X = ref.points(colors, xs, ys)
        weights = (rng.random(h * w) < 0.8).astype(float) if weighted else None
        wv = np.ones(h * w) if weights is None else weights
        C0 = X[rng.choice(np.flatnonzero(wv), k, replace=False)]
        for max_iter, tol_abs in ((1, 0.0), (5, 0.0), (300, 1e-3)):
            want = ref.lloyd(X, wv, C0, max_iter, tol_abs)
            C = C0.copy()
            n_iter, converged, inertia = sk.lloyd(colors, xs, ys, weights, C, max_iter, tol_abs, 0.0, tile=5)
            assert (n_iter, converged) == want[1:3]
            np.testing.assert_allclose(C, want[0], rtol=1e-12, atol=1e-9)
            assert inertia == pytest.approx(want[3], rel=1e-12)


def test_lloyd_reseeds_an_empty_cluster():
    rng = np.random.default_rng(5)
    colors, xs, ys = blobs(rng, 20, 20, 3)
    C = ref.points(colors, xs, ys)[[0, 1, 2]]
    C[2] = [1e4, 1e4, 1e4, 1e4, 1e4]  # nearest to no pixel
    n_iter, _, inertia = sk.lloyd(colors, xs, ys, None, C, 50, 0.0, 0.0, tile=4)
    X = ref.points(colors, xs, ys)
    labels, d = ref.nearest(X, C)
    assert len(np.unique(labels)) == 3 and (np.abs(C) < 1e3).all()
    assert inertia == pytest.approx(float(d.sum()), rel=1e-12)


def test_bad_shapes_are_errors_not_crashes():
    colors, xs, ys = np.zeros((6, 3)), np.arange(3.0), np.arange(2.0)
    C = np.zeros((2, 5))
    with pytest.raises(ValueError):
        sk.assign(np.zeros((5, 3)), xs, ys, C, np.empty(5, np.uint8))
    with pytest.raises(ValueError):
        sk.assign(colors, xs, ys, np.zeros((2, 4)), np.empty(6, np.uint8))
    with pytest.raises(ValueError):
        sk.assign(colors, xs, ys, np.zeros((257, 5)), np.empty(6, np.uint8))
    with pytest.raises(ValueError):
        sk.assign(colors, xs, ys, C, np.empty(6, np.uint8), tile=0)
    with pytest.raises(ValueError):
        sk.seed(colors, xs, ys, None, 6, np.zeros(2), 2, 2, np.empty((2, 5)))
    with pytest.raises(ValueError):
        sk.lloyd(colors, xs, ys, np.ones(5), C, 3, 0.0, 0.0)
