"""Small images take their own paths to the same answers: their colours are
counted by sorting the pixels' codes (not in a table of all 2**24 colours),
their labels are looked up without a zeroed table, and their fits and label
passes run on the calling thread. Each path must give exactly what the
large-image path gives, and what plain NumPy counting gives."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from imagetools import sample_image
from PIL import Image
from reference import histogram as reference_histogram
from reference import morton_codes, nearest

import kmseg
import kmseg._parallel as parallel
import kmseg._steps as steps
import kmseg.io._decoded as decoded


def graphic(size: int = 128, seed: int = 0) -> np.ndarray:
    """Flat colours with a little noise: few distinct colours."""
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size, 3), np.uint8)
    half = size // 2
    image[:half] = (200, 30, 30)
    image[half:, :half] = (20, 200, 40)
    image[half:, half:] = (10, 10, 220)
    image[size // 4 : size // 3, size // 4 : 3 * size // 4] = (250, 250, 0)
    return image + rng.integers(0, 3, image.shape).astype(np.uint8)


def images() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    return {
        "photo": sample_image("china.jpg")[::3, ::3].copy(),
        "graphic": graphic(),
        "noise": rng.integers(0, 256, (40, 70, 3), dtype=np.uint8),
        "one colour": np.full((9, 7, 3), 77, np.uint8),
        "strided view": sample_image("flower.jpg")[50:130:2, 100:300:3],
    }


def alphas(shape: tuple[int, int]) -> dict[str, np.ndarray | None]:
    rng = np.random.default_rng(6)
    partly = rng.integers(0, 256, shape).astype(np.uint8)
    partly[rng.random(shape) < 0.4] = 0  # fully transparent pixels
    holes = np.full(shape, 255, np.uint8)
    holes[: shape[0] // 2, ::2] = 0
    return {"opaque": None, "partly transparent": partly, "holes": holes}


def with_alpha(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    return rgb if alpha is None else np.dstack([rgb, alpha])


def expected_histogram(rgb: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct colours (of every pixel, in Morton order) and their opaque pixel counts, by counting."""
    flat = rgb.reshape(-1, 3)
    codes = morton_codes(flat)
    distinct = np.unique(codes)
    first = {int(c): i for i, c in reversed(list(enumerate(codes)))}
    colors = flat[[first[int(c)] for c in distinct]]
    mask = None if alpha is None or not alpha.any() else alpha.reshape(-1) > 0
    return colors, reference_histogram(flat, mask)[distinct].astype(np.float64)


@pytest.fixture
def table_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every image counted in the 2**24 table and labelled on threads, as large images are."""
    monkeypatch.setattr(steps, "_SORT_PIXELS", 0)
    monkeypatch.setattr(steps, "_SERIAL_PIXELS", 0)
    monkeypatch.setattr(steps, "_SERIAL_WORK", 0)
    monkeypatch.setenv("KMSEG_THREADS", "3")


@pytest.mark.parametrize("alpha_name", ["opaque", "partly transparent", "holes"])
@pytest.mark.parametrize("name", list(images()))
def test_small_image_histogram_is_the_counted_one(name: str, alpha_name: str) -> None:
    rgb = images()[name]
    alpha = alphas(rgb.shape[:2])[alpha_name]
    hist = kmseg.color_histogram(with_alpha(rgb, alpha))
    colors, counts = expected_histogram(rgb, alpha)
    assert hist.colors.dtype == np.uint8 and hist.counts.dtype == np.float64
    assert np.array_equal(hist.colors, colors)
    assert np.array_equal(hist.counts, counts)


@pytest.mark.parametrize("alpha_name", ["opaque", "partly transparent", "holes"])
@pytest.mark.parametrize("name", list(images()))
def test_sorted_and_table_histograms_are_the_same(name: str, alpha_name: str) -> None:
    rgb = images()[name]
    alpha = alphas(rgb.shape[:2])[alpha_name]
    mask_kinds = [None] if alpha is None else [alpha.reshape(-1), alpha.reshape(-1) > 0]
    for opaque in mask_kinds:
        by_sorting = steps._sorted_histogram(steps._Pixels(rgb), opaque)
        by_table = steps._table_histogram(steps._Pixels(rgb), opaque)
        for a, b in zip(by_sorting, by_table):
            assert a.dtype == b.dtype
            assert np.array_equal(a, b)


def test_decoded_file_is_counted_band_by_band_like_its_array(monkeypatch: pytest.MonkeyPatch) -> None:
    rgb = images()["photo"]
    alpha = alphas(rgb.shape[:2])["partly transparent"]
    buf = io.BytesIO()
    Image.fromarray(with_alpha(rgb, alpha), "RGBA").save(buf, "PNG")
    monkeypatch.setattr(decoded, "BAND_PIXELS", 500)  # many bands of a few rows
    from_file = kmseg.color_histogram(buf.getvalue())
    colors, counts = expected_histogram(rgb, alpha)
    assert np.array_equal(from_file.colors, colors)
    assert np.array_equal(from_file.counts, counts)


def _result(image: np.ndarray, k: int) -> tuple[bytes, ...]:
    seg = kmseg.segment(image, k, seed=3)
    return (seg.labels.tobytes(), seg.palette.tobytes(), seg.centers.tobytes(), seg.counts.tobytes(),
            np.float64(seg.inertia).tobytes(), bytes([seg.n_iter % 256, seg.converged]))


CASES = [("photo", "opaque", 2), ("photo", "partly transparent", 16), ("graphic", "opaque", 4),
         ("graphic", "holes", 64), ("noise", "partly transparent", 8)]


@pytest.mark.parametrize(("name", "alpha_name", "k"), CASES)
def test_segment_gives_the_same_bytes_on_either_path(monkeypatch: pytest.MonkeyPatch, name: str,
                                                     alpha_name: str, k: int) -> None:
    rgb = images()[name]
    image = with_alpha(rgb, alphas(rgb.shape[:2])[alpha_name])
    small = _result(image, k)
    with monkeypatch.context() as m:
        m.setattr(steps, "_SORT_PIXELS", 0)
        m.setattr(steps, "_SERIAL_PIXELS", 0)
        m.setattr(steps, "_SERIAL_WORK", 0)
        m.setenv("KMSEG_THREADS", "3")
        large = _result(image, k)
    assert small == large


def test_every_pixel_gets_the_label_of_its_own_colour() -> None:
    """The label table is not cleared between calls: only the entries of the
    image's colours may be read, including colours seen only under
    transparent pixels."""
    rgb = images()["noise"]
    alpha = alphas(rgb.shape[:2])["partly transparent"]
    palette = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 128, 255], [90, 200, 30]], np.uint8)
    for _ in range(3):  # later calls reuse memory earlier ones filled
        labels = kmseg.apply_palette(with_alpha(rgb, alpha), palette)
        expected = nearest(rgb.reshape(-1, 3).astype(np.float64), palette.astype(np.float64))[0]
        assert np.array_equal(labels.reshape(-1), expected)


def test_small_fits_and_label_passes_stay_on_the_calling_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KMSEG_THREADS", "3")
    seen: set[int] = set()
    real = parallel.parallel_map

    def spying(fn, items):  # type: ignore[no-untyped-def]
        return real(lambda x: (seen.add(threading.get_ident()), fn(x))[1], items)

    monkeypatch.setattr(steps, "parallel_map", spying)
    import kmseg.engine._colorfit as colorfit

    monkeypatch.setattr(colorfit, "parallel_map", spying)
    kmseg.segment(graphic(), 4, seed=0)
    assert seen == {threading.get_ident()}
    seen.clear()
    monkeypatch.setattr(steps, "_SERIAL_PIXELS", 0)
    monkeypatch.setattr(steps, "_SERIAL_WORK", 0)
    kmseg.segment(graphic(), 4, seed=0)
    # threads do the work (a map of one item, such as one start finished alone, runs in place)
    assert len(seen - {threading.get_ident()}) > 1


def test_serial_block_is_undone_on_leaving_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KMSEG_THREADS", "3")
    with parallel.serial():
        assert parallel.threads() == 1
        with parallel.serial(False):
            assert parallel.threads() == 1
    assert parallel.threads() == 3
    with pytest.raises(ValueError), parallel.serial():
        raise ValueError
    assert parallel.threads() == 3


@pytest.mark.parametrize("name", list(images()))
def test_pixel_codes_are_the_interleaved_bits(name: str) -> None:
    from kmseg.engine._colorfit import pixel_codes

    rgb = images()[name]
    assert np.array_equal(pixel_codes(rgb), morton_codes(rgb))


# ------------------------------------------------------------------ the fit of a few colours


def _fit_bytes(image: np.ndarray, k: int, seed: int, color_space: str = "rgb") -> tuple[bytes, ...]:
    from kmseg.engine import _colorfit
    from kmseg.features._color import to_space

    hist = kmseg.color_histogram(image)
    Y = np.ascontiguousarray(to_space(color_space)(hist.colors), dtype=np.float64)
    C, labels, inertia, n_iter, converged = _colorfit.fit_colors(
        hist._codes, Y, hist.counts, k, 300, 1e-4, steps.default_n_init(k), np.random.default_rng(seed),
        integer_centers=color_space == "rgb")
    return C.tobytes(), labels.tobytes(), np.float64(inertia).tobytes(), bytes([n_iter % 256, converged])


def _every_group(starts: np.ndarray, finished: int) -> list[np.ndarray]:
    """The groups as finished before repeats were skipped: every one."""
    from kmseg.engine._colorfit import REFINED

    return [starts[:REFINED]] + [starts[i : i + 1] for i in range(finished - 1)]


# (image, K, seed, whether restarts meet so that work is saved: a few colours in K well-apart groups)
FEW_COLOURS = [("graphic", 2, 0, True), ("graphic", 4, 1, True), ("graphic", 8, 2, False), ("graphic", 3, 4, False),
               ("photo", 2, 0, False), ("four colours", 3, 0, False), ("four colours", 4, 5, True)]


def _few_colours_image(name: str) -> np.ndarray:
    if name == "four colours":  # 4 flat colours, a few pixels each: every restart meets the others
        rgb = np.zeros((12, 10, 3), np.uint8)
        rgb[:6, :5], rgb[:6, 5:], rgb[6:, :5], rgb[6:, 5:] = (250, 0, 0), (0, 250, 0), (0, 0, 250), (240, 240, 0)
        return rgb
    return images()[name]


@pytest.mark.parametrize(("name", "k", "seed", "meet"), FEW_COLOURS)
def test_repeated_starts_are_finished_once_to_the_same_answer(monkeypatch: pytest.MonkeyPatch, name: str,
                                                              k: int, seed: int, meet: bool) -> None:
    """Restarts on a few colours meet at the same centres; each repeat is
    skipped, and the fit is the one that finishes every start."""
    from kmseg.engine import _colorfit

    image = _few_colours_image(name)
    finished_groups: list[list[bytes]] = []
    real_best_of = _colorfit.best_of

    def spying(levels, Y, group, *args, **kwargs):  # type: ignore[no-untyped-def]
        finished_groups.append([start.tobytes() for start in group])
        return real_best_of(levels, Y, group, *args, **kwargs)

    monkeypatch.setattr(_colorfit, "best_of", spying)
    skipping = _fit_bytes(image, k, seed)
    skipped = finished_groups[:]
    finished_groups.clear()
    monkeypatch.setattr(_colorfit, "_distinct_groups", _every_group)
    assert _fit_bytes(image, k, seed) == skipping
    every = finished_groups
    # the same starts are finished, each once: the first group's repeats dropped, a single start
    # only when no earlier single start (or a first group of one start) was the same
    assert skipped[0] == list(dict.fromkeys(every[0]))
    singles = [group[0] for group in every[1:]]
    expected = list(dict.fromkeys(singles))
    if len(skipped[0]) == 1:
        expected = [s for s in expected if s != skipped[0][0]]
    assert [group[0] for group in skipped[1:]] == expected
    assert all(len(group) == 1 for group in skipped[1:])
    if meet:
        assert len(skipped) < len(every)


def test_a_fit_of_few_colours_builds_its_cube_tree_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from kmseg.engine import _colorfit, _tree

    built = []
    real_init = _tree.Tree.__init__

    def counting(self, stats):  # type: ignore[no-untyped-def]
        built.append(len(stats))
        real_init(self, stats)

    monkeypatch.setattr(_tree.Tree, "__init__", counting)
    once = _fit_bytes(graphic(), 4, 0)
    assert len(built) == 1  # restarts, trials, jumps and exact passes all on the colours' one tree
    built.clear()
    monkeypatch.setattr(_colorfit, "prepare", lambda stats: stats if isinstance(stats, _tree.Tree)
                        else real_tree(stats))
    real_tree = _tree.Tree
    assert _fit_bytes(graphic(), 4, 0) == once
    assert len(built) > 1


@pytest.mark.parametrize("seed", range(6))
def test_whole_number_centres_with_repeats_are_found(seed: int) -> None:
    from kmseg.engine._colorfit import _repeats

    rng = np.random.default_rng(seed)
    for k in (2, 3, 8, 64):
        R = rng.integers(0, 256, (k, 3)).astype(np.float64)
        R[:, rng.integers(0, 3)] = rng.integers(0, 2, k) * 255  # rows alike in a channel
        assert _repeats(R) == (len({tuple(r) for r in R.tolist()}) < k)
        R[-1] = R[rng.integers(0, k - 1)]
        assert _repeats(R)
        R[-1, 2] = 255 - R[-1, 2] if R[-1, 2] != 127.5 else 0
        assert _repeats(R) == (len({tuple(r) for r in R.tolist()}) < k)


@pytest.mark.parametrize("seed", range(4))
def test_lloyd_passes_of_a_tiny_fit_are_plain_lloyd(seed: int) -> None:
    """The passes over a few weighted points (no cluster empty: the path
    without a mask) end where NumPy's Lloyd ends, pass for pass."""
    from reference import lloyd

    from kmseg.engine import _kmeans, _tree

    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(c, 6.0, (15, 3)) for c in ((40, 40, 40), (200, 60, 60), (90, 210, 120))])
    w = rng.integers(1, 20, X.shape[0]).astype(np.float64)
    C0 = X[rng.choice(X.shape[0], 3, replace=False)]
    for passes in (1, 2, 5, 50):
        C, items, inertia, n_iter, _ = _kmeans.refine(_tree.Tree.of_points(X, w), X, C0, passes, 0.0)
        C_ref, labels_ref, inertia_ref, n_ref = lloyd(X, w, C0, max_iter=passes)
        assert n_iter <= passes
        assert np.allclose(C, C_ref, rtol=0, atol=1e-9)
        assert np.array_equal(items.point_labels(X.shape[0]), labels_ref.astype(np.uint8))
        assert inertia == pytest.approx(inertia_ref, rel=1e-12)


@pytest.mark.parametrize(("name", "k"), [("graphic", 2), ("graphic", 4), ("four colours", 3), ("photo", 2)])
def test_fits_of_few_colours_are_deterministic_and_keep_k(name: str, k: int) -> None:
    image = _few_colours_image(name)
    first = kmseg.segment(image, k, seed=7)
    again = kmseg.segment(image, k, seed=7)
    assert first.k == k and len(np.unique(first.palette, axis=0)) == k
    assert np.array_equal(np.unique(first.labels), np.arange(k))  # every cluster has pixels
    assert (first.labels.tobytes(), first.palette.tobytes(), first.inertia, first.n_iter) == (
        again.labels.tobytes(), again.palette.tobytes(), again.inertia, again.n_iter)
