"""Cached entry points the Streamlit script calls (``st.cache_data``).

The upload's bytes and the decoded image are passed as underscore
arguments, which Streamlit does not hash; the content is identified by
``key``, a SHA-256 prefix of the bytes, so a rerun with the same file and
parameters is a cache hit without re-hashing megabytes on every rerun.

Entries are few and expire after an hour: a 50-megapixel image and its
result take a few hundred megabytes, and the cache is shared by every
visitor of the app.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import streamlit as st

import kmseg

from kmseg.app import _compute

__all__ = ["boundaries", "figures", "load", "palette_source", "segment", "segment_animation"]


@st.cache_data(max_entries=4, ttl=3600, show_spinner=False)
def load(key: str, max_pixels: int, _data: bytes) -> kmseg.LoadedImage:
    """Decode an upload (cached by its content key and the pixel limit)."""
    return kmseg.load_image(_data, max_pixels=max_pixels)


@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def segment(
    key: str,
    k: int | str | None,
    max_iter: int,
    color_space: str,
    seed: int,
    max_pixels: int,
    _loaded: kmseg.LoadedImage,
    spatial_weight: float = 0.0,
    fit_size: int = 256,
    min_region: int = 0,
    target_psnr: float | None = None,
    dither: bool = False,
    palette_key: str | None = None,
    _palette: np.ndarray | bytes | None = None,
) -> tuple[kmseg.Segmentation, float]:
    """Segment a decoded upload.

    Every parameter of the run is part of the cache key; the palette upload
    is identified by ``palette_key`` (a digest of its bytes), like the image.

    Returns
    -------
    segmentation : kmseg.Segmentation
    finished_at : float
        ``time.time()`` when it was computed: a value older than the call
        means the result came from the cache.
    """
    seg = _compute.segment_in_time(
        _loaded, k, max_iter=max_iter, color_space=color_space, seed=seed, max_pixels=max_pixels,
        spatial_weight=spatial_weight, fit_size=fit_size, min_region=min_region,
        target_psnr=target_psnr, dither=dither, palette=_palette,
    )
    return seg, time.time()


@st.cache_data(max_entries=2, ttl=3600, show_spinner=False)
def segment_animation(
    key: str,
    k: int | str | None,
    max_iter: int,
    color_space: str,
    seed: int,
    max_pixels: int,
    _data: bytes,
    palette_key: str | None = None,
    _palette: np.ndarray | bytes | None = None,
) -> tuple[kmseg.AnimationSegmentation, bytes]:
    """Every frame of an animated upload segmented with one palette, and the
    result as a GIF to show (browsers play it)."""
    anim = _compute.segment_in_time(_data, k, run=kmseg.segment_frames, max_iter=max_iter,
                                    color_space=color_space, seed=seed, max_pixels=max_pixels, palette=_palette)
    return anim, anim.to_bytes("gif" if anim.alpha is None or anim.k < 256 else "webp")


@st.cache_data(max_entries=4, ttl=3600, show_spinner=False)
def palette_source(palette_key: str, name: str, _data: bytes) -> np.ndarray | bytes:
    """An uploaded palette file read into colours, or an image's bytes."""
    return _compute.palette_source(name, _data)


@st.cache_data(max_entries=4, ttl=3600, show_spinner=False)
def boundaries(run_id: str, _seg: kmseg.Segmentation, _original: np.ndarray) -> np.ndarray:
    """The segment edges drawn in red on the original, (H, W, 3) uint8."""
    return np.asarray(_seg.boundaries_image(_original))


@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def figures(run_id: str, _seg: kmseg.Segmentation) -> dict[str, Any]:
    """:func:`kmseg.summarize` of a result, keyed by its run.

    Segmentation computes PSNR and ΔE lazily, and a cached Segmentation comes
    back as a fresh copy on every rerun, so its figures are cached separately.
    """
    return kmseg.summarize(_seg)
