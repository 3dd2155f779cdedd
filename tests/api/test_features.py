"""The library's extra features through the HTTP API: auto K, spatial weight,
min_region, dither, palette transfer and the /api/boundaries overlay."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from apitools import encode


def _png(array: np.ndarray) -> tuple[str, bytes, str]:
    return ("image.png", encode(array, "PNG"), "image/png")


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _labels(data: bytes) -> np.ndarray:
    im = Image.open(io.BytesIO(data))
    assert im.mode == "L"
    return np.asarray(im)


def _error(r, field: str, *words: str) -> None:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == field, error
    for word in words:
        assert word in error["message"], (word, error["message"])
    assert "Traceback" not in r.text


COLOURS3 = np.array([[200, 30, 40], [30, 160, 60], [40, 60, 210]], dtype=np.uint8)


def _three_colours(seed: int = 0) -> np.ndarray:
    """48x48 made of exactly 3 colours in random places, plus noise of a few levels."""
    rng = np.random.default_rng(seed)
    pixels = COLOURS3[rng.integers(0, 3, (48, 48))].astype(np.int16)
    pixels += rng.integers(-4, 5, pixels.shape, dtype=np.int16)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _two_squares() -> np.ndarray:
    """White 64x32 with two red 12x12 squares at the far left and far right."""
    image = np.full((32, 64, 3), 255, dtype=np.uint8)
    image[10:22, 2:14] = (220, 20, 20)
    image[10:22, 50:62] = (220, 20, 20)
    return image


def _speckled() -> np.ndarray:
    """Left half black, right half white, with 1-pixel specks of the other colour."""
    rng = np.random.default_rng(3)
    base = np.zeros((40, 40), dtype=bool)
    base[:, 20:] = True
    flip = rng.random((40, 40)) < 0.05
    white = base ^ flip
    return np.where(white[..., None], 255, 0).astype(np.uint8).repeat(3, axis=2)


def test_auto_k_finds_the_three_colours(client):
    image = _png(_three_colours())
    r = client.post("/api/palette", files={"image": image}, data={"k": "auto", "seed": "0"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["k"] == 3 and body["k_chosen"] == 3 and body["k_auto"] is True
    ks = [point["k"] for point in body["k_curve"]]
    assert 3 in ks and len(ks) >= 3
    found = np.array([c["rgb"] for c in body["palette"]])
    # every true colour has a centre within a few levels of it
    assert np.abs(found[None, :, :] - COLOURS3[:, None, :].astype(int)).max(axis=2).min(axis=1).max() <= 4

    r = client.post("/api/segment", files={"image": image}, data={"k": "auto", "seed": "0"})
    assert r.status_code == 200, r.text
    assert r.headers["X-Kmseg-K"] == "3" and r.headers["X-Kmseg-K-Auto"] == "true"
    assert "3" in r.headers["X-Kmseg-K-Curve"].split(",")

    plain = client.post("/api/palette", files={"image": image}, data={"k": "5", "seed": "0"}).json()
    assert plain["k_auto"] is False and plain["k_chosen"] is None and plain["k_curve"] is None


def test_auto_k_with_a_target_psnr_reaches_it(client):
    image = _png(_three_colours())
    form = {"k": "auto", "target_psnr": "20", "seed": "0", "metrics": "true"}
    body = client.post("/api/palette", files={"image": image}, data=form).json()
    assert body["k_auto"] is True and body["psnr"] >= 20
    smaller = [p for p in body["k_curve"] if p["k"] < body["k"]]
    assert all(p["psnr"] is not None and p["psnr"] < 20 for p in smaller)


def test_spatial_weight_splits_far_apart_squares(client):
    image = _png(_two_squares())
    left, right = (16, 8), (16, 56)
    colour_only = _labels(client.post("/api/labels", files={"image": image}, data={"k": "3", "seed": "0"}).content)
    assert colour_only[left] == colour_only[right]
    form = {"k": "3", "seed": "0", "spatial_weight": "2", "fit_size": "64"}
    r = client.post("/api/labels", files={"image": image}, data=form)
    assert r.status_code == 200, r.text
    spatial = _labels(r.content)
    assert spatial[left] != spatial[right]


def test_min_region_reduces_regions(client):
    image = _png(_speckled())
    counted = client.post("/api/palette", files={"image": image}, data={"k": "2", "seed": "0", "min_region": "1"})
    cleaned = client.post("/api/palette", files={"image": image}, data={"k": "2", "seed": "0", "min_region": "20"})
    assert counted.status_code == cleaned.status_code == 200
    a, b = counted.json(), cleaned.json()
    assert a["regions"] > 10 and b["regions_before"] == a["regions"]
    assert b["regions"] == 2
    assert client.post("/api/palette", files={"image": image}, data={"k": "2"}).json()["regions"] is None
    r = client.post("/api/labels", files={"image": image}, data={"k": "2", "seed": "0", "min_region": "20"})
    assert int(r.headers["X-Kmseg-Regions"]) == 2 and int(r.headers["X-Kmseg-Regions-Before"]) == a["regions"]
    labels = _labels(r.content)
    assert len(np.unique(labels[:, :16])) == 1 and len(np.unique(labels[:, 24:])) == 1  # specks gone


def test_dither_uses_only_palette_colours(client):
    ramp = np.linspace(0, 255, 64).astype(np.uint8)
    image = _png(np.stack([np.tile(ramp, (32, 1)), np.tile(ramp[::-1], (32, 1)), np.full((32, 64), 90, np.uint8)], 2))
    form = {"k": "4", "seed": "1", "dither": "true"}
    r = client.post("/api/segment", files={"image": image}, data=form)
    assert r.status_code == 200, r.text
    palette = {tuple(int(h[i : i + 2], 16) for i in (1, 3, 5)) for h in r.headers["X-Kmseg-Palette"].split(",")}
    dithered = _decode(r.content)
    assert {tuple(p) for p in dithered.reshape(-1, 3).tolist()} <= palette
    plain = _decode(client.post("/api/segment", files={"image": image}, data={"k": "4", "seed": "1"}).content)
    assert not np.array_equal(plain, dithered)
    # the label map is not dithered
    labels = [
        _labels(client.post("/api/labels", files={"image": image}, data={"k": "4", "seed": "1", **extra}).content)
        for extra in ({}, {"dither": "true"})
    ]
    assert np.array_equal(*labels)


def _nearest(pixels: np.ndarray, colours: np.ndarray) -> np.ndarray:
    d = ((pixels.reshape(-1, 1, 3).astype(int) - colours[None].astype(int)) ** 2).sum(axis=2)
    return d.argmin(axis=1).reshape(pixels.shape[:2])


GIVEN = np.array([[10, 10, 10], [250, 250, 240], [200, 40, 40], [40, 90, 200]], dtype=np.uint8)


@pytest.mark.parametrize("kind", ["json", "json-hex", "gpl"])
def test_palette_file_maps_to_nearest_colours(client, kind):
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    if kind == "json":
        data = json.dumps({"colors": [{"rgb": c} for c in GIVEN.tolist()]}).encode()
    elif kind == "json-hex":
        data = json.dumps(["#%02x%02x%02x" % tuple(c) for c in GIVEN.tolist()]).encode()
    else:
        rows = "".join(f"{r:3d} {g:3d} {b:3d}\tc{i}\n" for i, (r, g, b) in enumerate(GIVEN.tolist()))
        data = f"GIMP Palette\nName: test\n#\n{rows}".encode()
    files = {"image": _png(pixels), "palette_file": ("colours.bin", data, "application/octet-stream")}
    r = client.post("/api/labels", files=files)  # no k
    assert r.status_code == 200, r.text
    assert np.array_equal(_labels(r.content), _nearest(pixels, GIVEN))
    body = client.post("/api/palette", files=files).json()
    assert [c["rgb"] for c in body["palette"]] == GIVEN.tolist()
    seg = _decode(client.post("/api/segment", files=files).content)
    assert np.array_equal(seg, GIVEN[_nearest(pixels, GIVEN)])


def test_palette_file_may_be_an_image(client):
    source = _png(_three_colours(seed=9))
    target = _png(_two_squares())
    files = {"image": target, "palette_file": source}
    body = client.post("/api/palette", files=files, data={"k": "3", "seed": "0"}).json()
    found = np.array([c["rgb"] for c in body["palette"]])
    assert found.shape == (3, 3)
    assert np.abs(found[None] - COLOURS3[:, None].astype(int)).max(axis=2).min(axis=1).max() <= 4


def test_boundaries_endpoint_returns_an_overlay_of_the_image_size(client):
    original = _two_squares()
    r = client.post("/api/boundaries", files={"image": _png(original)}, data={"k": "2", "seed": "0"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    im = Image.open(io.BytesIO(r.content))
    assert im.size == (64, 32)
    overlay = np.asarray(im.convert("RGB"))
    changed = np.any(overlay != original, axis=2)
    assert changed.any() and not changed[0:5].any()  # edges drawn at the squares only
    assert (overlay[changed] == (255, 0, 0)).all()
    assert changed[10:22, 2:14].any() and changed[10:22, 50:62].any()


@pytest.mark.parametrize(
    ("form", "field", "words"),
    [
        # The ranges are the option table's (kmseg.options), the same on every face.
        ({"k": "auto", "target_psnr": "0.5"}, "target_psnr", ("1", "100")),
        ({"k": "auto", "target_psnr": "101"}, "target_psnr", ("1", "100")),
        ({"k": "3", "spatial_weight": "-1"}, "spatial_weight", ("0", "100")),
        ({"k": "3", "spatial_weight": "100.5"}, "spatial_weight", ("0", "100")),
        ({"k": "3", "spatial_weight": "1", "fit_size": "15"}, "fit_size", ("16", "4096")),
        ({"k": "3", "fit_size": "4097"}, "fit_size", ("16", "4096")),
        ({"k": "3", "min_region": "-1"}, "min_region", ("50,000,000",)),
        ({"k": "3", "min_region": "50000001"}, "min_region", ("50,000,000",)),
        ({"k": "3", "dither": "maybe"}, "dither", ("true or false",)),
        ({"k": "automatic"}, "k", ("auto",)),
        ({"k": "3", "target_psnr": "30"}, "target_psnr", ("auto",)),
        ({"k": "auto", "spatial_weight": "1"}, "spatial_weight", ()),
        ({"k": "3", "min_region": ""}, "min_region", ("empty",)),
    ],
)
def test_bad_feature_values_give_422_naming_the_field(client, form, field, words):
    files = {"image": _png(_two_squares())}
    r = client.post("/api/palette", files=files, data=form)
    _error(r, field, *words)


@pytest.mark.parametrize(
    "data",
    [b"not a palette nor an image", b'{"colors": [[1, 2]]}', b"GIMP Palette\n300 0 0 red\n", b""],
)
def test_bad_palette_file_gives_422(client, data):
    files = {"image": _png(_two_squares()), "palette_file": ("p.json", data, "application/json")}
    r = client.post("/api/segment", files=files)
    _error(r, "palette_file")


def test_page_form_offers_min_region_and_dither(client):
    form = client.get("/").text
    assert 'name="min_region"' in form and 'name="dither"' in form
    image = _png(_speckled())
    r = client.post("/", files={"image": image}, data={"k": "2", "seed": "0", "min_region": "20", "dither": "true"})
    assert r.status_code == 200, r.text
    assert "Regions (before / after merging)" in r.text and "/ 2</td>" in r.text
    assert 'name="dither" value="true" checked' in r.text
    plain = client.post("/", files={"image": image}, data={"k": "2", "seed": "0"})
    assert "Regions (before" not in plain.text
    bad = client.post("/", files={"image": image}, data={"k": "2", "min_region": "-5"})
    assert bad.status_code == 422 and "min_region must be" in bad.text
