"""kmseg's features beyond plain colour clustering: automatic K, spatial
segmentation, connected regions, palette transfer, dithering, colour maths
and vector output. :func:`kmseg.segment` composes them; the names here are
the ones the faces and users may call alone."""

from kmseg.features._autok import elbow_of
from kmseg.features._transfer import is_palette_source, palette_colors
from kmseg.features._vector import labels_to_svg

__all__ = ["elbow_of", "is_palette_source", "labels_to_svg", "palette_colors"]
