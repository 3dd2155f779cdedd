"""segment(): correctness on real photographs and images with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imagetools import quadrants, same_partition, sample_image

import kmseg


def direct_inertia(pixels: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> float:
    diff = pixels.reshape(-1, 3).astype(float) - centers[labels.ravel()]
    return float((diff**2).sum())


def test_quadrants_are_found():
    img, truth = quadrants()
    result = kmseg.segment(img, 4, seed=0)
    assert result.k == 4
    assert same_partition(result.labels, truth)


@pytest.mark.parametrize("color_space", ["rgb", "lab", "oklab"])
@pytest.mark.parametrize("k", [2, 8, 40])
def test_image_with_exactly_k_colours_comes_back_unchanged(k, color_space):
    rng = np.random.default_rng(k)
    palette = rng.choice(256**3, size=k, replace=False)
    palette = np.stack([palette >> 16, (palette >> 8) & 255, palette & 255], axis=1).astype(np.uint8)
    img = palette[rng.integers(0, k, (37, 53))]
    result = kmseg.segment(img, k, seed=0, color_space=color_space)
    assert result.k == k
    assert np.array_equal(np.asarray(result.to_image().convert("RGB")), img)
    assert result.inertia == 0
    assert result.psnr == float("inf")


def test_fewer_colours_than_k_says_so():
    img = np.zeros((10, 10, 3), np.uint8)
    img[:, 5:] = 255
    result = kmseg.segment(img, 8, seed=0)
    assert (result.k, result.k_requested) == (2, 8)
    assert any("only 2 distinct colours" in note for note in result.notes)


@pytest.mark.parametrize("name", ["china.jpg", "flower.jpg"])
@pytest.mark.parametrize("color_space", ["rgb", "lab", "oklab"])
def test_inertia_is_exact_and_labels_are_nearest(name, color_space):
    img = sample_image(name)[::2, ::2]
    result = kmseg.segment(img, 12, seed=3, color_space=color_space)
    assert result.k == 12
    pixels = img.reshape(-1, 3)
    feats = kmseg.features._color.to_space(color_space)(pixels)
    assert result.inertia == pytest.approx(direct_inertia(feats, result.labels, result.centers), rel=1e-9)
    # Every distinct colour carries the label of its nearest centre.
    colors, first = np.unique(pixels, axis=0, return_index=True)
    f = feats[first]
    d = ((f[:, None, :] - result.centers[None]) ** 2).sum(axis=2)
    assigned = result.labels.ravel()[first]
    assert np.all(d[np.arange(len(f)), assigned] <= d.min(axis=1) + 1e-7)
    assert result.counts.sum() == img.shape[0] * img.shape[1]
    assert np.array_equal(np.bincount(result.labels.ravel(), minlength=12), result.counts)


@pytest.mark.parametrize("name, k", [("china.jpg", 8), ("flower.jpg", 16)])
def test_error_not_worse_than_scikit_learn(name, k):
    from sklearn.cluster import KMeans

    img = sample_image(name)[::2, ::2]
    X = img.reshape(-1, 3).astype(float)
    ref = KMeans(k, n_init=1, random_state=0).fit(X)
    ours = kmseg.segment(img, k, seed=0)
    assert ours.inertia <= ref.inertia_ * 1.005
    # The picture users get (palette rounded to 8 bits) too.
    picture_sse = direct_inertia(X, ours.labels, ours.palette.astype(float))
    ref_picture = direct_inertia(X, ref.labels_, np.clip(np.rint(ref.cluster_centers_), 0, 255))
    assert picture_sse <= ref_picture * 1.005


def test_fixed_seed_repeats_exactly_and_seed_is_reported():
    img = sample_image("flower.jpg")[::3, ::3]
    a = kmseg.segment(img, 6, seed=42)
    b = kmseg.segment(img, 6, seed=42)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.palette, b.palette)
    assert a.to_bytes() == b.to_bytes()
    drawn = kmseg.segment(img, 6)
    again = kmseg.segment(img, 6, seed=drawn.seed)
    assert np.array_equal(drawn.labels, again.labels)


def test_exactly_k_clusters_when_colours_allow():
    # Two big blobs and a few outlier colours: naive k-means leaves clusters
    # empty; we must still return K non-empty clusters.
    img = np.zeros((40, 40, 3), np.uint8)
    img[:, 20:] = 250
    img[0, :6] = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]]
    for k in (3, 5, 7, 8):
        result = kmseg.segment(img, k, seed=0)
        assert result.k == k
        assert (result.counts > 0).all()
        assert np.isfinite(result.centers).all()


def test_k_one_is_the_mean_colour():
    img = sample_image("china.jpg")[::4, ::4]
    result = kmseg.segment(img, 1)
    assert result.palette[0] == pytest.approx(img.reshape(-1, 3).mean(axis=0), abs=0.5)
    assert (result.labels == 0).all()


def test_transparent_pixels_do_not_count_and_alpha_is_kept():
    img, _ = quadrants(32)
    alpha = np.full(img.shape[:2], 255, np.uint8)
    alpha[:, :8] = 0
    img[:, :8] = (255, 0, 255)  # a colour only transparent pixels have
    result = kmseg.segment(np.dstack([img, alpha]), 3, seed=0)
    assert result.counts.sum() == 32 * 24
    assert not (result.palette == (255, 0, 255)).all(axis=1).any()
    out = np.asarray(result.to_image())
    assert out.shape == (32, 32, 4) and np.array_equal(out[:, :, 3], alpha)


def test_quality_figures():
    img = sample_image("flower.jpg")[::3, ::3]
    coarse = kmseg.segment(img, 4, seed=0)
    fine = kmseg.segment(img, 32, seed=0)
    assert 10 < coarse.psnr < fine.psnr < 60
    assert fine.delta_e_mean < coarse.delta_e_mean
    assert coarse.delta_e_mean <= coarse.delta_e_p95
    mse = ((img.reshape(-1, 3).astype(float) - coarse.palette[coarse.labels.ravel()]) ** 2).mean()
    assert coarse.psnr == pytest.approx(10 * np.log10(255**2 / mse), rel=1e-9)


def test_max_iter_one_reports_not_converged_on_a_hard_image():
    img = sample_image("china.jpg")
    result = kmseg.segment(img, 64, max_iter=1, seed=0)
    assert result.n_iter == 1
    assert result.converged is False


def test_large_image_takes_the_histogram_path():
    img = np.repeat(np.repeat(sample_image("flower.jpg"), 2, axis=0), 2, axis=1)  # 1.1 MP
    result = kmseg.segment(img, 8, seed=0)
    small = kmseg.segment(sample_image("flower.jpg"), 8, seed=0)
    # Upscaling by pixel repetition changes no colour shares: same clusters.
    assert np.array_equal(np.sort(result.palette, axis=0), np.sort(small.palette, axis=0))
    assert result.inertia == pytest.approx(4 * small.inertia, rel=1e-9)


@pytest.mark.parametrize(
    "kwargs, param",
    [({"k": 0}, "k"), ({"k": 257}, "k"), ({"k": 1.5}, "k"), ({"k": "abc"}, "k"), ({"k": 10**9}, "k"),
     ({"max_iter": 0}, "max_iter"), ({"max_iter": -5}, "max_iter"), ({"max_iter": 10**9}, "max_iter"),
     ({"color_space": "hsv"}, "color_space"), ({"n_init": 0}, "n_init"), ({"tol": "x"}, "tol")],
)
def test_bad_parameters(kwargs, param):
    args = {"k": 4, **kwargs}
    with pytest.raises(kmseg.InvalidParameterError) as info:
        kmseg.segment(np.zeros((4, 4, 3), np.uint8), **args)
    assert info.value.param == param
    assert isinstance(info.value, kmseg.KmsegError) and isinstance(info.value, ValueError)


def test_caller_array_is_not_modified():
    img = sample_image("china.jpg")[::4, ::4]
    before = img.copy()
    kmseg.segment(img, 5, seed=0)
    assert np.array_equal(img, before)


def test_recolor_and_summary():
    img, _ = quadrants()
    result = kmseg.segment(img, 4, seed=0)
    new = result.recolor(np.zeros((4, 3), np.int64))
    assert np.asarray(new.to_image().convert("RGB")).max() == 0
    assert np.array_equal(new.labels, result.labels)
    s = result.summary()
    assert s["k"] == 4 and abs(sum(s["shares"]) - 1) < 1e-12 and len(s["palette"]) == 4
    with pytest.raises(kmseg.InvalidParameterError):
        result.recolor(np.zeros((3, 3)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**16),
    n_colors=st.integers(2, 60),
    k=st.integers(2, 12),
    noise=st.sampled_from([0.0, 3.0, 20.0]),
    color_space=st.sampled_from(["rgb", "lab", "oklab"]),
)
def test_properties_on_random_images(seed, n_colors, k, noise, color_space):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (n_colors, 3))
    img = base[rng.integers(0, n_colors, (24, 31))] + rng.normal(0, noise, (24, 31, 3))
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    result = kmseg.segment(img, k, seed=seed, color_space=color_space, tol=0, max_iter=1000)
    pixels = img.reshape(-1, 3)
    distinct = len(np.unique(pixels, axis=0))
    assert result.k == min(k, distinct)
    assert (result.counts > 0).all() and result.counts.sum() == pixels.shape[0]
    feats = kmseg.features._color.to_space(color_space)(pixels)
    d = ((feats[:, None, :] - result.centers[None]) ** 2).sum(axis=2)
    own = d[np.arange(len(feats)), result.labels.ravel()]
    assert np.all(own <= d.min(axis=1) + 1e-7)
    assert result.inertia == pytest.approx(float(own.sum()), rel=1e-9, abs=1e-6)
    if color_space == "rgb":
        # RGB centres are snapped to the 8-bit palette users get.
        assert np.array_equal(result.centers, np.rint(result.centers))
    elif result.converged and result.k == k:
        # With tol=0, convergence is a Lloyd fixed point: centres are the means.
        for c in range(result.k):
            members = feats[result.labels.ravel() == c]
            assert members.mean(axis=0) == pytest.approx(result.centers[c], abs=1e-3 * (1 + np.abs(feats).max()))
