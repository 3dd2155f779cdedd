"""The HTTP API on animated uploads: segmented as a whole unless first_frame."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_client
from PIL import Image

import kmseg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_animation import COLOURS, DURATIONS, decoded, encode, flicker, noisy_frames, static_pixels, truth  # noqa: E402

ANIM = ("anim.webp", encode(noisy_frames(truth()), "WEBP", DURATIONS, loop=2), "image/webp")


def _error(r, status: int, *words: str) -> dict:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    for word in words:
        assert word in error["message"], (word, error["message"])
    assert "Traceback" not in r.text
    return error


@pytest.mark.parametrize(("fmt", "media"), [("gif", "image/gif"), ("png", "image/png"), ("webp", "image/webp")])
def test_segment_answers_an_animation_with_one_palette(client, fmt: str, media: str) -> None:
    r = client.post("/api/segment", files={"image": ANIM}, data={"k": "6", "seed": "0", "format": fmt})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == media and r.headers["x-kmseg-k"] == "6"
    rgb, durations, loop, _ = decoded(r.content)
    assert rgb.shape[0] == 6 and durations == DURATIONS and loop == 2
    assert flicker(rgb, static_pixels(truth())) == 0
    assert len({tuple(c) for c in rgb[..., :3].reshape(-1, 3).tolist()}) == 6


def test_first_frame_answers_the_first_frame_as_segment_does(client) -> None:
    r = client.post("/api/segment", files={"image": ANIM},
                    data={"k": "6", "seed": "4", "format": "png", "first_frame": "true"})
    assert r.status_code == 200, r.text
    with Image.open(io.BytesIO(r.content)) as im:
        assert getattr(im, "n_frames", 1) == 1
        got = np.asarray(im.convert("RGB"))
    first = kmseg.segment(noisy_frames(truth())[0], 6, seed=4)
    assert np.array_equal(got, first.palette[first.labels])


def test_labels_and_palette_cover_every_frame(client) -> None:
    r = client.post("/api/labels", files={"image": ANIM}, data={"k": "6", "seed": "0"})
    assert r.status_code == 200, r.text
    with Image.open(io.BytesIO(r.content)) as im:
        assert im.n_frames == 6 and im.mode == "L"
    r = client.post("/api/palette", files={"image": ANIM}, data={"k": "6", "seed": "0", "metrics": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert sum(c["count"] for c in body["palette"]) == truth().size  # the pixels of all six frames
    assert body["k"] == 6 and any("6 frames read" in n for n in body["notes"])


def test_a_jpeg_answer_takes_the_first_frame(client) -> None:
    r = client.post("/api/segment", files={"image": ANIM}, data={"k": "6", "seed": "0", "format": "jpeg"})
    assert r.status_code == 200, r.text
    assert r.headers["x-kmseg-width"] == "36" and r.content[:2] == b"\xff\xd8"


def test_the_frame_limit_is_a_413_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KMSEG_MAX_FRAMES", "5")
    with make_client() as c:
        r = c.post("/api/segment", files={"image": ANIM}, data={"k": "6", "format": "gif"})
        error = _error(r, 413, "6 frames, more than the limit of 5", "first_frame")
        assert error["field"] == "image"
        ok = c.post("/api/segment", files={"image": ANIM}, data={"k": "6", "format": "gif", "first_frame": "true"})
        assert ok.status_code == 200, ok.text


def test_all_frames_count_against_the_pixel_limit() -> None:
    with make_client(max_pixels=36 * 24 * 6 - 1) as c:
        r = c.post("/api/segment", files={"image": ANIM}, data={"k": "6"})
        _error(r, 413, "pixels in all")


def test_a_per_frame_option_on_a_whole_animation_is_a_422(client) -> None:
    r = client.post("/api/segment", files={"image": ANIM}, data={"k": "6", "format": "gif", "min_region": "4"})
    error = _error(r, 422, "min_region is not available", "first_frame")
    assert error["field"] == "min_region"


def test_first_frame_is_in_the_schema(client) -> None:
    schema = json.dumps(client.get("/openapi.json").json())
    assert "first_frame" in schema
