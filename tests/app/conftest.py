"""Shared fixtures of the web app tests: small real images as upload bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image


def _encode(array: np.ndarray, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="session")
def china() -> np.ndarray:
    """scikit-learn's china.jpg (427x640 RGB)."""
    from sklearn.datasets import load_sample_image

    return load_sample_image("china.jpg")


@pytest.fixture(scope="session")
def small_png(china: np.ndarray) -> bytes:
    """china.jpg scaled to 96x64, as PNG bytes."""
    return _encode(np.asarray(Image.fromarray(china).resize((96, 64))), "PNG")


@pytest.fixture(scope="session")
def rgba_png(china: np.ndarray) -> bytes:
    """A 80x60 RGBA PNG whose right half is fully transparent."""
    rgb = np.asarray(Image.fromarray(china).resize((80, 60)))
    alpha = np.full((60, 80), 255, np.uint8)
    alpha[:, 40:] = 0
    return _encode(np.dstack([rgb, alpha]), "PNG")
