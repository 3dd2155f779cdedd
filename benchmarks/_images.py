"""Test images shared by the benchmark scripts.

Every image is made from scikit-learn's two sample photographs (china.jpg
and flower.jpg, 640 x 427 each, shipped inside the scikit-learn package, so
no download) and is the same on every run: all randomness is seeded.

- ``benchmark_images()``: "china", "flower" and "photo12mp", a 4256 x 2840
  (12.1 MP) photo-like picture: the two photographs tiled 2 x 2 (the lower
  row mirrored), which has their 3:2 shape, upscaled with Lanczos and given
  Gaussian noise of sigma 2 like a camera's sensor noise (a bare upscale
  has far fewer distinct colours than a real photo).
- ``one_mp_images(n, seed)``: n varied ~1 MP crops and rescales of the two,
  noised the same way, for batch benchmarks.
- ``write_jpeg(path, array)``: save one of them as a JPEG.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["IMAGE_NAMES", "PHOTO_SIZE", "benchmark_images", "one_mp_images", "sample", "write_jpeg"]

#: Names ``benchmark_images`` knows, in the order it returns them.
IMAGE_NAMES: tuple[str, ...] = ("china", "flower", "photo12mp")
#: (width, height) of "photo12mp".
PHOTO_SIZE: tuple[int, int] = (4256, 2840)
#: Standard deviation of the added noise, in 8-bit levels.
NOISE_SIGMA = 2.0
#: (width, height) of the ~1 MP batch images (3:2, 1.0 MP).
ONE_MP_SIZE: tuple[int, int] = (1224, 816)


@lru_cache(maxsize=None)
def sample(name: str) -> np.ndarray:
    """One of scikit-learn's sample photographs.

    Parameters
    ----------
    name : {"china", "flower"}

    Returns
    -------
    (427, 640, 3) uint8 ndarray, read-only
    """
    from sklearn.datasets import load_sample_image

    image = np.ascontiguousarray(load_sample_image(f"{name}.jpg"))
    image.setflags(write=False)
    return image


def add_noise(image: np.ndarray, rng: np.random.Generator, sigma: float = NOISE_SIGMA) -> np.ndarray:
    """Add rounded Gaussian noise, clipped to 0..255, band by band (low memory).

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
    rng : numpy.random.Generator
    sigma : float
        Standard deviation in 8-bit levels.

    Returns
    -------
    (H, W, 3) uint8 ndarray
        A new array.
    """
    out = np.empty_like(image)
    rows = max(1, (1 << 20) // max(1, image.shape[1]))  # about 1 MP per band
    for top in range(0, image.shape[0], rows):
        band = image[top : top + rows]
        noise = rng.standard_normal(band.shape, dtype=np.float32) * np.float32(sigma)
        noisy = np.rint(band.astype(np.float32) + noise)
        out[top : top + rows] = np.clip(noisy, 0, 255).astype(np.uint8)
    return out


def photo12mp(seed: int = 0) -> np.ndarray:
    """The ~12 MP photo-like benchmark image (see the module docstring).

    Parameters
    ----------
    seed : int
        Seed of the noise.

    Returns
    -------
    (2840, 4256, 3) uint8 ndarray
    """
    china, flower = sample("china"), sample("flower")
    top = np.concatenate([china, flower], axis=1)
    bottom = np.concatenate([flower[:, ::-1], china[:, ::-1]], axis=1)
    mosaic = Image.fromarray(np.concatenate([top, bottom], axis=0))
    big = np.asarray(mosaic.resize(PHOTO_SIZE, Image.Resampling.LANCZOS))
    return add_noise(big, np.random.default_rng(seed))


def benchmark_images(names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """The core benchmark's images, by name.

    Parameters
    ----------
    names : iterable of str, optional
        Any of ``IMAGE_NAMES`` (default: all). Only the images asked for are
        made, so leaving out "photo12mp" saves a second or two and 36 MB.

    Returns
    -------
    dict of str to (H, W, 3) uint8 ndarray
        In the order of ``IMAGE_NAMES``.

    Raises
    ------
    ValueError
        An unknown name.
    """
    wanted = list(IMAGE_NAMES if names is None else names)
    unknown = sorted(set(wanted) - set(IMAGE_NAMES))
    if unknown:
        raise ValueError(f"unknown image name(s) {unknown}; choose from {list(IMAGE_NAMES)}")
    return {name: photo12mp() if name == "photo12mp" else np.array(sample(name))
            for name in IMAGE_NAMES if name in wanted}


def one_mp_images(n: int, seed: int = 0, size: tuple[int, int] = ONE_MP_SIZE) -> list[np.ndarray]:
    """n varied ~1 MP images: random crops (50-100 % of the side), flips
    and rescales of the two sample photographs, with sensor-like noise.

    Parameters
    ----------
    n : int
        How many images.
    seed : int
        Seed of the crops, flips and noise: the same seed gives the same images.
    size : (int, int)
        (width, height) of every image; default 1224 x 816.

    Returns
    -------
    list of (height, width, 3) uint8 ndarray
    """
    rng = np.random.default_rng(seed)
    photos = [Image.fromarray(sample(name)) for name in ("china", "flower")]
    images = []
    for i in range(n):
        src = photos[i % 2]
        scale = rng.uniform(0.5, 1.0)
        w, h = max(16, round(src.width * scale)), max(16, round(src.height * scale))
        x, y = int(rng.integers(0, src.width - w + 1)), int(rng.integers(0, src.height - h + 1))
        crop = src.crop((x, y, x + w, y + h))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        images.append(add_noise(np.asarray(crop.resize(size, Image.Resampling.LANCZOS)), rng))
    return images


def write_jpeg(path: str | os.PathLike, array: np.ndarray, quality: int = 90) -> Path:
    """Save an (H, W, 3) uint8 array as a JPEG.

    Parameters
    ----------
    path : str or PathLike
        Destination; its folder must exist.
    array : (H, W, 3) uint8 ndarray
    quality : int
        JPEG quality, 1 to 95.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    Image.fromarray(np.asarray(array, dtype=np.uint8), "RGB").save(path, "JPEG", quality=quality)
    return path
