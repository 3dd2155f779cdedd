"""The compiled engine (kmseg.engine._kernels) against plain NumPy.

Each pass is checked against the oracles in tests/reference.py (brute force
or direct computation on the same data); whole fits against reference Lloyd
runs; wrong arrays must raise, never reach the C code.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import reference
from imagetools import sample_image

from kmseg.engine import _colorfit, _kmeans, _tree
from kmseg.engine import _kernels


def noisy_photo(scale: int = 1, sigma: float = 3.0, seed: int = 0) -> np.ndarray:
    img = sample_image("flower.jpg")[::2, ::2]
    img = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1).astype(float)
    img += np.random.default_rng(seed).normal(0, sigma, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def histogram_of(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = reference.morton_codes(img)
    distinct, counts = np.unique(codes, return_counts=True)
    return distinct, _colorfit.codes_to_rgb(distinct).astype(np.float64), counts.astype(np.float64)


def test_histogram_and_label_lookup_match_numpy():
    img = noisy_photo()
    flat = img.reshape(-1, 3)
    opaque = np.random.default_rng(1).random(flat.shape[0]) > 0.3
    counts = np.zeros(_colorfit.N_CODES, dtype=np.uint32)
    seen = np.zeros(_colorfit.N_CODES, dtype=np.uint32)
    _kernels.histogram(flat, opaque, *_colorfit.MORTON_TABLES, counts, seen)
    assert np.array_equal(counts, reference.histogram(img, opaque))
    assert np.array_equal(seen, reference.histogram(img))
    distinct, weights = _kernels.nonzero_counts(seen)
    codes = reference.morton_codes(img)
    expect, n = np.unique(codes, return_counts=True)
    assert np.array_equal(distinct, expect) and np.array_equal(weights, n)
    colours = np.unique(flat, axis=0)
    assert np.array_equal(_colorfit.codes_to_rgb(distinct), colours[np.argsort(reference.morton_codes(colours))])
    lut = np.random.default_rng(2).integers(0, 256, _colorfit.N_CODES).astype(np.uint8)
    out = np.empty(flat.shape[0], dtype=np.uint8)
    _kernels.label_pixels(flat, *_colorfit.MORTON_TABLES, lut, out)
    assert np.array_equal(out, lut[codes])
    rgba = np.dstack([img, np.zeros(img.shape[:2], np.uint8)])  # strided pixels: every 4th byte skipped
    part = rgba[..., :3].reshape(-1, 3)[100:]
    out = np.empty(part.shape[0], dtype=np.uint8)
    _kernels.label_pixels(part, *_colorfit.MORTON_TABLES, lut, out)
    assert np.array_equal(out, lut[codes[100:]])
    frozen = flat[::-1]  # read-only, negative strides
    frozen.setflags(write=False)
    again = np.zeros(_colorfit.N_CODES, dtype=np.uint32)
    _kernels.histogram(frozen, np.zeros(0, dtype=bool), *_colorfit.MORTON_TABLES, again, np.zeros(0, np.uint32))
    assert np.array_equal(again, seen)


def test_cube_levels_match_direct_grouping():
    distinct, Y, w = histogram_of(noisy_photo())
    levels = _colorfit._build_levels(distinct, Y, w)
    assert len(levels) == _colorfit._TOP_SHIFT + 1
    for side, level in enumerate(levels[1:], start=1):
        ref = reference.cubes(distinct, Y, w, side)
        assert np.array_equal(np.repeat(np.arange(level.size), np.diff(level.first_point)), ref["owner"])
        np.testing.assert_allclose(level.weight, ref["weight"])
        np.testing.assert_allclose(level.mean, ref["mean"], rtol=1e-12)
        np.testing.assert_allclose(level.scatter, ref["scatter"], rtol=1e-7, atol=1e-6)
        # The radius bounds every colour's distance to its cube's mean (sums of bounds: not tight).
        assert np.all(ref["reach"] <= level.radius + 1e-9)
    assert np.array_equal(levels[1].child, levels[1].first_point)


@pytest.mark.parametrize("k", [2, 7, 33])
def test_items_assign_every_colour_to_its_nearest_centre(k):
    distinct, Y, w = histogram_of(noisy_photo(seed=k))
    levels = _colorfit._build_levels(distinct, Y, w)
    tree = _tree.Tree(levels)
    rng = np.random.default_rng(k)
    C = Y[rng.choice(Y.shape[0], k, replace=False)] + rng.normal(0, 2, (k, 3))
    items = tree.items(C)
    for step in range(4):  # the first assignment, then updates after the centres moved
        labels = items.point_labels(Y.shape[0])
        d = reference.sq_distances(Y, C)
        own = d[np.arange(Y.shape[0]), labels]
        assert np.all(own <= d.min(axis=1) + 1e-9)
        assert items.inertia(C) == pytest.approx(float(w @ own), rel=1e-9)
        np.testing.assert_allclose(items.weight, np.bincount(labels, weights=w, minlength=k), atol=1e-6)
        sums = np.stack([np.bincount(labels, weights=w * Y[:, j], minlength=k) for j in range(3)], axis=1)
        np.testing.assert_allclose(items.sums, sums, rtol=1e-9, atol=1e-6)
        new = C + rng.normal(0, 4.0 / (step + 1), C.shape)
        items.update(new, np.sqrt(((new - C) ** 2).sum(axis=1)))
        C = new


def test_nearest_centres_match_brute_force():
    rng = np.random.default_rng(4)
    X = rng.normal(0, 50, (5000, 5))
    C = np.vstack([rng.normal(0, 50, (39, 5)), X[:1]])  # a centre on a point: distance 0
    labels, min_sq = np.empty(X.shape[0], dtype=np.uint8), np.empty(X.shape[0])
    _kernels.nearest_centres(X, np.ascontiguousarray(C.T), labels, min_sq)
    ref_labels, ref_sq = reference.nearest(X, C)
    assert np.array_equal(labels, ref_labels)
    np.testing.assert_allclose(min_sq, ref_sq, rtol=1e-12, atol=1e-12)
    many = rng.normal(0, 50, (300, 5))  # more centres than uint8 labels hold: distances only
    _kernels.nearest_centres(X, np.ascontiguousarray(many.T), np.empty(0, np.uint8), min_sq)
    np.testing.assert_allclose(min_sq, reference.nearest(X, many)[1], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="256"):
        _kernels.nearest_centres(X, np.ascontiguousarray(many.T), labels, min_sq)


@pytest.mark.parametrize("k", [6, 200])
def test_seeding_matches_the_reference(k):
    # At k=200 most candidates are far from most centres: the compiled seeding
    # skips the points that cannot move (triangle inequality), and its runs go
    # in threads at once; the choices must still be the reference's.
    rng = np.random.default_rng(5)
    X = rng.normal(0, 30, (3000, 3)) + rng.integers(0, 4, 3000)[:, None] * 60.0
    w = rng.integers(1, 20, 3000).astype(np.float64)
    plain = reference.seed_plusplus(X, w, k, 3, np.random.default_rng(9))
    compiled = _kmeans.seed_plusplus(X, w, k, 3, np.random.default_rng(9))
    np.testing.assert_array_equal(plain, compiled)  # same random stream, same choices


def lattice_with_ties(k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Integer colours and integer centres (distances exact, so ties are
    exact), some centres twice (a tie at every distance), some points midway."""
    rng = np.random.default_rng(seed)
    C = rng.integers(0, 64, (k, 3)).astype(np.float64) * 4
    C[1::7] = C[0::7][: C[1::7].shape[0]]  # duplicated centres
    Y = np.unique(np.vstack([rng.integers(0, 256, (6000, 3)), (C[:-1] + C[1:]) // 2]), axis=0)
    colours = Y.astype(np.uint8)
    codes = reference.morton_codes(colours)
    order = np.argsort(codes)
    w = rng.integers(1, 9, Y.shape[0]).astype(np.float64)
    return codes[order], colours[order].astype(np.float64), w[order], C


@pytest.mark.parametrize("k", [2, 33, 100, 256])
def test_filtered_passes_equal_brute_force_with_ties(k):
    # The passes compare a cube only with the centres that can be nearest to
    # one of its colours, and a colour only with the centres near its own
    # (past the 32 nearest for k > 33): labels must be exactly brute force's,
    # the lowest index winning every tie, after the first assignment and
    # after every move.
    distinct, Y, w, C = lattice_with_ties(k, seed=k)
    tree = _tree.Tree(_colorfit._build_levels(distinct, Y, w))
    rng = np.random.default_rng(k)
    items = tree.items(C)
    for step in range(5):
        labels = items.point_labels(Y.shape[0])
        ref_labels, ref_sq = reference.nearest(Y, C)
        assert np.array_equal(labels, ref_labels)
        assert items.inertia(C) == pytest.approx(float(w @ ref_sq), rel=1e-12)
        np.testing.assert_allclose(items.weight, np.bincount(ref_labels, weights=w, minlength=k), atol=1e-6)
        new = C + rng.integers(-3, 4, C.shape) * (step % 2)  # integer moves keep the ties exact
        if step == 3:
            new = C + rng.normal(0, 0.5, C.shape)
        items.update(new, np.sqrt(((new - C) ** 2).sum(axis=1)))
        C = new


@pytest.mark.parametrize("k", [40, 256])
def test_uneven_moves_keep_every_colour_at_its_nearest_centre(k):
    # Each item keeps two lower bounds: one on its distance to the centre that
    # was second nearest, loosened by that centre's own move, and one on every
    # other centre, loosened by the largest move. Moves of very different
    # sizes (most centres still or nearly, a few far, the second nearest of
    # many colours among them) must still leave every colour at its nearest
    # centre, pass after pass, with exact sums.
    distinct, Y, w = histogram_of(noisy_photo(seed=k)[::2, ::2])
    tree = _tree.Tree(_colorfit._build_levels(distinct, Y, w))
    rng = np.random.default_rng(k)
    C = Y[rng.choice(Y.shape[0], k, replace=False)] + rng.normal(0, 1, (k, 3))
    items = tree.items(C)
    for step in range(12):
        labels = items.point_labels(Y.shape[0])
        ref_labels, ref_sq = reference.nearest(Y, C)
        assert np.array_equal(labels, ref_labels), f"step {step}"
        assert items.inertia(C) == pytest.approx(float(w @ ref_sq), rel=1e-9)
        np.testing.assert_allclose(items.weight, np.bincount(ref_labels, weights=w, minlength=k), atol=1e-6)
        sums = np.stack([np.bincount(ref_labels, weights=w * Y[:, j], minlength=k) for j in range(3)], axis=1)
        np.testing.assert_allclose(items.sums, sums, rtol=1e-9, atol=1e-6)
        scale = rng.choice([0.0, 0.05, 0.5, 6.0], size=(k, 1), p=[0.4, 0.35, 0.2, 0.05])
        new = C + rng.normal(0, 1, C.shape) * scale
        items.update(new, np.sqrt(((new - C) ** 2).sum(axis=1)))
        C = new


@pytest.mark.parametrize("k", [3, 12])
def test_lloyd_over_items_reaches_the_reference_fixed_point(k):
    # From the same starts, Lloyd over the cube tree's items (cubes assigned
    # whole) must end where plain Lloyd over every colour ends.
    distinct, Y, w = histogram_of(noisy_photo(seed=k)[::3, ::3])
    levels = _colorfit._build_levels(distinct, Y, w)
    C0 = reference.seed_plusplus(Y, w, k, 1, np.random.default_rng(k))[0]
    C, items, inertia, n_iter, converged = _colorfit._refine(levels, Y, C0, 1000, 0.0)
    ref_C, ref_labels, ref_inertia, _ = reference.lloyd(Y, w, C0, 1000)
    assert converged
    np.testing.assert_allclose(C, ref_C, rtol=1e-9, atol=1e-9)
    assert np.array_equal(items.point_labels(Y.shape[0]), ref_labels)
    assert inertia == pytest.approx(ref_inertia, rel=1e-9)


def test_results_do_not_depend_on_the_number_of_threads(monkeypatch):
    import kmseg

    img = noisy_photo(scale=5, sigma=5.0)  # 1.7 MP: label lookup split in parts, restarts in threads
    runs = []
    for n in ("1", "3"):
        monkeypatch.setenv("KMSEG_THREADS", n)
        runs.append(kmseg.segment(img, 9, seed=2))
    assert np.array_equal(runs[0].labels, runs[1].labels) and np.array_equal(runs[0].palette, runs[1].palette)
    assert runs[0].inertia == runs[1].inertia and runs[0].n_iter == runs[1].n_iter


def test_a_fixed_seed_repeats_in_a_new_process():
    # One implementation, no thresholds and no environment choosing a path: the same bytes.
    import kmseg

    code = ("import hashlib, sys, kmseg\n"
            "sys.path.insert(0, sys.argv[1])\n"
            "from imagetools import sample_image\n"
            "s = kmseg.segment(sample_image('china.jpg')[::2, ::2], 24, seed=3, color_space='lab')\n"
            "print(hashlib.sha256(s.labels.tobytes() + s.palette.tobytes()).hexdigest(), repr(s.inertia))\n")
    tests = str(__import__("pathlib").Path(__file__).parent)
    out = subprocess.run([sys.executable, "-c", code, tests], capture_output=True, text=True, check=True,
                         timeout=600, env={"PATH": "/usr/bin:/bin", "KMSEG_THREADS": "1"})
    s = kmseg.segment(sample_image("china.jpg")[::2, ::2], 24, seed=3, color_space="lab")
    import hashlib

    assert out.stdout.split() == [hashlib.sha256(s.labels.tobytes() + s.palette.tobytes()).hexdigest(),
                                  repr(s.inertia)]


def test_spatial_fit_and_assignment_compiled(monkeypatch):
    import kmseg
    from kmseg.features import _spatial
    from kmseg.features._regions import connect

    img = noisy_photo(scale=1, sigma=4.0)
    runs = []
    for n in ("1", "3"):
        monkeypatch.setenv("KMSEG_THREADS", n)
        runs.append(kmseg.segment(img, 12, spatial_weight=1.5, seed=5, fit_size=64))
    a, b = runs
    assert np.array_equal(a.labels, b.labels) and a.inertia == b.inertia  # any number of threads
    # Every pixel carries the label of its nearest centre in (colour, position) space,
    # then every cluster is made one connected segment (checked in tests/test_spatial.py).
    s = _spatial.scale(1.5, img.shape[1], "rgb")
    X = _spatial._features(img, 0, s, "rgb")
    C = np.hstack([a.centers, a.positions * s])
    d = reference.sq_distances(X, C)
    own = d[np.arange(X.shape[0]), a.labels.reshape(-1)]
    nearest = d.argmin(axis=1).astype(np.uint8).reshape(a.labels.shape)
    assert np.array_equal(a.labels, connect(nearest)[0])
    assert a.inertia == pytest.approx(float(own.sum()), rel=1e-9)
    # The fit is as good as plain Lloyd on every full-size pixel, from k-means++ starts
    # (measured at the nearest centres: connectivity then trades inertia for segments).
    w = np.ones(X.shape[0])
    start = reference.seed_plusplus(X, w, 12, 1, np.random.default_rng(5))[0]
    plain = reference.lloyd(X, w, start, 100)[2]
    assert float(d.min(axis=1).sum()) == pytest.approx(plain, rel=0.05)


def test_the_command_gives_the_librarys_result_for_a_large_image(tmp_path):
    import kmseg
    from PIL import Image

    img = noisy_photo(scale=8)  # 2560 x 1712 = 4.4 MP
    src, out = tmp_path / "big.png", tmp_path / "out.png"
    Image.fromarray(img).save(src, compress_level=1)
    run = subprocess.run([sys.executable, "-m", "kmseg", "segment", str(src), "-k", "12", "--seed", "3", "-o", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    seg = kmseg.segment(img, 12, seed=3)
    assert out.read_bytes() == seg.to_bytes("png")


# ------------------------------------------------- wrong arrays: exceptions


TABLES = _colorfit.MORTON_TABLES


def small_tree() -> tuple[_tree.Tree, np.ndarray]:
    distinct, Y, w = histogram_of(noisy_photo()[::8, ::8])
    return _tree.Tree(_colorfit._build_levels(distinct, Y, w)), Y


@pytest.mark.parametrize("call", [
    lambda: _kernels.histogram(np.zeros((4, 3), np.float64), np.zeros(0, bool), *TABLES,
                               np.zeros(1 << 24, np.uint32), np.zeros(0, np.uint32)),  # float pixels
    lambda: _kernels.histogram(np.zeros((4, 4), np.uint8), np.zeros(0, bool), *TABLES,
                               np.zeros(1 << 24, np.uint32), np.zeros(0, np.uint32)),  # 4 channels
    lambda: _kernels.histogram(np.zeros((4, 3), np.uint8), np.zeros(3, bool), *TABLES,
                               np.zeros(1 << 24, np.uint32), np.zeros(0, np.uint32)),  # short mask
    lambda: _kernels.histogram(np.zeros((4, 3), np.uint8), np.zeros(4, np.uint8), *TABLES,
                               np.zeros(1 << 24, np.uint32), np.zeros(0, np.uint32)),  # mask not bool
    lambda: _kernels.histogram(np.zeros((4, 3), np.uint8), np.zeros(0, bool), *TABLES,
                               np.zeros(1000, np.uint32), np.zeros(0, np.uint32)),  # short counts
    lambda: _kernels.histogram(np.zeros((4, 3), np.uint8), np.zeros(0, bool), TABLES[0][:10], *TABLES[1:],
                               np.zeros(1 << 24, np.uint32), np.zeros(0, np.uint32)),  # short table
    lambda: _kernels.label_pixels(np.zeros((4, 3), np.uint8), *TABLES, np.zeros(1 << 24, np.uint8),
                                  np.zeros(3, np.uint8)),  # short output
    lambda: _kernels.label_pixels(np.zeros((4, 3), np.uint8), *TABLES, np.zeros(1 << 24, np.uint8),
                                  np.zeros(8, np.uint8)[::2]),  # strided output
    lambda: _kernels.nearest_centres(np.zeros((5, 3)), np.zeros((2, 4)), np.zeros(5, np.uint8), np.zeros(5)),
    lambda: _kernels.nearest_centres(np.zeros((5, 3)), np.zeros((3, 300)), np.zeros(5, np.uint8), np.zeros(5)),
    lambda: _kernels.nearest_centres(np.zeros((5, 3)), np.zeros((3, 4)), np.zeros(5, np.int64), np.zeros(5)),
    lambda: _kernels.nearest_centres(np.zeros((5, 3)), np.zeros((3, 4)).T.copy().T, np.zeros(5, np.uint8),
                                     np.zeros(5)),  # Fortran-ordered centres
    lambda: _kernels.seed_plusplus(np.zeros((5, 3)), np.ones(5), np.array([7]), np.zeros((2, 1, 3)),
                                   np.zeros((1, 3, 3))),  # first point out of range
    lambda: _kernels.seed_plusplus(np.zeros((5, 3)), np.ones(4), np.array([0]), np.zeros((2, 1, 3)),
                                   np.zeros((1, 3, 3))),  # one weight short
    lambda: _kernels.seed_plusplus(np.zeros((5, 3)), np.ones(5), np.array([0]), np.zeros((1, 1, 3)),
                                   np.zeros((1, 3, 3))),  # too few uniforms
    lambda: _kernels.cube_level(np.zeros(3, np.uint32), np.zeros((4, 3)), np.ones(4), np.zeros(4), np.zeros(4)),
    lambda: _kernels.morton_to_rgb(np.zeros(3, np.uint32), np.zeros((3, 255), np.uint32), np.zeros((3, 3), np.uint8)),
    lambda: _kernels.nonzero_counts(np.zeros(10, np.int32)),
])
def test_a_wrong_array_is_an_exception(call):
    with pytest.raises((ValueError, TypeError)):
        call()


def test_a_wrong_tree_or_wrong_centres_are_exceptions():
    tree, Y = small_tree()
    C = np.ascontiguousarray(Y[:4].T)
    items = _kernels.Items(tree.compiled, C, 1e-9)
    with pytest.raises(ValueError):
        items.update(np.ascontiguousarray(Y[:5].T), np.zeros(5))  # another K
    with pytest.raises(ValueError):
        items.update(C, np.zeros(3))  # one movement short
    with pytest.raises(ValueError):
        items.inertia(np.zeros((2, 4)))  # another dimension
    with pytest.raises(ValueError):
        items.point_labels(np.zeros(tree.npts - 1, np.uint8))
    many = _kernels.Items(tree.compiled, np.ascontiguousarray(Y[:257].T), 1e-9)
    with pytest.raises(ValueError, match="256"):
        many.point_labels(np.zeros(tree.npts, np.uint8))  # uint8 labels
    c = tree.compiled
    n = tree.n_w.size
    parts = dict(p_mean=tree.p_mean, p_w=tree.p_w, p_scatter=tree.p_scatter, n_mean=tree.n_mean, n_w=tree.n_w,
                 n_wsum=tree.n_mean * tree.n_w[:, None], n_radius=np.zeros(n), n_scatter=tree.n_scatter,
                 n_ch0=np.zeros(n, np.int64), n_ch1=np.zeros(n, np.int64), n_pt0=np.zeros(n, np.int64),
                 n_pt1=np.zeros(n, np.int64), tops0=c.npts, tops1=c.npts + n)
    _kernels.Tree(**parts)  # childless cubes: a valid (if useless) forest
    for change in (dict(n_ch1=np.full(n, c.npts + n, np.int64)),  # children after the node itself
                   dict(n_ch0=np.full(n, -1, np.int64)),
                   dict(n_ch1=np.full(n, 2, np.int64)),  # every cube owns points 0 and 1: two parents
                   dict(n_pt1=np.full(n, c.npts + 1, np.int64)),  # points beyond the last
                   dict(tops0=0),  # a point under a cube among the tops ... (after the next line)
                   dict(tops1=c.npts + n + 1),
                   dict(p_w=tree.p_w[:-1]),
                   dict(n_mean=np.zeros((n, 2))),
                   dict(p_mean=np.asfortranarray(tree.p_mean))):
        bad = {**parts, **change}
        if "tops0" in change:
            bad["n_ch1"] = np.concatenate([[1], np.zeros(n - 1, np.int64)])  # cube 0 owns point 0
        with pytest.raises((ValueError, TypeError)):
            _kernels.Tree(**bad)
    wide = np.zeros(n, np.int64)
    wide[0] = 9  # nine children
    with pytest.raises(ValueError, match="8 children"):
        _kernels.Tree(**{**parts, "n_ch1": wide})
