"""Cached entry points the Streamlit script calls (``st.cache_data``).

The upload's bytes and the decoded image are passed as underscore
arguments, which Streamlit does not hash; the content is identified by
``key``, a SHA-256 prefix of the bytes, so a rerun with the same file and
parameters is a cache hit without re-hashing megabytes on every rerun.
"""

from __future__ import annotations

import time

import streamlit as st

import kmseg

from ._compute import inertia_curve

__all__ = ["curve", "load", "segment"]


@st.cache_data(max_entries=8, show_spinner=False)
def load(key: str, max_pixels: int, _data: bytes) -> kmseg.LoadedImage:
    """Decode an upload (cached by its content key and the pixel limit)."""
    return kmseg.load_image(_data, max_pixels=max_pixels)


@st.cache_data(max_entries=32, show_spinner=False)
def segment(
    key: str,
    k: int,
    max_iter: int,
    color_space: str,
    seed: int,
    max_pixels: int,
    _loaded: kmseg.LoadedImage,
) -> tuple[kmseg.Segmentation, float]:
    """Segment a decoded upload.

    Returns
    -------
    segmentation : kmseg.Segmentation
    finished_at : float
        ``time.time()`` when it was computed: a value older than the call
        means the result came from the cache.
    """
    seg = kmseg.segment(
        _loaded, k, max_iter=max_iter, color_space=color_space, seed=seed, max_pixels=max_pixels
    )
    return seg, time.time()


@st.cache_data(max_entries=16, show_spinner=False)
def curve(
    key: str,
    ks: tuple[int, ...],
    max_iter: int,
    color_space: str,
    seed: int,
    sample_pixels: int,
    _loaded: kmseg.LoadedImage,
) -> list[dict[str, float | int]]:
    """Inertia against K for a decoded upload (see :func:`inertia_curve`)."""
    return inertia_curve(
        _loaded, ks, max_iter=max_iter, color_space=color_space, seed=seed, sample_pixels=sample_pixels
    )
