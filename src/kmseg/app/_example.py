"""The web app's built-in example image: a synthetic sunset landscape.

The picture is drawn by :func:`make_example` with NumPy alone (gradients,
noise ridges, a sun, a lake with a rippled reflection and a little film
grain), so its licence is ours: it is dedicated to the public domain under
CC0-1.0 (see ``example.LICENSE.txt`` next to it). The committed
``example.jpg`` was made with ``python -m kmseg.app._example``.
"""

from __future__ import annotations

import io
from importlib import resources

import numpy as np
from PIL import Image

__all__ = ["EXAMPLE_NAME", "example_bytes", "make_example"]

EXAMPLE_NAME = "example.jpg"


def example_bytes() -> bytes:
    """Return the bytes of the committed example image (a JPEG).

    Returns
    -------
    bytes
        The file ``kmseg/app/example.jpg``.
    """
    return resources.files(__package__).joinpath(EXAMPLE_NAME).read_bytes()


def _ridge(rng: np.random.Generator, width: int, octaves: int = 6) -> np.ndarray:
    """A 1-D fractal noise profile in [0, 1] (sum of interpolated octaves)."""
    x = np.linspace(0.0, 1.0, width)
    out = np.zeros(width)
    amp = 1.0
    for octave in range(octaves):
        n = 2 ** (octave + 2) + 1
        knots = rng.random(n)
        out += amp * np.interp(x, np.linspace(0.0, 1.0, n), knots)
        amp *= 0.5
    out -= out.min()
    return out / max(out.max(), 1e-9)


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return a + (b - a) * t[..., None]


def make_example(width: int = 768, height: int = 512, seed: int = 2024) -> Image.Image:
    """Draw the example landscape.

    Parameters
    ----------
    width, height : int
        Size of the picture in pixels.
    seed : int
        Seed of the noise; the committed file uses the defaults.

    Returns
    -------
    PIL.Image.Image
        An RGB image.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    horizon = int(height * 0.62)

    # Sky: deep blue at the top through violet to orange at the horizon.
    t = np.clip(yy / horizon, 0.0, 1.0)
    top = np.array([28.0, 40.0, 96.0])
    mid = np.array([150.0, 80.0, 140.0])
    low = np.array([250.0, 160.0, 80.0])
    sky = np.where(
        (t < 0.55)[..., None],
        _lerp(top, mid, np.clip(t / 0.55, 0, 1)),
        _lerp(mid, low, np.clip((t - 0.55) / 0.45, 0, 1)),
    )

    # Sun with a soft glow, sitting low over the hills.
    sx, sy, sr = width * 0.68, horizon * 0.52, height * 0.07
    d = np.hypot(xx - sx, yy - sy)
    glow = np.exp(-((d / (sr * 3.5)) ** 2))[..., None]
    sky = sky * (1 - 0.6 * glow) + np.array([255.0, 210.0, 120.0]) * 0.6 * glow
    disc = np.clip(sr - d + 1.0, 0.0, 1.0)[..., None]
    sky = sky * (1 - disc) + np.array([255.0, 236.0, 170.0]) * disc
    img = sky.copy()

    # Three mountain ranges, farther ones hazier.
    ranges = [
        (0.58, 0.26, np.array([150.0, 110.0, 160.0])),
        (0.70, 0.20, np.array([96.0, 84.0, 130.0])),
        (0.80, 0.14, np.array([52.0, 82.0, 70.0])),
    ]
    for base, amp, colour in ranges:
        ridge = horizon * (base + amp * (1 - _ridge(rng, width)))
        inside = yy >= ridge[None, :]
        shade = np.clip((yy - ridge[None, :]) / (horizon * 0.5), 0, 1)[..., None]
        c = colour * (1 - 0.35 * shade)
        img = np.where(inside[..., None], c, img)

    # Dark tree line on the shore.
    trees = horizon - height * (0.02 + 0.06 * _ridge(rng, width, octaves=8) ** 3)
    img = np.where((yy >= trees[None, :])[..., None], np.array([20.0, 30.0, 26.0]), img)

    # Lake: mirrored scene, darkened and tinted, with horizontal ripples.
    below = yy >= horizon
    depth = (yy - horizon) / (height - horizon)
    ripple = (np.sin(yy * 0.9 + 3 * np.sin(xx * 0.02)) * (2 + 10 * depth)).astype(int)
    src_y = np.clip(2 * horizon - yy.astype(int) + ripple, 0, horizon - 1)
    src_x = np.clip(xx.astype(int) + ripple // 2, 0, width - 1)
    water = img[src_y, src_x] * 0.7 + np.array([10.0, 30.0, 60.0]) * 0.3
    water *= (1 - 0.3 * depth)[..., None]
    img = np.where(below[..., None], water, img)

    # A grassy bank in the foreground, lit from the sun's side.
    bank = height - height * (0.10 + 0.08 * _ridge(rng, width, octaves=7)) - xx[0] * 0.08
    grass = _lerp(np.array([70.0, 120.0, 40.0]), np.array([190.0, 170.0, 70.0]), xx / width)
    grass *= (0.8 + 0.2 * rng.random((height, width)))[..., None]
    img = np.where((yy >= bank[None, :])[..., None], grass, img)

    # Film grain, then round to 8 bits.
    img += rng.normal(0.0, 4.0, img.shape)
    return Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8), "RGB")


def _main() -> None:  # pragma: no cover - maintenance helper
    from pathlib import Path

    buf = io.BytesIO()
    make_example().save(buf, "JPEG", quality=88, optimize=True)
    path = Path(__file__).with_name(EXAMPLE_NAME)
    path.write_bytes(buf.getvalue())
    print(f"wrote {path} ({len(buf.getvalue())} bytes)")


if __name__ == "__main__":  # pragma: no cover
    _main()
