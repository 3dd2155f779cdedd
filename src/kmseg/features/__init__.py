"""kmseg's features beyond plain colour clustering: automatic K, spatial
segmentation, connected regions, palette transfer, dithering, colour maths,
vector output and paint-by-number sheets. :func:`kmseg.segment` composes them; the names here are
the ones the faces and users may call alone."""

from kmseg.features._autok import elbow_of
from kmseg.features._transfer import is_palette_source, palette_colors
from kmseg.features._paint import PaintByNumber, labels_to_paint_by_number
from kmseg.features._vector import labels_to_svg

__all__ = ["PaintByNumber", "elbow_of", "is_palette_source", "labels_to_paint_by_number", "labels_to_svg",
           "palette_colors"]
