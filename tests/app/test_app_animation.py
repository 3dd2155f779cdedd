"""The web app on an animated upload: the first frame above, all frames with one palette below."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from kmseg.app import SCRIPT
from kmseg.app._compute import animation_downloads
from kmseg.app._state import ENV_MAX_PIXELS, ENV_MAX_UPLOAD_MB

import kmseg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_animation import COLOURS, DURATIONS, decoded, encode, truth  # noqa: E402

GIF = encode(COLOURS[truth()].astype(np.uint8), "GIF", DURATIONS, loop=0)


@pytest.fixture(autouse=True)
def _no_limit_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV_MAX_PIXELS, ENV_MAX_UPLOAD_MB, "KMSEG_MAX_FRAMES"):
        monkeypatch.delenv(name, raising=False)


def uploaded(data: bytes) -> AppTest:
    at = AppTest.from_file(str(SCRIPT), default_timeout=60)
    at.run()
    at.file_uploader(key="upload").upload("anim.gif", data, "image/gif")
    at.run()
    assert not at.exception, at.exception
    return at


def test_an_animated_upload_shows_the_whole_animation_and_its_downloads() -> None:
    at = uploaded(GIF)
    assert not at.error
    assert "Animation" in [h.value for h in at.subheader]
    captions = [c for image in at.image for c in image.captions]
    assert "All 6 frames of anim.gif · one palette of K = 6 for every frame" in captions
    labels = [b.label for b in at.get("download_button")]
    assert {"Animation (GIF)", "Animation (APNG)", "Animation (WebP)"} <= set(labels)


def test_a_still_upload_has_no_animation_section() -> None:
    buf = io.BytesIO()
    Image.fromarray(COLOURS[truth()[0]].astype(np.uint8)).save(buf, "GIF")
    at = uploaded(buf.getvalue())
    assert "Animation" not in [h.value for h in at.subheader]


def test_the_frame_limit_is_an_error_in_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KMSEG_MAX_FRAMES", "5")
    at = uploaded(GIF)
    assert any("more than the limit of 5" in e.value for e in at.error)
    assert at.image[1].captions[0].startswith("Segmented anim.gif")  # the first frame is still shown


def test_the_animation_downloads_keep_the_timing() -> None:
    anim = kmseg.segment_frames(GIF, 6, seed=0)
    items = {d.key: d for d in animation_downloads(anim, "anim.gif")}
    assert [d.file_name for d in items.values()] == ["anim-k6-animation.gif", "anim-k6-animation.png",
                                                      "anim-k6-animation.webp"]
    for item in items.values():
        rgb, durations, loop, _ = decoded(item.make())
        assert rgb.shape[0] == 6 and durations == DURATIONS and loop == 0
