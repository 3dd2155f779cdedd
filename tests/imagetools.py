"""Images for the tests: real photographs from scikit-learn and images made here.

(Not a conftest: several test folders have their own conftest.py, so shared
helpers live in a module with a name of its own.)
"""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import Image


@functools.lru_cache(maxsize=None)
def _sample(name: str) -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return load_sample_image(name)


def sample_image(name: str) -> np.ndarray:
    """A copy of one of scikit-learn's sample photographs (china.jpg, flower.jpg)."""
    return _sample(name).copy()


def quadrants(size: int = 64, noise: float = 6.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four coloured quadrants plus seeded noise, and the quadrant of every pixel."""
    colors = np.array([[200, 40, 40], [40, 180, 60], [50, 60, 210], [230, 220, 90]], float)
    truth = np.zeros((size, size), dtype=np.intp)
    h = size // 2
    truth[:h, h:] = 1
    truth[h:, :h] = 2
    truth[h:, h:] = 3
    rng = np.random.default_rng(seed)
    img = colors[truth] + rng.normal(0, noise, (size, size, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), truth


def encode(array_or_image, fmt: str = "PNG", **kw) -> bytes:
    im = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(array_or_image)
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two label arrays split the pixels the same way, whatever the numbering."""
    a, b = a.ravel(), b.ravel()
    pairs = np.unique(np.stack([a, b]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))
