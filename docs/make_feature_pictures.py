"""Regenerate the README's pictures of the segmentation features (issue 7).

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python docs/make_feature_pictures.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from sklearn.datasets import load_sample_image

import kmseg

OUT = Path(__file__).parent / "images"
PALETTE = np.array([[20, 24, 38], [242, 236, 220], [196, 62, 52], [60, 110, 160], [220, 170, 60], [70, 130, 80]])


def sheet(tiles: list[tuple[str, Image.Image]], width: int = 320) -> Image.Image:
    """Tiles side by side, each captioned."""
    height = round(tiles[0][1].height * width / tiles[0][1].width)
    out = Image.new("RGB", (width * len(tiles), height + 22), "white")
    draw = ImageDraw.Draw(out)
    for i, (caption, tile) in enumerate(tiles):
        out.paste(tile.convert("RGB").resize((width, height), Image.Resampling.LANCZOS), (i * width, 22))
        draw.text((i * width + 6, 5), caption, fill="black")
    return out


def curve_plot(seg: kmseg.Segmentation, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """log inertia against K, the chosen K marked."""
    im = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(im)
    ks = np.array([k for k, _, _ in seg.k_curve], float)
    log = np.log10([i for _, i, _ in seg.k_curve])
    x0, y0, x1, y1 = 30, 15, size[0] - 10, size[1] - 30
    px = x0 + (ks - ks[0]) / (ks[-1] - ks[0]) * (x1 - x0)
    py = y1 - (log - log.min()) / (log.max() - log.min()) * (y1 - y0)
    draw.line([(x0, y0), (x0, y1), (x1, y1)], fill="black")
    draw.line(list(zip(px, py)), fill=(40, 80, 200), width=2)
    for x, y, k in zip(px, py, ks):
        chosen = int(k) == seg.k
        r = 5 if chosen else 2
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(220, 40, 40) if chosen else (40, 80, 200))
    draw.text((x0 + 4, y1 + 8), f"K = 1 .. {int(ks[-1])}; log inertia; chosen K = {seg.k}", fill="black")
    return im


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    china, flower = load_sample_image("china.jpg"), load_sample_image("flower.jpg")

    colour = kmseg.segment(china, 8, seed=0)
    spatial = kmseg.segment(china, 60, seed=0, spatial_weight=2.0, min_region=64)
    sheet([("original", Image.fromarray(china)),
           ("colour only, K = 8", colour.to_image()),
           ("spatial_weight=2, K = 60", spatial.to_image()),
           (f"its {spatial.regions} regions", spatial.boundaries_image(china))]
          ).save(OUT / "feature-spatial.jpg", quality=85)

    clean = kmseg.segment(china, 8, seed=0, min_region=200)
    sheet([(f"K = 8: {clean.regions_before} regions", colour.boundaries_image(china).crop((120, 60, 480, 300))),
           (f"min_region=200: {clean.regions} regions", clean.boundaries_image(china).crop((120, 60, 480, 300))),
           ("min_region=200, picture", clean.to_image().convert("RGB").crop((120, 60, 480, 300)))]
          ).save(OUT / "feature-regions.jpg", quality=85)

    auto = kmseg.segment(flower, "auto", seed=0)
    target = kmseg.segment(flower, "auto", target_psnr=30.0, seed=0)
    sheet([("original", Image.fromarray(flower)),
           (f"auto (elbow): K = {auto.k}", auto.to_image()),
           ("elbow curve", curve_plot(auto).resize((427, 320))),
           (f"auto, target 30 dB: K = {target.k} ({target.psnr:.1f} dB)", target.to_image())]
          ).save(OUT / "feature-autok.jpg", quality=85)

    box = (150, 20, 400, 200)
    plain = kmseg.segment(flower, 6, seed=0)
    dith = kmseg.segment(flower, 6, seed=0, dither=True)
    sheet([("original (crop)", Image.fromarray(flower).crop(box)),
           ("K = 6", plain.to_image().convert("RGB").crop(box)),
           ("K = 6, dither=True", dith.to_image().convert("RGB").crop(box))]
          ).save(OUT / "feature-dither.jpg", quality=90)

    fixed = kmseg.segment(china, palette=PALETTE)
    borrowed = kmseg.segment(china, 6, palette=flower, seed=0)
    sheet([("original", Image.fromarray(china)),
           ("palette = 6 given colours", fixed.to_image()),
           ("palette fitted on flower.jpg (K = 6)", borrowed.to_image()),
           ("same, dither=True", kmseg.segment(china, palette=borrowed.palette, dither=True).to_image())]
          ).save(OUT / "feature-transfer.jpg", quality=85)


if __name__ == "__main__":
    main()
