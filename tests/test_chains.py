"""The compiled boundary tracer (kmseg.engine.trace_boundaries, engine/chains.c)
against the NumPy tracer it replaced (tests/vector_reference.py): the same
path text for every region and the same simplified boundaries, byte for
byte, at every tolerance, on hand-made edge cases, random maps and a photo;
and the wrapper's checks of its arguments."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kmseg
import vector_reference as reference
from imagetools import sample_image
from kmseg.engine import trace_boundaries
from regions_reference import components

TOLERANCES = (0.0, 0.5, 1.0, 2.5)
PALETTE = np.array([[i * 37 % 256, i * 91 % 256, i * 53 % 256] for i in range(8)])


def groups(svg: str) -> dict[int, list[str]]:
    """cluster -> [path data] of a drawing's <g id="cluster-N"> groups."""
    ns = {"svg": "http://www.w3.org/2000/svg"}
    return {int(g.get("id").removeprefix("cluster-")): [p.get("d") for p in g.findall("svg:path", ns)]
            for g in ET.fromstring(svg).findall("svg:g", ns)}


def disc(h: int, w: int, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return ((yy - h // 2) ** 2 + (xx - w // 2) ** 2 < radius**2).astype(np.uint8)


def framed(labels: np.ndarray, opaque: np.ndarray | None = None) -> np.ndarray:
    out = np.full((labels.shape[0] + 2, labels.shape[1] + 2), -1, dtype=np.int16)
    out[1:-1, 1:-1] = labels
    if opaque is not None:
        out[1:-1, 1:-1][~opaque] = -1
    return out


def assert_like_reference(labels: np.ndarray, opaque: np.ndarray | None = None,
                          tolerances: tuple[float, ...] = TOLERANCES) -> None:
    n_labels = int(labels.max()) + 1
    frame = framed(labels, opaque)
    regions, n = components(frame)
    for tolerance in tolerances:
        boundaries = trace_boundaries(frame, tolerance)
        want = reference.svg_paths(labels, opaque, tolerance)
        got = boundaries.svg_paths(regions, n, n_labels)
        assert got == ["".join(f'<path d="{d}"/>\n' for d in want.get(k, [])) for k in range(n_labels)], tolerance
        points, starts = boundaries.outlines()
        want_lines = reference.outlines(labels, opaque, tolerance)
        assert starts.tolist() == np.cumsum([0] + [len(p) for p in want_lines]).tolist()
        np.testing.assert_array_equal(points, np.concatenate([np.zeros((0, 2), np.int64), *want_lines]))
        # The library's drawing carries the same paths, and paint-by-number the same outlines.
        svg = kmseg.labels_to_svg(labels, PALETTE[:n_labels], tolerance=tolerance, opaque=opaque)
        assert groups(svg) == want
        sheet = kmseg.labels_to_paint_by_number(labels, PALETTE[:n_labels], tolerance=tolerance, opaque=opaque)
        assert len(sheet.outlines) == len(want_lines)
        for a, b in zip(sheet.outlines, want_lines):
            np.testing.assert_array_equal(a, b)


def nested() -> np.ndarray:
    """A ring with an island in its hole, the island with a hole of its own."""
    labels = np.zeros((24, 24), np.uint8)
    labels[3:21, 3:21] = 1
    labels[7:17, 7:17] = 2
    labels[10:14, 10:14] = 0
    return labels


CASES = {
    "one pixel": np.zeros((1, 1), np.uint8),
    "one row": np.array([[0, 1, 1, 2, 0, 0, 3]], np.uint8),
    "one column": np.array([[0], [1], [1], [2], [0]], np.uint8),
    "checkerboard: one-pixel regions, every corner a junction": (np.add.outer(np.arange(9), np.arange(7)) % 2)
    .astype(np.uint8),
    "nested holes": nested(),
    # Label 1 touches all four sides of the image and holds two holes.
    "a frame touching every side": np.pad(np.array([[0, 0, 1, 2], [0, 0, 1, 2]], np.uint8), 2, constant_values=1),
    "one colour": np.zeros((5, 8), np.uint8),
    "diagonal touch": np.array([[0, 1], [1, 0]], np.uint8),
    "stairs": np.tril(np.ones((20, 20), np.uint8), -1),
    "a disc: staircases of every slope": disc(31, 37, 13),
    "a long thin line": np.pad(np.ones((1, 300), np.uint8), 1),
}


@pytest.mark.parametrize("name", list(CASES))
def test_edge_cases_match_the_reference(name: str) -> None:
    assert_like_reference(CASES[name])


def test_transparent_pixels_match_the_reference() -> None:
    labels = nested()
    opaque = np.ones(labels.shape, bool)
    opaque[:, :5] = False  # along the border
    opaque[11, 11] = False  # a transparent pixel inside a region: a hole
    assert_like_reference(labels, opaque)
    assert_like_reference(labels, np.zeros(labels.shape, bool))  # nothing painted


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 14), st.integers(1, 14), st.integers(1, 7), st.integers(0, 2**32 - 1))
def test_random_maps_match_the_reference(h: int, w: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, (h, w)).astype(np.uint8)
    labels = np.repeat(np.repeat(labels, rng.integers(1, 4), axis=0), rng.integers(1, 4), axis=1)
    opaque = rng.random(labels.shape) > 0.1 if seed % 3 == 0 else None
    assert_like_reference(labels, opaque)


def test_a_photo_matches_the_reference() -> None:
    """china at K=6 without min_region: thousands of regions, long chains and
    rings with no junction."""
    labels = kmseg.segment(sample_image("china.jpg")[::2, ::2], 6, seed=0).labels
    assert components(labels)[1] > 1000
    assert_like_reference(labels, tolerances=(0.0, 1.0, 3.0))


def test_bad_arguments_are_refused() -> None:
    good = framed(nested())
    for bad in (good.astype(np.int32), good[:, ::2], np.zeros(5, np.int16)):
        with pytest.raises(TypeError, match="int16"):
            trace_boundaries(bad, 1.0)
    unframed = good.copy()
    unframed[0, 3] = 0
    with pytest.raises(ValueError, match="framed"):
        trace_boundaries(unframed, 1.0)
    with pytest.raises(ValueError, match="framed"):
        trace_boundaries(np.full((2, 5), -1, np.int16), 1.0)
    with pytest.raises(ValueError, match="tolerance"):
        trace_boundaries(good, float("nan"))
    boundaries = trace_boundaries(good, 1.0)
    regions, n = components(good)
    with pytest.raises(TypeError, match="regions"):
        boundaries.svg_paths(regions[1:], n, 3)
    with pytest.raises(ValueError, match="regions"):
        boundaries.svg_paths(regions, n - 1, 3)
    with pytest.raises(ValueError, match="n_labels"):
        boundaries.svg_paths(regions, n, 2)
