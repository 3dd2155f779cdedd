"""Unit tests of the web app's pure helpers (no Streamlit session involved)."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

import kmseg
from kmseg.app import _views as views


def test_hex_round_trip() -> None:
    for rgb in [(0, 0, 0), (255, 255, 255), (18, 52, 86), (171, 205, 239)]:
        text = views.hex_color(np.array(rgb, np.uint8))
        assert re.fullmatch(r"#[0-9a-f]{6}", text)
        assert views.parse_hex(text) == rgb
    assert views.parse_hex("ABCDEF") == (0xAB, 0xCD, 0xEF)


@pytest.mark.parametrize("bad", ["", "#12345", "#1234567", "red", "#gg0000"])
def test_parse_hex_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        views.parse_hex(bad)


def test_contrast_text() -> None:
    assert views.contrast_text((255, 255, 0)) == "#000000"
    assert views.contrast_text((0, 0, 128)) == "#ffffff"


@pytest.mark.parametrize(
    ("size", "side", "expected"),
    [((100, 50), 200, (100, 50)), ((2000, 1000), 1000, (1000, 500)),
     ((1000, 3000), 300, (100, 300)), ((5000, 1), 100, (100, 1))],
)  # fmt: skip
def test_preview_size(size: tuple[int, int], side: int, expected: tuple[int, int]) -> None:
    assert views.preview_size(*size, side) == expected


def test_downscale_index_keeps_values() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 5, (700, 1300), dtype=np.uint8)
    small = views.downscale_index(labels, 400)
    assert small.shape == (215, 400)
    assert set(np.unique(small)) <= set(np.unique(labels))
    rgb = rng.integers(0, 256, (30, 20, 4), dtype=np.uint8)
    assert views.downscale_index(rgb, 100) is rgb  # small enough: untouched
    assert views.downscale_index(rgb, 10).shape == (10, 7, 4)


def test_paint_and_alpha() -> None:
    labels = np.array([[0, 1], [1, 2]], np.uint8)
    palette = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    out = views.paint(labels, palette)
    assert out.shape == (2, 2, 3) and out[1, 1].tolist() == [0, 0, 255]
    alpha = np.array([[0, 255], [128, 7]], np.uint8)
    out4 = views.paint(labels, palette, alpha)
    assert out4.shape == (2, 2, 4) and out4[..., 3].tolist() == alpha.tolist()


def test_highlight_dims_others_only() -> None:
    labels = np.array([[0, 1, 2]], np.uint8)
    palette = np.array([[250, 20, 20], [20, 250, 20], [240, 240, 240]], np.uint8)
    out = views.highlight(labels, palette, 1)
    assert out[0, 1].tolist() == [20, 250, 20]
    for j in (0, 2):
        px = out[0, j].astype(int)
        assert px.max() - px.min() == 0  # grey
        assert px.sum() < palette[j].astype(int).sum() / 2  # clearly darker
    with pytest.raises(IndexError):
        views.highlight(labels, palette, 3)


def test_highlight_of_a_dark_cluster_dims_toward_light() -> None:
    labels = np.array([[0, 1, 2]], np.uint8)
    palette = np.array([[10, 10, 40], [20, 250, 20], [0, 0, 0]], np.uint8)
    out = views.highlight(labels, palette, 0)
    assert out[0, 0].tolist() == [10, 10, 40]
    for j in (1, 2):
        px = out[0, j].astype(int)
        assert px.max() - px.min() == 0 and px[0] >= 160  # light grey backdrop


def test_wipe() -> None:
    a = np.zeros((4, 10, 3), np.uint8)
    b = np.full((4, 10, 3), 100, np.uint8)
    out = views.wipe(a, b, 0.5)
    assert (out[:, :4] == 100).all() and (out[:, 6:] == 0).all()
    assert (out[:, 4:6] == 255).all()  # the split line
    assert (views.wipe(a, b, 0.0) == a).all() and (views.wipe(a, b, 1.0) == b).all()
    with pytest.raises(ValueError):
        views.wipe(a, b[:, :5], 0.5)


def test_chips_html_lists_every_cluster_by_share() -> None:
    palette = np.array([[255, 0, 0], [0, 0, 0], [255, 255, 255]], np.uint8)
    shares = np.array([0.2, 0.5, 0.3])
    html = views.chips_html(palette, shares, [20, 50, 30], selected=2)
    found = re.findall(r'data-cluster="(\d)"', html)
    assert found == ["1", "2", "0"]
    for hexcode, pct in [("#ff0000", "20.0%"), ("#000000", "50.0%"), ("#ffffff", "30.0%")]:
        assert hexcode in html and pct in html
    assert html.count("3px solid") == 1


def test_display_order_is_stable() -> None:
    assert views.display_order([0.1, 0.4, 0.1, 0.4]) == [1, 3, 0, 2]


def test_suggest_k_finds_the_elbow() -> None:
    ks = list(range(1, 11))
    inertia = [1000, 400, 100, 90, 80, 72, 65, 60, 56, 53]
    assert views.suggest_k(ks, inertia) == 3
    assert views.suggest_k([1, 2], [5, 1]) is None
    assert views.suggest_k([1, 2, 3], [5, 5, 5]) is None
    with pytest.raises(ValueError):
        views.suggest_k([1, 2, 3], [1, 2])


def test_format_inertia() -> None:
    assert views.format_inertia(1234.4) == "1234"
    assert views.format_inertia(12_345_678) == "1.23e7"
    assert views.format_inertia(9.999e11) == "1.00e12"
    assert views.format_inertia(float("inf")) == "inf"


def test_full_size_html_embeds_the_exact_pixels() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (9, 13, 4), dtype=np.uint8)
    html = views.full_size_html(img, zoom=2)
    assert 'width="26"' in html and 'height="18"' in html
    b64 = re.search(r"base64,([A-Za-z0-9+/=]+)", html).group(1)
    back = np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))))
    assert (back == img).all()


@pytest.mark.parametrize("with_alpha", [False, True])
def test_preview_png_is_exact(with_alpha: bool) -> None:
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, (31, 47), dtype=np.uint8)
    palette = rng.integers(0, 256, (4, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (31, 47), dtype=np.uint8) if with_alpha else None
    im = Image.open(io.BytesIO(views.preview_png(labels, palette, alpha)))
    assert im.format == "PNG" and im.size == (47, 31)
    assert im.mode == ("RGBA" if with_alpha else "P")
    got = np.asarray(im.convert("RGBA"))
    assert (got[..., :3] == palette[labels]).all()
    if with_alpha:
        assert (got[..., 3] == alpha).all()


def test_highlight_palette_matches_highlight() -> None:
    labels = np.array([[0, 1, 2, 1]], np.uint8)
    palette = np.array([[9, 200, 30], [100, 100, 100], [250, 250, 0]], np.uint8)
    table = views.highlight_palette(palette, 2)
    assert (views.highlight(labels, palette, 2) == table[labels]).all()
    assert table[2].tolist() == [250, 250, 0]


@pytest.mark.parametrize(("w", "h", "budget"), [(1732, 1155, 30_000), (100, 7000, 5000), (50, 40, 10**6)])
def test_side_for_pixels(w: int, h: int, budget: int) -> None:
    side = views.side_for_pixels(w, h, budget)
    pw, ph = views.preview_size(w, h, side)
    assert pw * ph <= budget * 1.02
    if w * h <= budget:
        assert (pw, ph) == (w, h)
    else:
        assert pw * ph >= budget * 0.9


@pytest.mark.parametrize("name", ["flower.jpg", "china.jpg"])
def test_the_charts_elbow_is_the_automatic_k(name: str) -> None:
    # The sidebar's hint and k="auto" used to disagree (K = 2 and 4 on flower).
    from imagetools import sample_image

    img = sample_image(name)
    ks = list(range(1, 17))
    curve = [kmseg.segment(img[::2, ::2], k, seed=0, max_iter=30).inertia for k in ks]
    assert views.suggest_k(ks, curve) == kmseg.segment(img, "auto", seed=0).k


def test_boundary_overlay_draws_solid_lines_with_a_dark_rim() -> None:
    from kmseg.app._views import boundary_overlay

    yellow = (255, 221, 0)
    labels = np.zeros((600, 1000), np.uint8)
    labels[:, 500:] = 1  # one vertical edge between columns 499 and 500
    grey = np.full((600, 1000, 3), 128, np.uint8)
    out = boundary_overlay(grey, labels)
    row = out[300]
    line = np.flatnonzero((row == yellow).all(axis=1))
    rim = np.flatnonzero((row == 0).all(axis=1))
    assert line.tolist() == [500] and rim.tolist() == [499, 501]  # 3 px: black, yellow, black
    assert (out[:, 500] == yellow).all() and (out[:, [499, 501]] == 0).all()  # the whole height: no dots
    untouched = np.ones(1000, bool)
    untouched[499:502] = False
    assert (out[:, untouched] == 128).all()
    assert (grey == 128).all()  # the input is not changed

    big_labels = np.zeros((1500, 2500), np.uint8)
    big_labels[:, 1000:] = 1
    big = boundary_overlay(np.full((1500, 2500, 3), 128, np.uint8), big_labels)  # 2500 px: wider
    assert np.flatnonzero((big[700] == yellow).all(axis=1)).tolist() == [999, 1000, 1001]
    assert np.flatnonzero((big[700] == 0).all(axis=1)).tolist() == [998, 1002]
    wide = boundary_overlay(grey, labels, width=6)
    assert (wide[300] == yellow).all(axis=1).sum() == 6
    rgba = boundary_overlay(np.zeros((600, 1000, 4), np.uint8), labels)
    assert rgba[300, 500, 3] == 255 and rgba[300, 499, 3] == 255 and rgba[300, 0, 3] == 0
    with pytest.raises(ValueError, match="differ in size"):
        boundary_overlay(grey, labels[:10])


def test_app_icon_is_made_here() -> None:
    from kmseg.app._views import app_icon

    icon = app_icon()
    assert icon.size == (64, 64) and len(icon.getcolors()) == 4
