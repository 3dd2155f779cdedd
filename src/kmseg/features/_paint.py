"""A paint-by-number sheet of a label map: thin grey outlines, each region's
cluster number at its pole of inaccessibility, and a legend of numbered
colour chips.

The outlines are the shared boundaries of :mod:`kmseg.features._vector`,
each drawn once. A number goes at the region's pole of inaccessibility,
the point inside it farthest from its edges (holes included), found for
every region at once by the engine's exact Euclidean distance transform
(:func:`kmseg.engine.region_poles`, Felzenszwalb and Huttenlocher's
algorithm) on the half-pixel lattice: pixel corners, edge middles and pixel
centres. The distance from such a point to a region's pixel edges is
exact, so the pole found is at most a quarter of a pixel's diagonal
(0.36 px) less deep than the true one, and the number's box keeps the
margin asked for. This replaced the polylabel search (Mapbox, Agafonkin 2016) on
each region's traced polygon, chosen while kmseg had no distance transform
of its own (it depends on NumPy and Pillow only): that search cost cells
times edges per region, and the largest regions of a 12-megapixel photo
have thousands of holes and tens of thousands of edges, so it took most of
a sheet's time; the transform costs a fixed few passes over the lattice
(four points a pixel), whatever the regions' shapes.

The sheet is measured in millimetres (``width_mm`` across): the smallest
legible number (``min_font_mm``) decides which regions get one, whatever
the image's size in pixels.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from kmseg import options
from kmseg.engine import region_poles
from kmseg.errors import InvalidParameterError
from kmseg.features import _regions, _vector

__all__ = ["PaintByNumber", "labels_to_paint_by_number"]

#: Grey of the outlines and of the numbers.
OUTLINE_GREY = "#8c8c8c"
NUMBER_GREY = "#4d4d4d"
# A number's box in font sizes: digit advance and cap height of a sans-serif face.
_DIGIT_WIDTH = 0.6
_DIGIT_HEIGHT = 0.72
_LEGEND_CHIP_MM = 6.0
_LEGEND_ROW_MM = 9.0
_LEGEND_ENTRY_MM = 30.0
# The sheet's size is written in CSS pixels, 96 to the inch (what every renderer
# takes; "mm" units are not read by all), so it prints ``width_mm`` wide.
_CSS_PX_PER_MM = 96 / 25.4


@dataclass(frozen=True)
class PaintByNumber:
    """A paint-by-number sheet: outlines, numbers and a legend.

    Coordinates are in the label map's pixels (x right, y down); the sheet
    is ``width_mm`` wide when printed, so one pixel is ``width_mm / width``
    millimetres.

    Attributes
    ----------
    width, height : int
        Size of the label map in pixels.
    palette : (k, 3) uint8
        Colour of every cluster; cluster ``i`` is numbered ``i + 1``.
    outlines : list of (n, 2) int64
        Every shared boundary once, as an (x, y) polyline.
    numbers : (m, 4) float64
        One row per numbered region: label, x, y (its pole of
        inaccessibility) and the font size in pixels.
    unlabelled : int
        Regions too small for a legible number.
    width_mm, line_mm : float
        Printed width of the drawing and of the outlines.
    """

    width: int
    height: int
    palette: np.ndarray
    outlines: list[np.ndarray]
    numbers: np.ndarray
    unlabelled: int
    width_mm: float
    line_mm: float
    _clusters: tuple[int, ...] = field(default=(), repr=False)

    @property
    def unit_mm(self) -> float:
        """Millimetres per pixel of the label map."""
        return self.width_mm / self.width

    def _legend(self) -> tuple[list[tuple[int, float, float]], float]:
        """(cluster, x, y) of every chip's top-left corner, and the legend's height (pixels)."""
        u = 1 / self.unit_mm
        columns = max(1, int(self.width_mm // _LEGEND_ENTRY_MM))
        top = self.height + 4 * u
        chips = [(c, (i % columns) * _LEGEND_ENTRY_MM * u, top + (i // columns) * _LEGEND_ROW_MM * u)
                 for i, c in enumerate(self._clusters)]
        rows = math.ceil(len(chips) / columns)
        return chips, 4 * u + rows * _LEGEND_ROW_MM * u

    @property
    def sheet_height(self) -> float:
        """Height of the whole sheet, legend included, in pixels of the label map."""
        return self.height + self._legend()[1]

    def to_svg(self) -> str:
        """The sheet as SVG, ``width_mm`` wide (in CSS pixels, 96 to the inch);
        user units are the label map's pixels.

        Groups: ``<g id="outlines">`` (one path, a sub-path per shared
        boundary), ``<g id="numbers">`` (a ``<text>`` per region, centred on
        its pole), ``<g id="legend">`` (a ``<g class="chip" id="chip-N">``
        per cluster: its colour, its number and its hex code).
        """
        u = 1 / self.unit_mm
        sheet_h = self.sheet_height
        out = ['<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
               f'width="{self.width_mm * _CSS_PX_PER_MM:.6g}" height="{sheet_h * self.unit_mm * _CSS_PX_PER_MM:.6g}" '
               f'viewBox="0 0 {self.width} {sheet_h:.6g}">\n',
               f'<rect id="paper" width="{self.width}" height="{sheet_h:.6g}" fill="#ffffff"/>\n']
        data = _polylines(self.outlines)
        out.append(f'<g id="outlines" fill="none" stroke="{OUTLINE_GREY}" stroke-width="{self.line_mm * u:.4g}" '
                   f'stroke-linejoin="round" stroke-linecap="round">\n<path d="{data}"/>\n</g>\n')
        out.append(f'<g id="numbers" fill="{NUMBER_GREY}" font-family="DejaVu Sans, Arial, sans-serif" '
                   'text-anchor="middle" dominant-baseline="central">\n')
        for label, x, y, size in self.numbers.tolist():
            out.append(f'<text x="{x:.2f}" y="{y:.2f}" font-size="{size:.3g}">{int(label) + 1}</text>\n')
        out.append("</g>\n")
        chips, _ = self._legend()
        chip, font = _LEGEND_CHIP_MM * u, 3.0 * u
        out.append(f'<g id="legend" font-family="DejaVu Sans, Arial, sans-serif" font-size="{font:.4g}" '
                   'dominant-baseline="central">\n')
        for c, x, y in chips:
            hex_ = _hex(self.palette[c])
            out.append(f'<g class="chip" id="chip-{c + 1}"><rect x="{x:.4g}" y="{y:.4g}" width="{chip:.4g}" '
                       f'height="{chip:.4g}" fill="{hex_}" stroke="{OUTLINE_GREY}" '
                       f'stroke-width="{self.line_mm * u:.4g}"/>'
                       f'<text x="{x + chip / 2:.4g}" y="{y + chip / 2:.4g}" text-anchor="middle" '
                       f'fill="{_ink(self.palette[c])}">{c + 1}</text>'
                       f'<text x="{x + chip + 1.5 * u:.4g}" y="{y + chip / 2:.4g}" fill="{NUMBER_GREY}">'
                       f'{hex_}</text></g>\n')
        out.append("</g>\n</svg>\n")
        return "".join(out)

    def to_png(self, dpi: int = 300) -> bytes:
        """The sheet drawn with Pillow at ``dpi`` dots per inch (a PNG
        carrying that resolution), ``width_mm`` wide."""
        dpi = options.validate("paint_dpi", dpi, label="dpi")
        scale = self.unit_mm / 25.4 * dpi  # dots per pixel of the label map
        size = (max(1, round(self.width * scale)), max(1, round(self.sheet_height * scale)))
        im = Image.new("RGB", size, "white")
        draw = ImageDraw.Draw(im)
        line = max(1, round(self.line_mm / 25.4 * dpi))
        for p in self.outlines:
            draw.line([tuple(v) for v in (p * scale).tolist()], fill=OUTLINE_GREY, width=line, joint="curve")
        fonts: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] = {}

        def font(px: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
            key = max(1, round(px))
            if key not in fonts:
                fonts[key] = ImageFont.load_default(key)
            return fonts[key]

        for label, x, y, s in self.numbers.tolist():
            draw.text((x * scale, y * scale), str(int(label) + 1), fill=NUMBER_GREY, font=font(s * scale),
                      anchor="mm")
        u = 1 / self.unit_mm
        chip = _LEGEND_CHIP_MM * u * scale
        legend_font = font(3.0 * u * scale)
        for c, x, y in self._legend()[0]:
            x, y = x * scale, y * scale
            draw.rectangle([x, y, x + chip, y + chip], fill=tuple(int(v) for v in self.palette[c]),
                           outline=OUTLINE_GREY, width=line)
            draw.text((x + chip / 2, y + chip / 2), str(c + 1), fill=_ink(self.palette[c]), font=legend_font,
                      anchor="mm")
            draw.text((x + chip + 1.5 * u * scale, y + chip / 2), _hex(self.palette[c]), fill=NUMBER_GREY,
                      font=legend_font, anchor="lm")
        buf = io.BytesIO()
        im.save(buf, format="PNG", dpi=(dpi, dpi))
        return buf.getvalue()


def _hex(color: np.ndarray) -> str:
    return "#%02x%02x%02x" % tuple(int(v) for v in color)


def _ink(color: np.ndarray) -> str:
    """Black or white, whichever reads better on ``color``."""
    r, g, b = (float(v) for v in color)
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"


def _polylines(outlines: list[np.ndarray]) -> str:
    """Path data of the polylines: each "Mx yl" then its relative moves, all
    made in one pass (a sheet has hundreds of thousands)."""
    lengths = np.fromiter(map(len, outlines), dtype=np.int64, count=len(outlines))
    drawn = np.flatnonzero(lengths > 1)
    if not drawn.size:
        return ""
    points = np.concatenate([outlines[i] for i in drawn.tolist()])
    n = lengths[drawn]
    start = np.cumsum(n) - n
    moves = np.diff(points, axis=0)
    keep = np.ones(len(moves), dtype=bool)
    keep[start[1:] - 1] = False
    tokens = list(map(str, moves[keep].ravel().tolist()))
    separators = [" "] * len(tokens)
    heads = (2 * (start - np.arange(drawn.size))).tolist()  # each polyline's first token
    for i, (x, y) in zip(heads, points[start].tolist()):
        separators[i] = f"M{x} {y}l"
    pieces = [""] * (2 * len(tokens))
    pieces[0::2] = separators
    pieces[1::2] = tokens
    return "".join(pieces)


def labels_to_paint_by_number(
    labels: np.ndarray,
    palette: np.ndarray,
    *,
    tolerance: float = _vector.DEFAULT_TOLERANCE,
    opaque: np.ndarray | None = None,
    width_mm: float = 190.0,
    min_font_mm: float = 2.0,
    max_font_mm: float = 6.0,
    line_mm: float = 0.2,
) -> PaintByNumber:
    """Make a paint-by-number sheet of a label map.

    Every connected region (4-connectivity) is outlined in thin grey and,
    when its number fits at ``min_font_mm`` or more, numbered ``label + 1``
    at its pole of inaccessibility (the point farthest from its edges,
    holes included, on the half-pixel lattice; see the module's notes), the
    font sized so that the number's box fits the largest circle there that
    keeps a pixel, or ``tolerance`` if more, from the region's pixel edges
    (the outlines stray up to ``tolerance`` from them), up to
    ``max_font_mm``. A legend lists every cluster present: a chip of
    its colour with its number, and its hex code.

    Parameters
    ----------
    labels : (H, W) integer array
        Cluster of every pixel, 0 .. k-1.
    palette : (k, 3) uint8-valued array
        Colour of every cluster.
    tolerance : float
        How far, in pixels, the outlines may stray from the pixel edges
        (as :func:`kmseg.labels_to_svg`; 0 = exact pixel edges).
    opaque : (H, W) bool array, optional
        Pixels to draw; transparent ones are left blank and unnumbered.
    width_mm : float
        Printed width of the drawing, 10 to 2000 mm (190: A4 less margins).
    min_font_mm, max_font_mm : float
        Smallest legible number (a region that cannot hold one is left
        unlabelled) and largest number, in millimetres.
    line_mm : float
        Width of the outlines, in millimetres.

    Returns
    -------
    PaintByNumber
        With :meth:`PaintByNumber.to_svg` and :meth:`PaintByNumber.to_png`.

    Raises
    ------
    kmseg.InvalidParameterError
        Shapes that do not fit, labels outside the palette, or sizes out of range.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((40, 60), np.uint8); labels[10:30, 20:40] = 1
    >>> sheet = labels_to_paint_by_number(labels, np.array([[250, 250, 250], [200, 30, 30]]), width_mm=60)
    >>> sheet.numbers[:, 0].astype(int).tolist()
    [0, 1]
    >>> [float(v) for v in sheet.numbers[1, 1:3]]
    [30.0, 20.0]
    """
    labels, palette, opaque, tolerance = _vector.check_drawing(labels, palette, opaque, tolerance)
    palette = palette.astype(np.uint8)
    for name, value, low, high in (("width_mm", width_mm, 10, 2000), ("min_font_mm", min_font_mm, 0.5, 100),
                                   ("max_font_mm", max_font_mm, 0.5, 100), ("line_mm", line_mm, 0.01, 5)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise InvalidParameterError(f"{name} must be a number between {low} and {high}, got {value!r}",
                                        param=name)
    if max_font_mm < min_font_mm:
        raise InvalidParameterError(f"max_font_mm must be at least min_font_mm ({min_font_mm}), "
                                    f"got {max_font_mm}", param="max_font_mm")
    h, w = labels.shape
    if not labels.size:
        raise InvalidParameterError("labels must have at least one pixel", param="labels")
    framed = _vector.frame(labels, opaque)
    outlines = _vector.outlines(framed, float(tolerance))
    px_per_mm = w / float(width_mm)
    numbers, unlabelled = _place_numbers(framed, max(float(tolerance), 1.0), min_font_mm * px_per_mm,
                                         max_font_mm * px_per_mm)
    shown = labels if opaque is None else labels[opaque]
    clusters = tuple(int(c) for c in np.unique(shown))
    return PaintByNumber(w, h, palette, outlines, numbers, unlabelled, float(width_mm), float(line_mm),
                         clusters)


def _fit_font(radius: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Largest font size whose number's box (digits wide) fits a circle of ``radius``."""
    return 2 * radius / np.hypot(_DIGIT_WIDTH * digits, _DIGIT_HEIGHT)


def _place_numbers(padded: np.ndarray, margin: float, min_font: float, max_font: float
                   ) -> tuple[np.ndarray, int]:
    """(label, x, y, font size) of every painted region that holds a legible
    number, and the count of the others.

    ``padded`` is the label map framed by a pixel of -1 (as transparent
    pixels are). The number's box keeps ``margin`` pixels from the region's
    pixel edges."""
    regions, n = _regions.components(padded)
    d2, point = region_poles(regions, n)
    label = np.empty(n, dtype=np.int64)
    label[regions.ravel()] = padded.ravel()
    painted = label >= 0
    digits = np.char.str_len(np.char.mod("%d", label + 1))
    radius = np.sqrt(d2) / 2 - margin  # of the largest circle around the pole that keeps the margin
    fits = painted & (radius >= min_font * np.hypot(_DIGIT_WIDTH * digits, _DIGIT_HEIGHT) / 2)
    y, x = np.divmod(point[fits], 2 * padded.shape[1] - 3)  # in half pixels
    size = np.minimum(max_font, _fit_font(radius[fits], digits[fits]))
    numbers = np.column_stack([label[fits], x / 2, y / 2, size]).astype(np.float64)
    return numbers, int(painted.sum() - fits.sum())
