"""The segmentation as SVG (kmseg.labels_to_svg, Segmentation.to_svg): the
drawing is rendered with resvg at the image's size and compared with the
label map, pixel by pixel, over two backgrounds that are in no palette."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

import kmseg
from imagetools import sample_image
from svgtools import fidelity

NS = {"svg": "http://www.w3.org/2000/svg"}
PALETTE = np.array([[200, 40, 40], [40, 180, 60], [50, 60, 210], [230, 220, 90], [20, 20, 20], [250, 250, 250]])


def region_count(labels: np.ndarray, painted: np.ndarray | None = None) -> dict[int, int]:
    """Connected regions (4-connectivity) of every label, by scipy."""
    out = {}
    for k in np.unique(labels):
        mask = labels == k
        if painted is not None:
            mask &= painted
        n = ndimage.label(mask)[1]  # the default structure is 4-connectivity
        if n:
            out[int(k)] = n
    return out


def groups(svg: str) -> dict[int, tuple[str, list[str]]]:
    """cluster -> (fill, [path data]) from the drawing's <g id="cluster-N"> groups."""
    root = ET.fromstring(svg)
    out = {}
    for g in root.findall("svg:g", NS):
        k = int(g.get("id").removeprefix("cluster-"))
        out[k] = (g.get("fill"), [p.get("d") for p in g.findall("svg:path", NS)])
    return out


def assert_exact(labels: np.ndarray, palette: np.ndarray = PALETTE, **kw) -> str:
    """At tolerance 0 the drawing renders to exactly the label map, with no
    background showing, and has one path per connected region."""
    svg = kmseg.labels_to_svg(labels, palette, tolerance=0, **kw)
    right, through = fidelity(svg, labels, palette)
    assert through == 0
    assert right == 1.0
    found = {k: len(paths) for k, (_, paths) in groups(svg).items()}
    assert found == region_count(labels)
    return svg


def ring(size: int = 24) -> np.ndarray:
    """A square ring (label 1) on label 0, with an island of label 2 in its hole
    that itself has a hole of label 0 (nested regions)."""
    labels = np.zeros((size, size), np.uint8)
    labels[3:21, 3:21] = 1
    labels[7:17, 7:17] = 2
    labels[10:14, 10:14] = 0
    return labels


def test_ring_with_nested_islands_and_holes() -> None:
    labels = ring()
    svg = assert_exact(labels)
    paths = groups(svg)
    # Label 0: the outside, and the core in the island's hole: two regions.
    assert len(paths[0][1]) == 2
    # The ring is one path of two sub-paths: its outline and its hole.
    (ring_path,) = paths[1][1]
    assert ring_path.count("M") == 2
    (island,) = paths[2][1]
    assert island.count("M") == 2


def test_groups_carry_the_cluster_colours() -> None:
    svg = kmseg.labels_to_svg(ring(), PALETTE[:3], tolerance=0)
    found = groups(svg)
    assert sorted(found) == [0, 1, 2]
    for k, (fill, _) in found.items():
        assert fill == "#%02x%02x%02x" % tuple(PALETTE[k])
    assert 'fill-rule="evenodd"' in svg


def test_checkerboard() -> None:
    labels = (np.add.outer(np.arange(11), np.arange(9)) % 2).astype(np.uint8)
    assert_exact(labels)


def test_single_pixel_regions() -> None:
    labels = np.random.default_rng(1).integers(0, 6, (37, 41)).astype(np.uint8)
    assert_exact(labels)


def test_diagonal_neighbours_are_separate_regions() -> None:
    labels = np.array([[0, 1], [1, 0]], np.uint8)
    svg = assert_exact(labels)
    assert [len(groups(svg)[k][1]) for k in (0, 1)] == [2, 2]
    # A region that touches itself only at a corner is two regions too.
    stairs = np.zeros((6, 6), np.uint8)
    for i in range(5):
        stairs[i, i] = 1
    svg = assert_exact(stairs)
    assert len(groups(svg)[1][1]) == 5


def test_one_colour_image_is_one_rectangle() -> None:
    labels = np.zeros((7, 13), np.uint8)
    svg = assert_exact(labels)
    assert groups(svg)[0][1] == ["M0 0l0 7 13 0 0-7z"]


def test_one_pixel_and_one_row_images() -> None:
    assert_exact(np.zeros((1, 1), np.uint8))
    assert_exact(np.array([[0, 1, 1, 2, 0]], np.uint8))
    assert_exact(np.array([[0], [1], [1], [2]], np.uint8))


def test_the_check_sees_a_one_pixel_gap() -> None:
    """The comparison this file relies on fails when one pixel is missing."""
    labels = np.zeros((9, 9), np.uint8)
    labels[4, 4] = 1
    svg = kmseg.labels_to_svg(labels, PALETTE, tolerance=0)
    assert fidelity(svg, labels, PALETTE) == (1.0, 0)
    without_pixel = re.sub(r'<g id="cluster-1".*?</g>', "", svg, flags=re.S)
    right, through = fidelity(without_pixel, labels, PALETTE)
    assert through == 1 and right == 80 / 81
    shifted = svg.replace("M4 4l", "M5 4l").replace("M4 5l", "M5 5l")
    assert shifted != svg and fidelity(shifted, labels, PALETTE) != (1.0, 0)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_random_label_maps_are_exact(h: int, w: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, (h, w)).astype(np.uint8)
    # Grow blobs too, not only noise.
    labels = np.repeat(np.repeat(labels, rng.integers(1, 3), axis=0), rng.integers(1, 3), axis=1)
    assert_exact(labels)


def test_china_k8_min_region_exact_at_tolerance_0() -> None:
    seg = kmseg.segment(sample_image("china.jpg"), 8, seed=0, min_region=50)
    svg = seg.to_svg(tolerance=0)
    right, through = fidelity(svg, seg.labels, seg.palette)
    assert (right, through) == (1.0, 0)
    found = groups(svg)
    assert sum(len(p) for _, p in found.values()) == seg.regions
    assert {k: len(p) for k, (_, p) in found.items()} == region_count(seg.labels)


def test_china_default_tolerance_simplifies_without_gaps() -> None:
    seg = kmseg.segment(sample_image("china.jpg"), 8, seed=0, min_region=50)
    exact, simple = seg.to_svg(tolerance=0), seg.to_svg()
    assert len(simple) < len(exact) / 2
    right, through = fidelity(simple, seg.labels, seg.palette)
    assert through == 0  # neighbours share each simplified boundary: no gap
    assert right >= 0.97
    assert sum(len(p) for _, p in groups(simple).values()) == seg.regions
    # Every corner kept lies on the pixel grid.
    numbers = re.findall(r"-?\d+(?:\.\d+)?", " ".join(d for _, p in groups(simple).values() for d in p))
    assert all("." not in n for n in numbers)


def corners(d: str) -> list[np.ndarray]:
    """The rings of a path's data ("Mx yl dx dy ... z" sub-paths) as (n, 2) corner arrays."""
    rings = []
    for sub in re.findall(r"M([^z]*)z", d):
        start, _, rel = sub.partition("l")
        xy = [int(v) for v in re.findall(r"-?\d+", start)]
        deltas = np.array([int(v) for v in re.findall(r"-?\d+", rel)]).reshape(-1, 2)
        rings.append(np.vstack([xy, np.array(xy) + np.cumsum(deltas, axis=0)]))
    return rings


def distance_to_ring(points: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """Distance of every point to the closed polyline ``ring``."""
    a = ring.astype(float)
    b = np.roll(a, -1, axis=0)
    ab = b - a
    p = points.astype(float)[:, None, :]
    t = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0, 1)
    return np.sqrt((((a + t[..., None] * ab) - p) ** 2).sum(-1)).min(axis=1)


@pytest.mark.parametrize("tolerance", [0.5, 1, 2.5])
def test_simplified_boundaries_stay_within_the_tolerance(tolerance: float) -> None:
    labels = np.zeros((40, 50), np.uint8)
    yy, xx = np.mgrid[:40, :50]
    labels[(yy - 20) ** 2 + (xx - 22) ** 2 < 15**2] = 1  # a disc: staircases of every slope
    labels[np.tril_indices(40, -1, 50)] = 2
    exact, simple = groups(kmseg.labels_to_svg(labels, PALETTE, tolerance=0)), groups(
        kmseg.labels_to_svg(labels, PALETTE, tolerance=tolerance))
    for k in exact:
        (exact_rings,), (simple_rings,) = [[corners(d) for d in exact[k][1]]], [[corners(d) for d in simple[k][1]]]
        for e, s in zip(exact_rings, simple_rings, strict=True):
            assert len(e) == len(s)
            for exact_ring, simple_ring in zip(e, s, strict=True):
                assert len(simple_ring) < len(exact_ring)
                assert distance_to_ring(exact_ring, simple_ring).max() <= tolerance + 1e-9
                # The simplified corners are corners of the exact boundary.
                assert {tuple(c) for c in simple_ring} <= {tuple(c) for c in exact_ring}


def test_a_one_pixel_staircase_becomes_one_line_at_tolerance_1() -> None:
    labels = np.zeros((20, 20), np.uint8)
    labels[np.tril_indices(20, -1)] = 1
    (d,) = groups(kmseg.labels_to_svg(labels, PALETTE, tolerance=1))[1][1]
    assert d == "M0 1l0 19 19 0z"  # a triangle: z draws the diagonal back


def test_transparent_pixels_are_left_unpainted() -> None:
    rgba = np.zeros((16, 20, 4), np.uint8)
    rgba[..., :3] = (200, 40, 40)
    rgba[:, 10:, :3] = (40, 60, 200)
    rgba[..., 3] = 255
    rgba[4:12, 6:14, 3] = 0  # a transparent window across both colours
    seg = kmseg.segment(rgba, 2, seed=0)
    svg = seg.to_svg(tolerance=0)
    painted = seg.alpha > 0
    right, through = fidelity(svg, seg.labels, seg.palette, painted)
    assert (right, through) == (1.0, 0)
    # Over two backgrounds, exactly the transparent pixels differ.
    _, everywhere = fidelity(svg, seg.labels, seg.palette)
    assert everywhere == int((~painted).sum())
    assert {k: len(p) for k, (_, p) in groups(svg).items()} == region_count(seg.labels, painted)


def test_crisp_edges_only_when_simplified() -> None:
    labels = ring()
    assert "crispEdges" not in kmseg.labels_to_svg(labels, PALETTE, tolerance=0)
    assert 'shape-rendering="crispEdges"' in kmseg.labels_to_svg(labels, PALETTE, tolerance=1)
    assert "crispEdges" not in kmseg.labels_to_svg(labels, PALETTE, tolerance=1, crisp=False)


def test_save_svg_writes_the_drawing(tmp_path) -> None:
    seg = kmseg.segment(sample_image("china.jpg")[:64, :96], 4, seed=0)
    path = seg.save_svg(tmp_path / "d.svg", tolerance=0)
    assert path.read_text() == seg.to_svg(tolerance=0)
    assert [p.name for p in tmp_path.iterdir()] == ["d.svg"]


@pytest.mark.parametrize("tolerance", [-1, float("nan"), float("inf"), "x", True])
def test_bad_tolerance(tolerance) -> None:
    with pytest.raises(kmseg.InvalidParameterError, match="tolerance"):
        kmseg.labels_to_svg(ring(), PALETTE, tolerance=tolerance)


def test_bad_labels_and_palette() -> None:
    with pytest.raises(kmseg.InvalidParameterError, match="labels must be between 0 and 2"):
        kmseg.labels_to_svg(ring() + 1, PALETTE[:3])
    with pytest.raises(kmseg.InvalidParameterError, match="2-D integer"):
        kmseg.labels_to_svg(np.zeros((2, 2, 2), np.uint8), PALETTE)
    with pytest.raises(kmseg.InvalidParameterError, match="palette"):
        kmseg.labels_to_svg(ring(), np.zeros((3, 4), np.uint8))
    with pytest.raises(kmseg.InvalidParameterError, match="opaque"):
        kmseg.labels_to_svg(ring(), PALETTE, opaque=np.ones((2, 2), bool))


def test_empty_label_map() -> None:
    svg = kmseg.labels_to_svg(np.zeros((0, 5), np.uint8), PALETTE)
    assert ET.fromstring(svg).get("width") == "5" and "<path" not in svg
