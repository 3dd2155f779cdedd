"""A label map as an SVG drawing: one filled path per connected region, with
every shared boundary traced and simplified once, so neighbours meet exactly.

The boundary is the graph of pixel edges between 4-connected regions. Every
edge is walked twice, once in each direction, with the region on its left;
these directed edges form the rings (outer boundaries and holes) of every
region. The rings are cut into chains at the junctions (pixel corners with
three or four boundary edges); a ring with no junction is cut at its
smallest vertex. Each chain is simplified once (Douglas-Peucker, ends
fixed) and both regions beside it use that one result, forwards and
backwards: no gaps, no overlaps.

The tracing is compiled (:func:`kmseg.engine.trace_boundaries`, one walk
along the rings); this module checks the arguments and writes the document.
"""

from __future__ import annotations

import numpy as np

from kmseg.engine import trace_boundaries
from kmseg.features import _regions
from kmseg.errors import InvalidParameterError
from kmseg import options

__all__ = ["DEFAULT_TOLERANCE", "MAX_TOLERANCE", "labels_to_svg"]

#: Default ``tolerance``: one pixel straightens the one-pixel staircases of
#: slanted edges (their corners lie 0.71 px off the line) while no simplified
#: edge strays more than a pixel from the pixel edges.
DEFAULT_TOLERANCE = 1.0

#: Largest ``tolerance`` accepted, in pixels.
MAX_TOLERANCE = 10000.0


def labels_to_svg(
    labels: np.ndarray,
    palette: np.ndarray,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    opaque: np.ndarray | None = None,
    crisp: bool | None = None,
    title: str | None = None,
) -> str:
    """Draw a label map as SVG: a filled path per connected region.

    Regions are 4-connected: two pixels touching only at a corner are two
    regions. Each path is grouped by cluster, ``<g id="cluster-N"
    fill="#rrggbb">``, in label order, so the paths of one colour can be
    selected at once; holes are sub-paths (fill-rule even-odd).

    Parameters
    ----------
    labels : (H, W) integer array
        Cluster of every pixel, 0 .. k-1.
    palette : (k, 3) uint8-valued array
        Colour of every cluster.
    tolerance : float
        Largest distance, in pixels, between a simplified boundary and the
        pixel edges it replaces (Douglas-Peucker; the ends of every shared
        boundary stay fixed). 0 keeps the exact pixel edges, merging only
        points on straight lines. Regions thinner than about the tolerance
        may lose their area (their neighbours take it, with no gap);
        between regions only a pixel or two wide, simplified boundaries can
        cross and leave a pixel unpainted (``min_region`` avoids both).
    opaque : (H, W) bool array, optional
        Pixels to paint; the others (transparent) are left empty.
    crisp : bool, optional
        Write ``shape-rendering="crispEdges"``, which keeps anti-aliasing
        from letting the background through where slanted edges of two
        regions meet. Default: when ``tolerance`` > 0 (at 0 every edge lies
        on pixel edges and renders exactly either way).
    title : str, optional
        Text of a ``<title>`` element.

    Returns
    -------
    str
        The SVG document, ``width`` x ``height`` pixels, one user unit per
        pixel.

    Raises
    ------
    kmseg.InvalidParameterError
        Shapes that do not fit, labels outside the palette, or a tolerance
        outside 0 .. ``MAX_TOLERANCE``.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((3, 3), np.uint8); labels[1, 1] = 1
    >>> svg = labels_to_svg(labels, np.array([[0, 0, 0], [255, 255, 255]]), tolerance=0)
    >>> svg.count("<path")
    2
    """
    labels, palette, opaque, tolerance = check_drawing(labels, palette, opaque, tolerance)
    if crisp is None:
        crisp = tolerance > 0
    h, w = labels.shape
    paths = _region_paths(labels, opaque, tolerance, len(palette)) if labels.size else []
    colors = ["#%02x%02x%02x" % tuple(int(v) for v in c) for c in palette]
    out = ['<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
           f'width="{w}" height="{h}" viewBox="0 0 {w} {h}"'
           + (' shape-rendering="crispEdges"' if crisp else "") + ">\n"]
    if title:
        out.append(f"<title>{_escape(title)}</title>\n")
    for k, text in enumerate(paths):
        if text:
            out += [f'<g id="cluster-{k}" fill="{colors[k]}" fill-rule="evenodd">\n', text, "</g>\n"]
    out.append("</svg>\n")
    return "".join(out)


def check_drawing(labels: np.ndarray, palette: np.ndarray, opaque: np.ndarray | None, tolerance: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float]:
    """The arguments of a drawing checked (InvalidParameterError naming the bad one)."""
    labels = np.asarray(labels)
    palette = np.asarray(palette)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise InvalidParameterError(
            f"labels must be a 2-D integer array, got {labels.dtype} of shape {labels.shape}", param="labels")
    if (palette.ndim != 2 or palette.shape[1] != 3 or not 1 <= palette.shape[0] <= 256
            or not np.issubdtype(palette.dtype, np.integer) or palette.min() < 0 or palette.max() > 255):
        raise InvalidParameterError(
            f"palette must be a (k, 3) array of integers 0-255 with k from 1 to 256, "
            f"got {palette.dtype} of shape {palette.shape}", param="palette")
    if labels.size and (labels.min() < 0 or labels.max() >= palette.shape[0]):
        raise InvalidParameterError(
            f"labels must be between 0 and {palette.shape[0] - 1} (one per palette colour), "
            f"got {labels.min()} to {labels.max()}", param="labels")
    if opaque is not None:
        opaque = np.asarray(opaque, dtype=bool)
        if opaque.shape != labels.shape:
            raise InvalidParameterError(
                f"opaque must have the labels' shape {labels.shape}, got {opaque.shape}", param="opaque")
    tolerance = options.validate("svg_tolerance", tolerance, label="tolerance")
    return labels, palette, opaque, tolerance


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _region_paths(labels: np.ndarray, opaque: np.ndarray | None, tolerance: float, n_labels: int) -> list[str]:
    """``<path d="..."/>`` lines of every painted region, for every label."""
    framed = frame(labels, opaque)
    regions, n = _regions.components(framed)
    return trace_boundaries(framed, tolerance).svg_paths(regions, n, n_labels)


def frame(labels: np.ndarray, opaque: np.ndarray | None = None) -> np.ndarray:
    """The label map (checked, with at least one pixel) as int16 inside a
    frame of one pixel of "outside" (-1), which transparent pixels join; the
    frame makes every boundary an inner edge."""
    h, w = labels.shape
    framed = np.full((h + 2, w + 2), -1, dtype=np.int16)
    framed[1:-1, 1:-1] = labels
    if opaque is not None:
        framed[1:-1, 1:-1][~opaque] = -1
    return framed


def outlines(framed: np.ndarray, tolerance: float) -> list[np.ndarray]:
    """Every shared boundary of a framed map (:func:`frame`) once, simplified
    by ``tolerance``: a list of (n, 2) int64 (x, y) polylines, each the
    boundary between two regions (or a region and the outside) from junction
    to junction, with the lower label on its left."""
    points, starts = trace_boundaries(framed, tolerance).outlines()
    bounds = starts.tolist()
    return list(map(points.__getitem__, map(slice, bounds[:-1], bounds[1:])))
