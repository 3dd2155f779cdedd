"""Paint-by-number sheets (kmseg.labels_to_paint_by_number, Segmentation.to_paint_by_number):
numbers inside their regions, legend, outlines on the boundaries, PNG at a DPI."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

import kmseg
from imagetools import sample_image


def render_width(svg: str, width: int) -> np.ndarray:
    """(H, W, 3) uint8: the sheet drawn ``width`` pixels wide over white (its height follows)."""
    import resvg_py

    png = resvg_py.svg_to_bytes(svg_string=svg, width=width, background="#ffffff")
    with Image.open(io.BytesIO(bytes(png))) as im:
        assert im.width == width
        return np.asarray(im.convert("RGB"))

NS = {"s": "http://www.w3.org/2000/svg"}


def numbers_of(svg: str) -> list[tuple[int, float, float, float]]:
    """(number, x, y, font size) of every region's number, read from the SVG."""
    root = ET.fromstring(svg)
    group = root.find(".//s:g[@id='numbers']", NS)
    return [(int(t.text), float(t.get("x")), float(t.get("y")), float(t.get("font-size")))
            for t in group.findall("s:text", NS)]


def legend_of(svg: str) -> dict[int, tuple[str, str, str]]:
    """number -> (chip fill, number written on the chip, hex code written beside it)."""
    root = ET.fromstring(svg)
    out = {}
    for chip in root.find(".//s:g[@id='legend']", NS).findall("s:g", NS):
        rect = chip.find("s:rect", NS)
        on_chip, beside = [t.text for t in chip.findall("s:text", NS)]
        out[int(chip.get("id").removeprefix("chip-"))] = (rect.get("fill"), on_chip, beside)
    return out


@pytest.fixture(scope="module")
def photo_seg() -> kmseg.Segmentation:
    return kmseg.segment(sample_image("china.jpg")[::2, ::2], 10, seed=0, min_region=60)


def regions_of(labels: np.ndarray) -> np.ndarray:
    out = np.zeros(labels.shape, dtype=np.int64)
    n = 0
    for value in np.unique(labels):
        comp, count = ndimage.label(labels == value)  # 4-connected
        out[comp > 0] = comp[comp > 0] + n
        n += count
    return out


def test_every_number_is_inside_its_region_and_its_box_fits(photo_seg: kmseg.Segmentation) -> None:
    labels = photo_seg.labels
    sheet = photo_seg.to_paint_by_number(tolerance=0, width_mm=400, min_font_mm=1.5)
    numbers = numbers_of(sheet.to_svg())
    regions = regions_of(labels)
    assert len(numbers) >= 10
    assert len(numbers) + sheet.unlabelled == regions.max()
    seen_regions = set()
    h, w = labels.shape
    for number, x, y, size in numbers:
        assert labels[int(y), int(x)] == number - 1, (number, x, y)
        seen_regions.add(regions[int(y), int(x)])
        # The number's box (digits 0.6 em wide, 0.72 em high) lies on pixels of its region.
        half_w, half_h = 0.3 * size * len(str(number)), 0.36 * size
        xs = np.clip(np.linspace(x - half_w, x + half_w, 9), 0, w - 1e-9).astype(int)
        ys = np.clip(np.linspace(y - half_h, y + half_h, 9), 0, h - 1e-9).astype(int)
        box = regions[np.ix_(ys, xs)]
        assert (box == regions[int(y), int(x)]).all(), (number, x, y, size)
    assert len(seen_regions) == len(numbers)  # one number per region


def test_the_number_sits_at_the_pole_of_inaccessibility(photo_seg: kmseg.Segmentation) -> None:
    """The point found is as far from the region's edges as the farthest pixel
    centre a distance transform finds (within the search's precision)."""
    labels = photo_seg.labels
    sheet = kmseg.labels_to_paint_by_number(labels, photo_seg.palette, tolerance=0, width_mm=400,
                                            min_font_mm=1.5)
    regions = regions_of(labels)
    padded = np.pad(regions, 1, constant_values=-1)
    for label, x, y, _ in sheet.numbers.tolist():
        region = padded[int(y) + 1, int(x) + 1]
        depth = ndimage.distance_transform_edt(padded == region)  # pixel centre to the nearest outside centre
        best = depth.max() - 0.5  # to the nearest edge, for a straight edge
        ours = ndimage.distance_transform_edt(padded == region)[int(y) + 1, int(x) + 1] - 0.5
        assert ours >= best - 1.5, (label, x, y, ours, best)  # searched on polygons simplified by 1 px


def lattice_distance(labels: np.ndarray) -> np.ndarray:
    """(2H + 1, 2W + 1) float: distance, in half pixels, from every point of
    the half-pixel lattice (corners, edge middles, pixel centres; point
    (Y, X) at (X / 2, Y / 2)) to the nearest point on an edge between two
    labels or on the image's border, by scipy's Euclidean distance transform."""
    padded = np.pad(labels.astype(np.int64), 1, constant_values=-1)
    h, w = labels.shape
    edge = np.zeros((2 * h + 1, 2 * w + 1), dtype=bool)
    four = padded[:-1, :-1], padded[:-1, 1:], padded[1:, :-1], padded[1:, 1:]
    edge[::2, ::2] = (four[0] != four[1]) | (four[0] != four[2]) | (four[0] != four[3])
    edge[1::2, ::2] = padded[1:-1, :-1] != padded[1:-1, 1:]  # middles of vertical edges
    edge[::2, 1::2] = padded[:-1, 1:-1] != padded[1:, 1:-1]  # middles of horizontal edges
    return ndimage.distance_transform_edt(~edge)


def test_every_number_sits_at_its_regions_farthest_point_exactly(photo_seg: kmseg.Segmentation) -> None:
    """On the half-pixel lattice the pole is exact: no point of the region is
    farther from its edges, and the font fits the circle there less the
    margin of a pixel (tolerance 0)."""
    labels = photo_seg.labels
    sheet = kmseg.labels_to_paint_by_number(labels, photo_seg.palette, tolerance=0, width_mm=400,
                                            min_font_mm=1.5)
    regions = regions_of(labels)
    distance = lattice_distance(labels) / 2
    # The region of every lattice point that is on no edge: that of the pixel below-right of it, or its own.
    owner = regions[np.minimum(np.arange(2 * labels.shape[0] + 1) // 2, labels.shape[0] - 1)][
        :, np.minimum(np.arange(2 * labels.shape[1] + 1) // 2, labels.shape[1] - 1)]
    best = ndimage.maximum(distance, owner, index=np.arange(regions.max() + 1))
    assert len(sheet.numbers) >= 10
    for label, x, y, size in sheet.numbers.tolist():
        X, Y = int(2 * x), int(2 * y)
        assert (X, Y) == (2 * x, 2 * y)  # on the lattice
        region = owner[Y, X]
        assert distance[Y, X] == best[region] > 0, (label, x, y)
        digits = len(str(int(label) + 1))
        fitted = 2 * (best[region] - 1) / np.hypot(0.6 * digits, 0.72)
        assert size == pytest.approx(min(fitted, 6 * labels.shape[1] / 400))


def test_a_ring_is_numbered_on_the_ring_not_in_its_hole() -> None:
    labels = np.zeros((80, 80), np.uint8)
    labels[10:70, 10:70] = 1
    labels[22:58, 22:58] = 2  # a hole in region 1, bigger than the ring is wide
    sheet = kmseg.labels_to_paint_by_number(labels, np.array([[255, 255, 255], [200, 0, 0], [0, 0, 200]]),
                                            tolerance=0, width_mm=80)
    placed = {int(n): (x, y) for n, x, y in (row[:3] for row in sheet.numbers.tolist())}
    assert sorted(placed) == [0, 1, 2]
    x, y = placed[1]
    assert labels[int(y), int(x)] == 1
    assert placed[2] == (40.0, 40.0)


def test_regions_too_small_for_a_legible_number_are_left_unlabelled() -> None:
    labels = np.zeros((100, 100), np.uint8)
    labels[5:8, 5:8] = 1  # 3 x 3 pixels: 0.6 mm across on a 20 mm sheet
    labels[40:90, 40:90] = 2
    palette = np.array([[250, 250, 250], [10, 10, 10], [30, 200, 30]])
    sheet = kmseg.labels_to_paint_by_number(labels, palette, width_mm=20, min_font_mm=2)
    assert sorted(int(n) for n in sheet.numbers[:, 0]) == [0, 2] and sheet.unlabelled == 1
    # The small region still has its outline, and its colour is in the legend.
    assert set(legend_of(sheet.to_svg())) == {1, 2, 3}
    bigger = kmseg.labels_to_paint_by_number(labels, palette, width_mm=400, min_font_mm=2)
    assert sorted(int(n) for n in bigger.numbers[:, 0]) == [0, 1, 2] and bigger.unlabelled == 0


def test_font_size_follows_the_region_and_stops_at_the_maximum() -> None:
    labels = np.zeros((200, 400), np.uint8)
    labels[50:70, 20:60] = 1    # 20 px high: the number fits a 10 px circle
    labels[20:180, 200:380] = 2  # large: capped at max_font_mm
    palette = np.array([[255, 255, 255], [200, 0, 0], [0, 0, 200]])
    sheet = kmseg.labels_to_paint_by_number(labels, palette, tolerance=0, width_mm=400, max_font_mm=30)
    size = {int(n): s for n, _, _, s in sheet.numbers.tolist()}
    assert size[2] == pytest.approx(30.0)  # 1 px per mm
    # The box fits a circle of radius 10 less the search's 1 px margin (polygons simplified by 1 px).
    assert size[1] == pytest.approx(2 * (10 - 1) / np.hypot(0.6, 0.72), rel=0.05)


def test_legend_lists_every_cluster_with_its_hex(photo_seg: kmseg.Segmentation) -> None:
    legend = legend_of(photo_seg.to_paint_by_number().to_svg())
    assert sorted(legend) == list(range(1, photo_seg.k + 1))
    for number, (fill, on_chip, beside) in legend.items():
        r, g, b = photo_seg.palette[number - 1]
        want = f"#{r:02x}{g:02x}{b:02x}"
        assert fill == want and beside == want and on_chip == str(number)


def test_outlines_render_over_the_label_boundaries() -> None:
    labels = np.zeros((40, 60), np.uint8)
    labels[:, 30:] = 1
    labels[10:30, 8:20] = 2
    palette = np.array([[255, 255, 255], [0, 0, 0], [200, 0, 0]])
    scale = 8
    sheet = kmseg.labels_to_paint_by_number(labels, palette, tolerance=0, width_mm=60)
    svg = sheet.to_svg()
    grey = render_width(svg, 60 * scale).astype(int).sum(axis=2)[:40 * scale]
    # Every pixel edge between two labels, at its middle, is drawn (darker than the paper).
    ys, xs = np.nonzero(labels[:, 1:] != labels[:, :-1])
    assert (grey[ys * scale + scale // 2, (xs + 1) * scale] < 3 * 230).all()
    ys, xs = np.nonzero(labels[1:] != labels[:-1])
    assert (grey[(ys + 1) * scale, xs * scale + scale // 2] < 3 * 230).all()
    # Away from the boundaries and the numbers the paper is white.
    far = ndimage.binary_erosion(np.ones_like(labels, bool), iterations=1, border_value=0)
    for value in range(3):
        far &= ~ndimage.binary_dilation(ndimage.binary_dilation(labels == value) & (labels != value))
    for _, x, y, size in sheet.numbers.tolist():
        yy, xx = np.mgrid[:40, :60]
        far &= np.hypot(xx + 0.5 - x, yy + 0.5 - y) > size
    centres = grey[np.arange(40)[:, None] * scale + scale // 2, np.arange(60)[None, :] * scale + scale // 2]
    assert far.sum() > 500 and (centres[far] == 3 * 255).all()


def test_png_at_a_chosen_dpi() -> None:
    labels = np.zeros((50, 100), np.uint8)
    labels[:, 50:] = 1
    sheet = kmseg.labels_to_paint_by_number(labels, np.array([[255, 255, 255], [0, 80, 200]]), tolerance=0,
                                            width_mm=100)
    for dpi in (100, 300):
        with Image.open(io.BytesIO(sheet.to_png(dpi))) as im:
            assert im.format == "PNG" and round(im.info["dpi"][0]) == dpi
            assert im.width == round(100 / 25.4 * dpi)
            assert im.height == round(sheet.sheet_height * im.width / 100)
            grey = np.asarray(im.convert("L")).astype(int)
        s = im.width / 100
        column = int(round(50 * s))
        assert grey[: int(45 * s), column - 1: column + 2].min(axis=1).max() < 200  # the outline at x = 50
        assert grey[int(20 * s), int(10 * s)] == 255  # paper elsewhere
    with pytest.raises(kmseg.InvalidParameterError, match="dpi must be between 30 and 1200, got 10"):
        sheet.to_png(10)


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"width_mm": 0}, "width_mm"), ({"min_font_mm": -1}, "min_font_mm"), ({"line_mm": 9}, "line_mm"),
    ({"min_font_mm": 5, "max_font_mm": 3}, "max_font_mm"), ({"tolerance": -1}, "svg_tolerance"),
])
def test_bad_sheet_sizes_are_refused(kwargs: dict, param: str) -> None:
    with pytest.raises(kmseg.InvalidParameterError) as info:
        kmseg.labels_to_paint_by_number(np.zeros((4, 4), np.uint8), np.zeros((1, 3), np.uint8), **kwargs)
    assert info.value.param == param


def test_transparent_pixels_are_left_blank() -> None:
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., :3] = (200, 30, 30)
    rgba[:, 30:, :3] = (30, 30, 200)
    rgba[..., 3] = 255
    rgba[:, 45:, 3] = 0
    seg = kmseg.segment(rgba, 2, seed=0)
    sheet = seg.to_paint_by_number(tolerance=0, width_mm=60)
    for label, x, _, _ in sheet.numbers.tolist():
        assert x < 45
    assert len(sheet.numbers) == 2
