"""Downloads, the inertia curve and the example image, through kmseg's API."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

import kmseg
from kmseg.app._compute import curve_sample, downloads, image_array, inertia_curve
from kmseg.app._example import EXAMPLE_NAME, example_bytes


def by_key(seg: kmseg.Segmentation, name: str = "photo.jpg") -> dict[str, bytes]:
    return {d.key: d.make() for d in downloads(seg, name)}


def colours(data: bytes) -> set[tuple[int, ...]]:
    im = Image.open(io.BytesIO(data)).convert("RGB")
    return set(map(tuple, np.asarray(im).reshape(-1, 3).tolist()))


def test_downloads_are_full_size_and_named(small_png: bytes) -> None:
    seg = kmseg.segment(small_png, 5, seed=1)
    items = downloads(seg, "my photo.png")
    assert [d.file_name for d in items] == [
        "my_photo-k5.png", "my_photo-k5.jpg", "my_photo-k5.webp", "my_photo-k5-labels.png",
        "my_photo-k5-palette.json", "my_photo-k5-palette.gpl", "my_photo-k5.svg",
        "my_photo-k5-paint.png", "my_photo-k5-paint.svg"]  # fmt: skip
    data = {d.key: d.make() for d in items}
    for key, fmt in [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP"), ("labels", "PNG")]:
        im = Image.open(io.BytesIO(data[key]))
        assert im.format == fmt and im.size == (96, 64)
    assert len(colours(data["png"])) <= 5
    labels = np.asarray(Image.open(io.BytesIO(data["labels"])))
    assert labels.max() < seg.k and (labels == seg.labels).all()
    assert data["gpl"].startswith(b"GIMP Palette")
    json.loads(data["json"])


def test_downloads_follow_an_edited_palette(small_png: bytes) -> None:
    seg = kmseg.segment(small_png, 3, seed=2)
    new = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)[: seg.k]
    data = by_key(seg.recolor(new))
    assert colours(data["png"]) == set(map(tuple, new.tolist()))
    assert "#ff0000" in data["json"].decode().lower()
    assert "255" in data["gpl"].decode()
    # Same labels: only the colours changed.
    assert (np.asarray(Image.open(io.BytesIO(data["labels"]))) == seg.labels).all()


def test_transparency_survives_to_the_png(rgba_png: bytes) -> None:
    seg = kmseg.segment(rgba_png, 4, seed=0)
    im = Image.open(io.BytesIO(by_key(seg)["png"]))
    assert im.mode == "RGBA"
    alpha = np.asarray(im)[..., 3]
    assert (alpha[:, 40:] == 0).all() and (alpha[:, :40] == 255).all()
    loaded = kmseg.load_image(rgba_png)
    assert image_array(loaded).shape == (60, 80, 4)


def test_the_label_map_download_round_trips(small_png: bytes) -> None:
    seg = kmseg.segment(small_png, 6, seed=3)
    assert (np.asarray(Image.open(io.BytesIO(by_key(seg)["labels"]))) == seg.labels).all()


def test_inertia_curve_decreases_and_scales(china: np.ndarray) -> None:
    loaded = kmseg.load_image(china)
    rows = inertia_curve(loaded, range(1, 7), max_iter=50, color_space="rgb", seed=0,
                         sample_pixels=20_000)  # fmt: skip
    assert [r["K"] for r in rows] == [1, 2, 3, 4, 5, 6]
    inertia = [r["inertia"] for r in rows]
    assert all(a >= b for a, b in zip(inertia, inertia[1:], strict=False))
    # K=1 inertia is the total squared deviation from the mean colour: check the
    # sample-based estimate against the exact full-image value.
    px = china.reshape(-1, 3).astype(np.float64)
    exact = ((px - px.mean(axis=0)) ** 2).sum()
    assert inertia[0] == pytest.approx(exact, rel=0.05)


def test_example_image_is_small_and_decodes() -> None:
    data = example_bytes()
    assert EXAMPLE_NAME.endswith(".jpg") and len(data) < 300_000
    loaded = kmseg.load_image(data)
    assert (loaded.width, loaded.height) == (768, 512)
    # A landscape, not a flat picture: plenty of distinct colours.
    assert len(np.unique(loaded.rgb.reshape(-1, 3), axis=0)) > 5000


def test_curve_sample_respects_the_budget(china: np.ndarray) -> None:
    loaded = kmseg.load_image(china)
    sample, ratio = curve_sample(loaded, 10_000)
    assert sample.shape[0] * sample.shape[1] <= 10_000 and sample.shape[2] == 3
    assert ratio == pytest.approx(china.shape[0] * china.shape[1] / (sample.shape[0] * sample.shape[1]))
    same, one = curve_sample(loaded, 10**9)
    assert same.shape == china.shape and one == 1.0


def test_palette_source_reads_palette_files_and_passes_images_on(small_png: bytes) -> None:
    from kmseg.app._compute import palette_source

    colours_in = np.array([[1, 2, 3], [200, 150, 100], [9, 99, 199]], np.uint8)
    gpl = kmseg.palette_bytes(colours_in, np.array([5, 3, 1]), "gpl")
    np.testing.assert_array_equal(palette_source("mine.GPL", gpl), colours_in)
    assert palette_source("photo.png", small_png) is small_png
    with pytest.raises(kmseg.InvalidParameterError):
        palette_source("bad.json", b"[1, 2")


def test_png_bytes_and_dithered_preview(small_png: bytes) -> None:
    from kmseg.app._compute import png_bytes, rgb_preview

    seg = kmseg.segment(small_png, 3, seed=0, dither=True)
    view = rgb_preview(seg)
    assert view.shape == (seg.height, seg.width, 3)
    assert not np.array_equal(view, seg.palette[seg.labels])  # dithered, not a plain lookup
    assert {tuple(c) for c in view.reshape(-1, 3).tolist()} <= {tuple(c) for c in seg.palette.tolist()}
    back = np.asarray(Image.open(io.BytesIO(png_bytes(view))))
    np.testing.assert_array_equal(back, view)


def test_the_svg_download_renders_as_the_label_map(small_png: bytes) -> None:
    from svgtools import fidelity

    seg = kmseg.segment(small_png, 5, seed=1, min_region=20)
    (item,) = [d for d in downloads(seg, "photo.jpg") if d.key == "svg"]
    assert item.mime == "image/svg+xml" and item.file_name == "photo-k5.svg"
    right, through = fidelity(item.make().decode(), seg.labels, seg.palette)
    assert through == 0 and right > 0.95  # the default tolerance simplifies edges, never leaves a gap
    recoloured = seg.recolor(np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9], [250, 250, 250]]
                                      [: seg.k], np.uint8))
    assert "#ff0000" in by_key(recoloured)["svg"].decode()


def test_the_paint_by_number_downloads(small_png: bytes) -> None:
    import re

    seg = kmseg.segment(small_png, 4, seed=1, min_region=40)
    data = by_key(seg)
    with Image.open(io.BytesIO(data["paint-png"])) as im:
        assert im.format == "PNG" and round(im.info["dpi"][0]) == 300
    svg = data["paint-svg"].decode()
    texts = re.findall(r'<text x="([0-9.]+)" y="([0-9.]+)" font-size="[0-9.e+-]+">([0-9]+)</text>', svg)
    assert texts
    for x, y, number in texts:
        assert seg.labels[int(float(y)), int(float(x))] == int(number) - 1
    for i, colour in enumerate(seg.palette):
        assert (f'id="chip-{i + 1}"' in svg) == bool(seg.counts[i])
        assert not seg.counts[i] or "#%02x%02x%02x" % tuple(int(v) for v in colour) in svg
