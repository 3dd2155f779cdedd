"""Clean regions: min_region merges small connected regions into the
neighbour sharing most border; the boundaries overlay."""

from __future__ import annotations

import numpy as np
import pytest

import kmseg
from kmseg._regions import components, merge_small


def flood_count(labels: np.ndarray) -> tuple[int, np.ndarray]:
    """Reference 4-connected labelling by breadth-first flood fill."""
    h, w = labels.shape
    seen = np.full((h, w), -1)
    n = 0
    for y0 in range(h):
        for x0 in range(w):
            if seen[y0, x0] >= 0:
                continue
            stack = [(y0, x0)]
            seen[y0, x0] = n
            while stack:
                y, x = stack.pop()
                for yy, xx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if 0 <= yy < h and 0 <= xx < w and seen[yy, xx] < 0 and labels[yy, xx] == labels[y, x]:
                        seen[yy, xx] = n
                        stack.append((yy, xx))
            n += 1
    return n, seen


@pytest.mark.parametrize("seed", range(4))
def test_components_match_a_flood_fill(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, (23, 31)).astype(np.uint8)
    regions, n = components(labels)
    n_ref, ref = flood_count(labels)
    assert n == n_ref
    # Same partition: a one-to-one map between the two numberings.
    pairs = np.unique(np.stack([regions.ravel(), ref.ravel()]), axis=1)
    assert pairs.shape[1] == n


def test_spiral_is_one_region():
    # A long snake of one label: many union-find rounds are needed.
    lab = np.zeros((21, 21), np.uint8)
    lab[1::4, 1:-1] = 1
    lab[3::4, 1:-1] = 1
    lab[2::8, -2] = 1
    lab[6::8, 1] = 1
    assert components(lab)[1] == flood_count(lab)[0]


def test_a_speck_goes_to_the_neighbour_with_the_longest_border():
    lab = np.zeros((10, 10), np.uint8)
    lab[:, 5:] = 1
    lab[4:6, 4:7] = 2  # 6 px: border 2 with label 0 (left column), 4 with label 1 ... see below
    out, before, after = merge_small(lab, 7)
    n_left = ((lab[4:6, 3] == 0).sum() + (lab[3, 4:7] == 0).sum() + (lab[6, 4:7] == 0).sum())
    n_right = ((lab[4:6, 7] == 1).sum() + (lab[3, 4:7] == 1).sum() + (lab[6, 4:7] == 1).sum())
    assert n_right > n_left
    assert before == 3 and after == 2
    assert (out[4:6, 4:7] == 1).all() and (out[lab != 2] == lab[lab != 2]).all()


def test_min_region_on_a_photo(china):
    img = china[::2, ::2]
    plain = kmseg.segment(img, 6, seed=0)
    before_ref = components(plain.labels)[1]
    for min_region in (10, 60):
        seg = kmseg.segment(img, 6, seed=0, min_region=min_region)
        regions, n = components(seg.labels)
        sizes = np.bincount(regions.ravel())
        print(f"min_region={min_region}: regions {seg.regions_before} -> {seg.regions}")
        assert seg.regions_before == before_ref
        assert seg.regions == n < seg.regions_before
        assert sizes.min() >= min_region
        assert seg.counts.sum() == img.shape[0] * img.shape[1]
        assert seg.counts.tolist() == np.bincount(seg.labels.ravel(), minlength=seg.k).tolist()
        # Inertia and PSNR are over the new labels, against the same colours.
        diff = img.reshape(-1, 3).astype(float) - seg.centers[seg.labels.ravel()]
        assert seg.inertia == pytest.approx(float((diff**2).sum()), rel=1e-9)
        mse = ((img.reshape(-1, 3).astype(float) - seg.palette[seg.labels.ravel()]) ** 2).mean()
        assert seg.psnr == pytest.approx(10 * np.log10(255**2 / mse), rel=1e-9)
        assert np.array_equal(seg.palette, plain.palette)
        assert seg.params["min_region"] == min_region and seg.summary()["regions"] == seg.regions


def test_min_region_larger_than_the_image_leaves_one_region():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (12, 12, 3)).astype(np.uint8)
    seg = kmseg.segment(img, 4, seed=0, min_region=10_000)
    assert seg.regions == 1 and len(np.unique(seg.labels)) == 1


def test_boundaries_image(china):
    img = china[::4, ::4]
    seg = kmseg.segment(img, 4, seed=0)
    over = np.asarray(seg.boundaries_image(img, color=(0, 255, 0)))
    lab = seg.labels
    edge = np.zeros(lab.shape, bool)
    edge[:, :-1] |= lab[:, 1:] != lab[:, :-1]
    edge[:-1] |= lab[1:] != lab[:-1]
    assert (over[edge] == (0, 255, 0)).all()
    assert np.array_equal(over[~edge], img[~edge])
    with pytest.raises(kmseg.InvalidParameterError) as err:
        seg.boundaries_image()
    assert err.value.param == "original"
    with pytest.raises(kmseg.InvalidParameterError):
        seg.boundaries_image(img[:10])
    with pytest.raises(kmseg.InvalidParameterError) as err:
        seg.boundaries_image(img, color=(0, 300, 0))
    assert err.value.param == "color"


@pytest.mark.parametrize("bad", [-1, 1.5, "big"])
def test_bad_min_region(bad):
    with pytest.raises(kmseg.InvalidParameterError) as err:
        kmseg.segment(np.zeros((4, 4, 3), np.uint8), 2, min_region=bad)
    assert err.value.param == "min_region"
