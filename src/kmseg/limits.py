"""Named limits with defaults; every face lets the user change them."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Limits", "env_limit"]


def env_limit(name: str, default: int) -> int:
    """The whole number above 0 in the environment variable ``name``, else ``default``."""
    try:
        value = int(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass(frozen=True)
class Limits:
    """Limits on what kmseg accepts.

    Attributes
    ----------
    max_pixels : int
        Largest image (width x height) that is decoded; checked from the
        header, before any pixel data is read.
    max_k : int
        Largest number of clusters. Labels are stored as uint8, so at most 256.
    max_iter : int
        Largest number of Lloyd iterations a caller may ask for.
    max_upload_bytes : int
        Largest upload the web app and the HTTP service accept.
    max_frames : int
        Most frames of an animation segmented as a whole (the environment
        variable ``KMSEG_MAX_FRAMES`` changes it); all frames together also
        count against ``max_pixels``.
    """

    max_pixels: int = 50_000_000
    max_k: int = 256
    max_iter: int = 10_000
    max_upload_bytes: int = 25 * 1024 * 1024
    max_frames: int = 1000


DEFAULT_LIMITS = Limits()
