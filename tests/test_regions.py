"""Clean regions: min_region merges small connected regions into the
neighbour sharing most border; connectivity of spatial segments; the
boundaries overlay. The compiled code is checked against the NumPy
implementation it replaced (tests/regions_reference.py), scipy.ndimage.label
and skimage.measure.label."""

from __future__ import annotations

import numpy as np
import pytest

import kmseg
import regions_reference as ref
from kmseg.features._regions import boundaries, components, connect, merge_small


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


def random_maps():
    """Label maps of every kind: noise, blobs, stripes, odd shapes."""
    rng = np.random.default_rng(7)
    maps = [np.zeros((1, 1), np.uint8), np.zeros((1, 17), np.uint8), np.ones((13, 1), np.uint8),
            np.full((9, 11), 3, np.uint8), np.arange(10, dtype=np.uint8)[None],
            np.arange(10, dtype=np.uint8)[:, None], (np.indices((12, 12)).sum(0) % 2).astype(np.uint8)]
    for i in range(40):
        h, w = (int(v) for v in rng.integers(1, 48, 2))
        k = int(rng.integers(1, 7))
        if i % 3 == 0:  # blobs: smoothed noise, quantised
            from scipy import ndimage

            field = ndimage.uniform_filter(rng.random((h, w)), 5)
            lab = np.minimum((field - field.min()) / (np.ptp(field) + 1e-12) * k, k - 1)
        elif i % 3 == 1:
            lab = rng.integers(0, k, (h, w))
        else:  # long runs
            lab = np.repeat(rng.integers(0, k, (h, (w + 3) // 4)), 4, axis=1)[:, :w]
        maps.append(lab.astype(np.uint8))
    return maps


MAPS = random_maps()


@pytest.mark.parametrize("lab", MAPS, ids=[f"{m.shape[0]}x{m.shape[1]}-{i}" for i, m in enumerate(MAPS)])
def test_components_match_numpy_scipy_and_skimage(lab):
    from scipy import ndimage
    from skimage import measure

    regions, n = components(lab)
    ref_regions, ref_n = ref.components(lab)
    assert regions.dtype == np.int64 and n == ref_n
    assert np.array_equal(regions, ref_regions)  # same numbering: raster order of first pixels
    # scipy labels one value at a time; skimage labels all at once (0 is background there).
    total = 0
    for v in np.unique(lab):
        mask_ids, count = ndimage.label(lab == v)
        total += count
        inside = mask_ids > 0
        assert len(np.unique(np.stack([regions[inside], mask_ids[inside]]), axis=1)[0]) == count
    assert total == n
    sk = measure.label(lab.astype(np.int64) + 1, connectivity=1, background=0)
    assert sk.max() == n
    assert np.unique(np.stack([regions.ravel(), sk.ravel()]), axis=1).shape[1] == n


@pytest.mark.parametrize("lab", MAPS, ids=[f"{m.shape[0]}x{m.shape[1]}-{i}" for i, m in enumerate(MAPS)])
def test_merge_small_matches_the_numpy_implementation(lab):
    for min_region in (1, 2, 3, 5, 9, 30, 10**6):
        out, before, after = merge_small(lab, min_region)
        ref_out, ref_before, ref_after = ref.merge_small(lab, min_region)
        assert (before, after) == (ref_before, ref_after)
        assert np.array_equal(out, ref_out) and out.dtype == lab.dtype
    assert np.array_equal(boundaries(lab), ref.boundaries(lab))


def test_merge_small_on_photos_matches_the_numpy_implementation(china, flower):
    for img, k in ((china, 8), (flower, 5)):
        lab = kmseg.segment(img, k, seed=0).labels
        for min_region in (4, 50, 500):
            out, before, after = merge_small(lab, min_region)
            ref_out, ref_before, ref_after = ref.merge_small(lab, min_region)
            assert (before, after) == (ref_before, ref_after) and after < before
            assert np.array_equal(out, ref_out)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64])
def test_any_integer_dtype(dtype):
    rng = np.random.default_rng(3)
    base = rng.integers(0, 2 if dtype == np.bool_ else 4, (20, 25))
    if dtype == np.bool_:
        lab = base.astype(bool)
    elif np.dtype(dtype).kind == "i":
        lab = (base - 2).astype(dtype) * (2 ** (8 * np.dtype(dtype).itemsize - 2) - 1) // 2
    else:
        lab = base.astype(dtype) * (np.iinfo(dtype).max // 3)
    assert len(np.unique(lab)) == len(np.unique(base))
    ids, n = components(lab)
    assert np.array_equal(ids, ref.components(lab)[0]) and n == ref.components(lab)[1]
    out, before, after = merge_small(lab, 6)
    ref_out, ref_before, ref_after = ref.merge_small(lab, 6)
    assert out.dtype == lab.dtype and np.array_equal(out, ref_out) and (before, after) == (ref_before, ref_after)
    assert np.array_equal(boundaries(lab), ref.boundaries(lab))
    strided = lab[:, ::2]  # not contiguous
    assert np.array_equal(merge_small(strided, 4)[0], ref.merge_small(strided, 4)[0])


def test_empty_and_wrong_maps():
    for shape in ((0, 5), (4, 0)):
        lab = np.zeros(shape, np.uint8)
        assert components(lab)[1] == 0 and merge_small(lab, 5)[1:] == (0, 0)
        assert boundaries(lab).shape == shape
    with pytest.raises(ValueError, match="2-D"):
        components(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        connect(np.zeros((2, 2), np.int32))


def one_region_per_label(lab: np.ndarray) -> bool:
    from scipy import ndimage

    return all(ndimage.label(lab == v)[1] == 1 for v in np.unique(lab))


@pytest.mark.parametrize("lab", MAPS, ids=[f"{m.shape[0]}x{m.shape[1]}-{i}" for i, m in enumerate(MAPS)])
def test_connect_leaves_one_region_per_label_and_keeps_the_largest(lab):
    from scipy import ndimage

    out, before, after = connect(lab)
    assert before == ref.components(lab)[1]
    assert one_region_per_label(out)
    assert set(np.unique(out)) == set(np.unique(lab)) and after == len(np.unique(lab))
    for v in np.unique(lab):  # the largest fragment of every label stays
        ids, count = ndimage.label(lab == v)
        sizes = np.bincount(ids.ravel())[1:]
        assert (out[ids == 1 + int(np.argmax(sizes))] == v).all()


def test_connect_joins_a_fragment_to_the_neighbour_with_the_longest_border():
    lab = np.zeros((10, 12), np.uint8)
    lab[:, 6:] = 1
    lab[:, 9:] = 2
    lab[4:6, 5:8] = 2  # a fragment of 2: border 4 with label 0 (2 left, 1 above, 1 below), 6 with label 1
    out, before, after = connect(lab)
    assert before == 4 and after == 3
    expected = lab.copy()
    expected[4:6, 5:8] = 1
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("case", ["alpha", "palette", "lab"])
def test_min_region_quality_figures_count_every_opaque_pixel(flower, case):
    from kmseg.features._color import ciede2000, rgb_to_lab

    img = flower[::2, ::2]
    rgba = np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    rgba[:40, :, 3] = 0  # a transparent band
    kwargs = {"alpha": dict(image=rgba, k=6), "palette": dict(image=img, k=None, palette=[[0, 0, 0], [255, 255, 255],
                                                                                         [200, 40, 40], [40, 120, 40]]),
              "lab": dict(image=img, k=6, color_space="lab")}[case]
    image = kwargs.pop("image")
    seg = kmseg.segment(image, seed=0, min_region=40, **kwargs)
    plain = kmseg.segment(image, seed=0, **kwargs)
    opaque = np.ones(img.shape[:2], bool) if case != "alpha" else rgba[..., 3] > 0
    assert seg.regions < seg.regions_before and (seg.labels != plain.labels).any()
    lab, px = seg.labels[opaque], img[opaque].astype(float)
    assert seg.counts.tolist() == np.bincount(lab, minlength=seg.k).tolist()
    mse = ((px - seg.palette[lab]) ** 2).mean()
    assert seg.psnr == pytest.approx(10 * np.log10(255**2 / mse), rel=1e-9)
    space = px if case != "lab" else rgb_to_lab(img[opaque])
    assert seg.inertia == pytest.approx(float(((space - seg.centers[lab]) ** 2).sum()), rel=1e-9)
    de = ciede2000(rgb_to_lab(img[opaque]), rgb_to_lab(seg.palette)[lab])
    assert seg.delta_e_mean == pytest.approx(float(de.mean()), rel=1e-9)
    assert seg.delta_e_p95 == pytest.approx(float(np.sort(de)[int(np.ceil(0.95 * de.size)) - 1]), rel=1e-9)


def moved_pairs_reference(rgb: np.ndarray, old: np.ndarray, new: np.ndarray, opaque: np.ndarray | None):
    """The distinct (Morton code << 8 | new label) pairs of the moved pixels and their counts, in NumPy."""
    from kmseg.engine._colorfit import pixel_codes

    moved = old.ravel() != new.ravel()
    if opaque is not None:
        moved &= opaque
    keys = pixel_codes(rgb.reshape(-1, 3)[moved]).astype(np.uint64) << np.uint64(8) | new.ravel()[moved]
    return np.unique(keys, return_counts=True)


@pytest.mark.parametrize("shape", [(1, 1), (3, 31), (17, 33), (40, 97)])
@pytest.mark.parametrize("with_mask", [False, True])
def test_moved_pixels_match_numpy(shape, with_mask):
    from kmseg.features._regions import moved_from, moved_pixels

    rng = np.random.default_rng(shape[0] * 7 + with_mask)
    rgb = rng.integers(0, 256, (*shape, 3)).astype(np.uint8)
    rgb[rng.random(shape) < 0.5] = (10, 200, 30)  # a colour that moves to several labels
    old = rng.integers(0, 4, shape).astype(np.uint8)
    new = old.copy()
    change = rng.random(shape) < 0.3
    change[-1, -1] = True  # the last pixel (a partial block) too
    new[change] = rng.integers(0, 256, int(change.sum())).astype(np.uint8)
    opaque = rng.random(old.size) < 0.7 if with_mask else None
    flat = rgb.reshape(-1, 3)
    w = shape[1]
    tops = sorted({0, shape[0] // 3, shape[0]})  # bands of whole rows, read on demand
    bands = [(slice(a * w, b * w), lambda a=a, b=b: flat[a * w : b * w]) for a, b in zip(tops[:-1], tops[1:])]
    keys, counts = moved_pixels(bands, old, new, opaque)
    want_keys, want_counts = moved_pairs_reference(rgb, old, new, opaque)
    assert keys.dtype == np.uint32 and keys.tolist() == want_keys.tolist()
    assert counts.tolist() == want_counts.tolist()
    # Where they came from: the colour's index among the sorted codes, its pixels less the moved ones.
    from kmseg.engine._colorfit import pixel_codes

    codes, weights = np.unique(pixel_codes(flat if opaque is None else flat[opaque]), return_counts=True)
    where, left = moved_from(codes, keys, counts, weights.astype(np.float64))
    assert where.tolist() == np.searchsorted(codes, keys >> np.uint32(8)).tolist()
    assert left.tolist() == (weights - np.bincount(where, weights=counts, minlength=codes.size)).tolist()


def test_moved_pixels_bad_input():
    from kmseg.engine import _regions as engine
    from kmseg.engine._colorfit import MORTON_TABLES

    old = np.zeros(10, np.uint8)
    new = np.ones(10, np.uint8)
    rgb = np.zeros((10, 3), np.uint8)
    with pytest.raises(ValueError, match="room"):
        engine.moved_keys(rgb, old, new, None, *MORTON_TABLES, np.empty(9, np.uint32))
    with pytest.raises(ValueError, match="opaque"):
        engine.count_moved(old, new, np.ones(9, bool))
    with pytest.raises(ValueError, match="rgb"):
        engine.moved_keys(rgb[:9], old, new, None, *MORTON_TABLES, np.empty(10, np.uint32))
    with pytest.raises(ValueError, match="not among"):
        engine.moved_where(np.array([5], np.uint32), np.array([6 << 8], np.uint32), np.array([1]), np.ones(1))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32])
def test_runs_of_every_length_and_offset(dtype):
    # Runs of 1 to 40 pixels starting at every offset: the uint8 scan reads eight pixels at a time.
    rng = np.random.default_rng(3)
    rows = []
    for y in range(60):
        lengths = rng.integers(1, 41, 20)
        values = np.cumsum(rng.integers(1, 3, lengths.size)) % 3  # neighbouring runs differ
        rows.append(np.repeat(values, lengths)[: 89 + y % 9])
    width = min(r.size for r in rows)
    lab = np.stack([r[:width] for r in rows]).astype(dtype)
    regions, n = components(lab)
    ref_regions, ref_n = ref.components(lab)
    assert n == ref_n and np.array_equal(regions, ref_regions)
    out, before, after = merge_small(lab, 30)
    want, want_before, want_after = ref.merge_small(lab, 30)
    assert (before, after) == (want_before, want_after) and np.array_equal(out, want)


def test_moved_inertia_matches_numpy():
    from kmseg.engine import _regions as engine

    rng = np.random.default_rng(5)
    Y = rng.random((50, 3)) * 100
    centers = rng.random((6, 3)) * 100
    at = rng.integers(0, 50, 200)
    now, was = (rng.integers(0, 6, 200).astype(np.uint8) for _ in range(2))
    weight = rng.integers(1, 9, 200).astype(np.float64)
    after, before = Y[at] - centers[now], Y[at] - centers[was]
    want = float(weight @ ((after**2).sum(1) - (before**2).sum(1)))
    assert engine.moved_inertia(Y, at, centers, now, was, weight) == pytest.approx(want, rel=1e-12)
    assert engine.moved_inertia(Y, at[:0], centers, now[:0], was[:0], weight[:0]) == 0.0
    with pytest.raises(ValueError, match="out of range"):
        engine.moved_inertia(Y, np.array([50]), centers, now[:1], was[:1], weight[:1])
    with pytest.raises(ValueError, match="out of range"):
        engine.moved_inertia(Y, at[:1], centers, np.array([6], np.uint8), was[:1], weight[:1])


@pytest.mark.parametrize("n", [0, 1, 2, 1000])
def test_sorted_counts_match_numpy_unique(n):
    from kmseg.engine import _regions as engine

    keys = np.sort(np.random.default_rng(n).integers(0, max(1, n // 3), n).astype(np.uint32))
    want = np.unique(keys, return_counts=True)
    got = engine.sorted_counts(keys.copy())
    assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()
    with pytest.raises(ValueError, match="sorted"):
        engine.sorted_counts(np.array([*keys.tolist(), 2, 1], np.uint32))
    with pytest.raises(TypeError):
        engine.sorted_counts(keys.astype(np.int64))
