"""Regenerate the README's before/after pictures with kmseg itself.

Run: .venv/bin/python docs/make_pictures.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from sklearn.datasets import load_sample_image

import kmseg

OUT = Path(__file__).parent / "images"


def strip(name: str, ks: tuple[int, ...], width: int = 320) -> Image.Image:
    """The original photo beside its segmentations, each captioned."""
    photo = load_sample_image(name)
    tiles = [("original", Image.fromarray(photo))]
    for k in ks:
        result = kmseg.segment(photo, k, seed=0)
        tiles.append((f"K = {k}  (PSNR {result.psnr:.1f} dB)", result.to_image().convert("RGB")))
    height = round(photo.shape[0] * width / photo.shape[1])
    sheet = Image.new("RGB", (width * len(tiles), height + 22), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (caption, tile) in enumerate(tiles):
        sheet.paste(tile.resize((width, height), Image.Resampling.LANCZOS), (i * width, 22))
        draw.text((i * width + 6, 5), caption, fill="black")
    return sheet


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    strip("china.jpg", (4, 16)).save(OUT / "china-before-after.jpg", quality=88)
    strip("flower.jpg", (3, 8)).save(OUT / "flower-before-after.jpg", quality=88)


if __name__ == "__main__":
    main()
