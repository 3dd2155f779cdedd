"""kmseg: k-means colour-clustering image segmentation.

The library is the core; the command line (``kmseg``), the web app
(``kmseg[web]``) and the HTTP service (``kmseg[api]``) are thin faces over
these functions.

Examples
--------
>>> import numpy as np, kmseg
>>> image = np.zeros((4, 4, 3), np.uint8); image[:, 2:] = (200, 30, 30)
>>> result = kmseg.segment(image, 2, seed=0)
>>> result.k, sorted(map(tuple, result.palette.tolist()))
(2, [(0, 0, 0), (200, 30, 30)])
"""

import importlib
from typing import TYPE_CHECKING, Any

from kmseg._version import __version__

# Names load on first use (PEP 562), so that `kmseg --help` and other light
# uses of the package do not import NumPy and Pillow.
_HOMES = {
    "kmseg.errors": ("DeadlineExceeded", "ImageDecodeError", "ImageTooLargeError", "InvalidParameterError", "KmsegError",
                     "UnsupportedFormatError"),
    "kmseg.io": ("INPUT_FORMATS", "OUTPUT_FORMATS", "LoadedImage", "atomic_write", "load_image", "normalize_format",
                 "read_metadata", "PALETTE_FORMATS", "READ_PALETTE_FORMATS", "palette_bytes",
                 "palette_format_from_path", "parse_palette", "read_palette", "ANIMATION_FORMATS", "Frames", "load_frames"),
    "kmseg.engine": ("Deadline", "KMeansResult", "kmeans"),
    "kmseg.limits": ("DEFAULT_LIMITS", "Limits"),
    "kmseg._segment": ("COLOR_SPACES", "ColorHistogram", "MergedRegions", "PaletteFit", "Segmentation",
                       "SpatialFit", "apply_palette", "apply_spatial", "choose_k", "color_histogram",
                       "fit_palette", "fit_spatial", "merge_small_regions", "segment", "summarize"),
    "kmseg._animation": ("AnimationSegmentation", "segment_frames"),
    "kmseg.features": ("elbow_of", "labels_to_svg", "labels_to_paint_by_number", "PaintByNumber"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

if TYPE_CHECKING:
    from kmseg.features._autok import elbow_of
    from kmseg.engine._deadline import Deadline
    from kmseg.errors import (
        DeadlineExceeded,
        ImageDecodeError,
        ImageTooLargeError,
        InvalidParameterError,
        KmsegError,
        UnsupportedFormatError,
    )
    from kmseg.io._image import (
        INPUT_FORMATS,
        OUTPUT_FORMATS,
        LoadedImage,
        atomic_write,
        load_image,
        normalize_format,
        read_metadata,
    )
    from kmseg.engine._kmeans import KMeansResult, kmeans
    from kmseg.limits import DEFAULT_LIMITS, Limits
    from kmseg.io._palette import PALETTE_FORMATS, READ_PALETTE_FORMATS, palette_bytes, palette_format_from_path, parse_palette, read_palette
    from kmseg._segment import (
        COLOR_SPACES,
        ColorHistogram,
        MergedRegions,
        PaletteFit,
        Segmentation,
        SpatialFit,
        apply_palette,
        apply_spatial,
        choose_k,
        color_histogram,
        fit_palette,
        fit_spatial,
        merge_small_regions,
        segment,
        summarize,
    )
    from kmseg._animation import AnimationSegmentation, segment_frames
    from kmseg.io._frames import ANIMATION_FORMATS, Frames, load_frames
    from kmseg.features._vector import labels_to_svg
    from kmseg.features._paint import PaintByNumber, labels_to_paint_by_number


def __getattr__(name: str) -> Any:
    home = _HOME_OF.get(name)
    if home is None:
        raise AttributeError(f"module 'kmseg' has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ANIMATION_FORMATS",
    "AnimationSegmentation",
    "COLOR_SPACES",
    "DEFAULT_LIMITS",
    "INPUT_FORMATS",
    "OUTPUT_FORMATS",
    "PALETTE_FORMATS",
    "READ_PALETTE_FORMATS",
    "ColorHistogram",
    "Deadline",
    "DeadlineExceeded",
    "ImageDecodeError",
    "Frames",
    "ImageTooLargeError",
    "InvalidParameterError",
    "KMeansResult",
    "KmsegError",
    "Limits",
    "LoadedImage",
    "MergedRegions",
    "PaletteFit",
    "PaintByNumber",
    "Segmentation",
    "SpatialFit",
    "UnsupportedFormatError",
    "__version__",
    "apply_palette",
    "apply_spatial",
    "atomic_write",
    "choose_k",
    "color_histogram",
    "elbow_of",
    "fit_palette",
    "fit_spatial",
    "kmeans",
    "labels_to_paint_by_number",
    "labels_to_svg",
    "load_frames",
    "load_image",
    "merge_small_regions",
    "normalize_format",
    "palette_bytes",
    "palette_format_from_path",
    "parse_palette",
    "read_metadata",
    "read_palette",
    "segment",
    "segment_frames",
    "summarize",
]
