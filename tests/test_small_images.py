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
