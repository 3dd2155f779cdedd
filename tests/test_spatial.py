"""Spatial segmentation: pixel position beside colour."""

from __future__ import annotations

import numpy as np
import pytest

import kmseg
from kmseg.features._spatial import BLACK_TO_WHITE


def two_squares() -> np.ndarray:
    img = np.zeros((100, 240, 3), np.uint8)
    img[:] = (40, 60, 200)
    img[35:65, 15:45] = (220, 30, 30)
    img[35:65, 195:225] = (220, 30, 30)
    return img


def test_far_apart_squares_split_only_with_spatial_weight():
    img = two_squares()
    left, right = (slice(35, 65), slice(15, 45)), (slice(35, 65), slice(195, 225))
    colour = kmseg.segment(img, 5, seed=0)
    assert colour.k == 2 and colour.labels[left][0, 0] == colour.labels[right][0, 0]
    seg = kmseg.segment(img, 5, seed=0, spatial_weight=0.5)
    a, b = seg.labels[left], seg.labels[right]
    assert len(np.unique(a)) == 1 and len(np.unique(b)) == 1 and a[0, 0] != b[0, 0]
    assert seg.palette[a[0, 0]].tolist() == seg.palette[b[0, 0]].tolist() == [220, 30, 30]
    # The red squares' centres sit at the squares, in pixels.
    assert seg.positions[a[0, 0]] == pytest.approx([29.5, 49.5], abs=1.0)
    assert seg.positions[b[0, 0]] == pytest.approx([209.5, 49.5], abs=1.0)
    assert seg.params["spatial_weight"] == 0.5 and seg.summary()["spatial_weight"] == 0.5


def features(img: np.ndarray, weight: float) -> np.ndarray:
    h, w = img.shape[:2]
    s = weight * BLACK_TO_WHITE["rgb"] / w
    yy, xx = np.mgrid[0:h, 0:w]
    return np.column_stack([img.reshape(-1, 3).astype(float), xx.ravel() * s, yy.ravel() * s])


def one_region_per_label(labels: np.ndarray) -> bool:
    from scipy import ndimage

    return all(ndimage.label(labels == v)[1] == 1 for v in np.unique(labels))


def test_pixels_go_to_their_nearest_centre_unless_their_fragment_joins_a_neighbour(flower):
    from scipy import ndimage

    img = flower[::2, ::2]  # 213 x 320: fitted on a 128-pixel copy
    seg = kmseg.segment(img, 12, seed=1, spatial_weight=0.7, fit_size=128)
    X = features(img, 0.7)
    C = np.column_stack([seg.centers, seg.positions * 0.7 * BLACK_TO_WHITE["rgb"] / img.shape[1]])
    d = ((X[:, None, :] - C[None]) ** 2).sum(axis=2)
    nearest = d.argmin(axis=1).reshape(seg.labels.shape)
    # Every cluster is one connected segment; the largest fragment of every
    # nearest-centre cluster keeps its label, a few pixels changed.
    assert one_region_per_label(seg.labels)
    assert sorted(np.unique(seg.labels)) == sorted(np.unique(nearest))
    moved = seg.labels != nearest
    assert 0 < moved.sum() < 0.2 * moved.size
    for v in np.unique(nearest):
        ids, _ = ndimage.label(nearest == v)
        largest = 1 + int(np.argmax(np.bincount(ids.ravel())[1:]))
        assert (seg.labels[ids == largest] == v).all()
    own = d[np.arange(len(X)), seg.labels.ravel()]
    assert seg.inertia == pytest.approx(float(own.sum()), rel=1e-9)
    assert seg.counts.sum() == img.shape[0] * img.shape[1]
    mse = ((img.reshape(-1, 3).astype(float) - seg.palette[seg.labels.ravel()]) ** 2).mean()
    assert seg.psnr == pytest.approx(10 * np.log10(255**2 / mse), rel=1e-9)
    # Same seed, same result; segments are compact: more weight, fewer pixels far from their centre.
    again = kmseg.segment(img, 12, seed=1, spatial_weight=0.7, fit_size=128)
    assert np.array_equal(again.labels, seg.labels)


@pytest.mark.parametrize("k, weight", [(50, 1.0), (100, 2.0), (250, 1.0)])
def test_k_asked_gives_k_connected_segments(china, k, weight):
    seg = kmseg.segment(china, k, seed=0, spatial_weight=weight)
    assert seg.k == k and len(np.unique(seg.labels)) == k
    assert one_region_per_label(seg.labels)


def mean_spread(seg) -> float:
    yy, xx = np.mgrid[0 : seg.height, 0 : seg.width]
    pos = np.column_stack([xx.ravel(), yy.ravel()])
    return float(np.linalg.norm(pos - seg.positions[seg.labels.ravel()], axis=1).mean())


def test_more_weight_gives_more_compact_segments(china):
    img = china[::3, ::3]
    spreads = [mean_spread(kmseg.segment(img, 10, seed=0, spatial_weight=w, fit_size=96)) for w in (0.2, 1.0, 5.0)]
    assert spreads[0] > spreads[1] > spreads[2]


def test_spatial_with_alpha_and_min_region():
    img = np.dstack([two_squares(), np.full((100, 240), 255, np.uint8)])
    img[:, :5, 3] = 0
    seg = kmseg.segment(img, 4, seed=0, spatial_weight=1.0, min_region=50)
    assert seg.counts.sum() == 100 * 235 and seg.regions is not None
    assert seg.to_image().mode == "RGBA"


@pytest.mark.parametrize(
    "kwargs, param",
    [(dict(spatial_weight=-1), "spatial_weight"), (dict(spatial_weight=float("nan")), "spatial_weight"),
     (dict(spatial_weight=1, fit_size=4), "fit_size"), (dict(spatial_weight=1, k="auto"), "spatial_weight"),
     (dict(spatial_weight=1, k=None, palette=[[0, 0, 0]]), "spatial_weight")],
)
def test_bad_spatial_parameters(kwargs, param):
    kwargs = {"k": 3, **kwargs}
    with pytest.raises(kmseg.InvalidParameterError) as err:
        kmseg.segment(two_squares(), **kwargs)
    assert err.value.param == param


def test_same_seed_same_bytes_with_any_number_of_threads(china, monkeypatch):
    runs = []
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("KMSEG_THREADS", threads)
        seg = kmseg.segment(china, 60, seed=4, spatial_weight=1.5)
        runs.append((seg.labels.tobytes(), seg.palette.tobytes(), seg.centers.tobytes(), seg.inertia))
    assert runs[0] == runs[1] == runs[2]


def test_the_fit_split_into_one_pass_per_call_finds_the_same_segments(monkeypatch):
    # The fit runs a few Lloyd passes per compiled call, the deadline checked between
    # calls; how many per call must not change the result.
    from kmseg.features import _spatial

    image = np.random.default_rng(3).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    whole = kmseg.segment(image, 7, spatial_weight=1.5, seed=2)
    monkeypatch.setattr(_spatial, "_PASS_WORK", 1)
    split = kmseg.segment(image, 7, spatial_weight=1.5, seed=2)
    assert np.array_equal(split.labels, whole.labels) and np.array_equal(split.centers, whole.centers)
    assert (split.n_iter, split.inertia) == (whole.n_iter, whole.inertia) and whole.n_iter > 1
