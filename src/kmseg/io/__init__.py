"""kmseg's input and output: decoding images within limits, encoding them
(indexed PNG), and palette files."""

from kmseg.io._image import (
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    InputUnreadableError,
    LoadedImage,
    atomic_write,
    load_image,
    normalize_format,
    read_metadata,
    special_file_kind,
)
from kmseg.io._frames import (
    ANIMATED_INPUT_FORMATS,
    ANIMATION_FORMATS,
    Frames,
    encode_animation,
    load_frames,
    max_frames_default,
)
from kmseg.io._palette import (
    PALETTE_FORMATS,
    READ_PALETTE_FORMATS,
    palette_bytes,
    palette_format_from_path,
    parse_palette,
    read_palette,
)

__all__ = ["ANIMATED_INPUT_FORMATS", "ANIMATION_FORMATS", "Frames", "encode_animation", "load_frames",
           "max_frames_default", "INPUT_FORMATS", "OUTPUT_FORMATS", "PALETTE_FORMATS", "READ_PALETTE_FORMATS", "InputUnreadableError",
           "LoadedImage", "atomic_write", "load_image", "normalize_format", "palette_bytes",
           "palette_format_from_path", "parse_palette", "read_metadata", "read_palette", "special_file_kind"]
