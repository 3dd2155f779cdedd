"""The Streamlit page driven through Streamlit's own AppTest API."""

from __future__ import annotations

import re

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import kmseg
from kmseg.app import SCRIPT
from kmseg.app._state import ENV_MAX_PIXELS, ENV_MAX_UPLOAD_MB


@pytest.fixture(autouse=True)
def _no_limit_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MAX_PIXELS, raising=False)
    monkeypatch.delenv(ENV_MAX_UPLOAD_MB, raising=False)


def started() -> AppTest:
    at = AppTest.from_file(str(SCRIPT), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    at.file_uploader(key="upload").upload(name, data, mime)
    at.run()
    assert not at.exception, at.exception
    return at


def result_caption(at: AppTest) -> str:
    return at.image[1].captions[0]


def metric(at: AppTest, label: str) -> tuple[str, str]:
    found = [m for m in at.metric if m.label == label]
    assert found, f"no metric {label!r}"
    return found[0].value, found[0].delta


def chips(at: AppTest) -> str:
    return next(h.value for h in at.html if "kmseg-chips" in h.value)


def test_example_is_shown_before_any_upload() -> None:
    at = started()
    assert "built-in example" in at.info[0].value
    assert len(at.image) == 2
    assert result_caption(at).startswith("Segmented example.jpg · K = 8 · RGB")
    assert metric(at, "Clusters")[0] == "8"
    labels = [d.label for d in at.download_button]
    for want in ["Segmented image (PNG)", "JPEG", "WebP", "Label map (PNG)", "Palette (JSON)",
                 "Palette (GIMP .gpl)", "Drawing (SVG)", "Paint by number (PNG)",
                 "Paint by number (SVG)"]:  # fmt: skip
        assert want in labels
    limits = " ".join(c.value for c in at.sidebar.caption)
    assert "25 MB" in limits and "50 MP" in limits
    assert len(re.findall(r'class="kmseg-chip"', chips(at))) == 8
    assert [s.label for s in at.sidebar.slider] == ["Clusters (K)", "Max iterations"]
    assert at.sidebar.slider(key="k_slider").value == 8
    assert at.sidebar.slider(key="iter_slider").value == 300


def test_upload_is_segmented_with_the_chosen_parameters(small_png: bytes) -> None:
    at = upload(started(), "tiny.png", small_png)
    assert not at.info  # the example notice is gone
    assert at.image[0].captions[0] == "Original tiny.png · 96×64"
    assert result_caption(at).startswith("Segmented tiny.png · K = 8")
    iterations = int(metric(at, "Iterations")[0])
    assert 1 <= iterations <= 300

    at.sidebar.slider(key="k_slider").set_value(3).run()
    assert at.sidebar.number_input(key="k").value == 3
    assert "K = 3" in result_caption(at)
    assert len(re.findall(r'class="kmseg-chip"', chips(at))) == 3

    at.sidebar.number_input(key="k").set_value(60).run()
    assert at.sidebar.slider(key="k_slider").value == 24  # clamped to the slider's range
    found = int(metric(at, "Clusters")[0])
    assert 1 < found <= 60 and f"K = {found}" in result_caption(at)

    at.sidebar.slider(key="iter_slider").set_value(1).run()
    assert at.sidebar.number_input(key="max_iter").value == 1
    assert metric(at, "Iterations")[0] == "1"

    at.sidebar.radio(key="color_space").set_value("lab").run()
    assert "CIELAB" in result_caption(at)
    at.sidebar.radio(key="color_space").set_value("oklab").run()
    assert not at.exception and "OKLab" in result_caption(at)


def test_same_inputs_come_from_the_cache(small_png: bytes) -> None:
    at = upload(started(), "tiny.png", small_png)
    seed = 4_242_424  # used by no other test, so the first run is not cached
    at.sidebar.number_input(key="seed").set_value(seed).run()
    assert metric(at, "Time")[1] == ""
    at.run()
    assert metric(at, "Time")[1] == "from cache"
    at.sidebar.number_input(key="seed").set_value(seed + 1).run()
    assert metric(at, "Time")[1] == ""
    at.sidebar.number_input(key="seed").set_value(seed).run()
    assert metric(at, "Time")[1] == "from cache"
    st.cache_data.clear()
    at.run()
    assert metric(at, "Time")[1] == ""


def test_highlight_and_recolour(small_png: bytes) -> None:
    at = upload(started(), "tiny.png", small_png)
    at.sidebar.slider(key="k_slider").set_value(4).run()
    pills = at.pills[0]
    first = pills.options[0]
    pills.set_value(int(re.match(r"#(\d+)", first).group(1)) - 1).run()
    assert "highlighted" in result_caption(at)
    assert chips(at).count("3px solid") == 1

    picker = at.color_picker[0]
    picker.pick("#00FF00").run()  # pickers may answer in capitals
    assert "recoloured" in result_caption(at)
    assert "#00ff00" in chips(at)
    assert any("with your colours" in c.value for c in at.caption)
    reset = next(b for b in at.button if b.label == "Reset colours")
    assert not reset.disabled
    reset.click().run()
    assert "recoloured" not in result_caption(at)
    assert "#00ff00" not in chips(at)


def test_full_size_comparison(small_png: bytes) -> None:
    at = upload(started(), "tiny.png", small_png)
    at.toggle(key="fullsize").set_value(True).run()
    box = [h.value for h in at.html if "kmseg-fullsize" in h.value]
    assert len(box) == 1 and 'width="96"' in box[0]


def test_elbow_button_sets_k(small_png: bytes) -> None:
    at = upload(started(), "tiny.png", small_png)
    buttons = [b for b in at.sidebar.button if b.label.startswith("Use K = ")]
    if not buttons:  # the elbow happens to be at the current K
        at.sidebar.number_input(key="k").set_value(16).run()
        buttons = [b for b in at.sidebar.button if b.label.startswith("Use K = ")]
    best = int(buttons[0].label.removeprefix("Use K = "))
    buttons[0].click().run()
    assert at.sidebar.number_input(key="k").value == best
    assert f"K = {best}" in result_caption(at)


@pytest.mark.parametrize(
    ("name", "make"),
    [("notes.png", lambda png: b"These are my notes, not a picture.\n" * 20),
     ("cut.png", lambda png: png[: len(png) // 3]),
     ("empty.jpg", lambda png: b""),
     ("notes.txt", lambda png: b"plain text"),
     ("drawing.svg", lambda png: b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>')],
)  # fmt: skip
def test_bad_files_get_a_message_not_a_traceback(small_png: bytes, name: str, make) -> None:
    at = upload(started(), name, make(small_png))
    assert len(at.error) == 1
    assert name in at.error[0].value
    assert not at.image and not at.download_button


def test_too_many_pixels(monkeypatch: pytest.MonkeyPatch, small_png: bytes) -> None:
    monkeypatch.setenv(ENV_MAX_PIXELS, "1000")
    at = _quiet_start()
    assert "example.jpg" in at.error[0].value  # even the example is over this limit
    at = upload(at, "tiny.png", small_png)
    assert len(at.error) == 1 and "tiny.png" in at.error[0].value
    assert "1,000 pixels" in " ".join(c.value for c in at.sidebar.caption)


def _quiet_start() -> AppTest:
    """Start without insisting on a result (the example may exceed tiny limits)."""
    at = AppTest.from_file(str(SCRIPT), default_timeout=60)
    at.run()
    assert not at.exception
    return at


def test_file_too_large(monkeypatch: pytest.MonkeyPatch, small_png: bytes) -> None:
    monkeypatch.setenv(ENV_MAX_UPLOAD_MB, "0.001")
    at = upload(_quiet_start(), "tiny.png", small_png)
    assert len(at.error) == 1
    assert "tiny.png" in at.error[0].value and "accepts files up to 1.02 KB" in at.error[0].value


def test_unusable_limit_settings_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_MAX_PIXELS, "lots")
    at = started()
    assert any(ENV_MAX_PIXELS in w.value for w in at.sidebar.warning)
    assert f"{kmseg.DEFAULT_LIMITS.max_pixels:,}" in " ".join(c.value for c in at.sidebar.caption)


def test_transparent_upload_is_accepted(rgba_png: bytes) -> None:
    at = upload(started(), "clear.png", rgba_png)
    assert not at.error
    assert result_caption(at).startswith("Segmented clear.png")


@pytest.mark.parametrize(("fmt", "ext"), [("JPEG", "jpg"), ("WEBP", "webp"), ("GIF", "gif"),
                                          ("BMP", "bmp"), ("TIFF", "tif")])  # fmt: skip
def test_every_advertised_format_is_accepted(small_png: bytes, fmt: str, ext: str) -> None:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.open(io.BytesIO(small_png)).save(buf, format=fmt)
    at = upload(started(), f"picture.{ext}", buf.getvalue(), "application/octet-stream")
    assert not at.error
    assert result_caption(at).startswith(f"Segmented picture.{ext} · K = ")
    assert at.image[0].captions[0] == f"Original picture.{ext} · 96×64"
