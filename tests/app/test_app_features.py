"""The "Advanced" sidebar controls of the Streamlit page, through AppTest."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from kmseg.app import SCRIPT
from kmseg.app import _compute
from kmseg.app._state import ENV_MAX_PIXELS, ENV_MAX_UPLOAD_MB


@pytest.fixture(autouse=True)
def _no_limit_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MAX_PIXELS, raising=False)
    monkeypatch.delenv(ENV_MAX_UPLOAD_MB, raising=False)


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def three_colours() -> bytes:
    """60x48: three vertical stripes of distinct colours plus small noise."""
    rng = np.random.default_rng(7)
    img = np.zeros((48, 60, 3), np.float64)
    for i, colour in enumerate([(200, 30, 40), (30, 160, 60), (40, 60, 210)]):
        img[:, i * 20:(i + 1) * 20] = colour
    img += rng.normal(0, 3, img.shape)
    return _png(np.clip(np.rint(img), 0, 255).astype(np.uint8))


def with_upload(name: str, data: bytes) -> AppTest:
    at = AppTest.from_file(str(SCRIPT), default_timeout=60)
    at.run()
    at.file_uploader(key="upload").upload(name, data, "image/png")
    at.run()
    assert not at.exception, at.exception
    return at


def run(widget) -> AppTest:  # noqa: ANN001
    at = widget.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str | None:
    found = [m.value for m in at.metric if m.label == label]
    return found[0] if found else None


def chips(at: AppTest) -> str:
    return next(h.value for h in at.html if "kmseg-chips" in h.value)


def test_automatic_k_finds_three_colours_and_a_target(three_colours: bytes) -> None:
    at = with_upload("stripes.png", three_colours)
    assert metric(at, "Clusters") == "8"  # K = 8 asked; the noise gives 8 clusters
    assert not at.main.get("vega_lite_chart")
    at = run(at.toggle(key="auto_k").set_value(True))
    assert metric(at, "Clusters") == "3"
    assert any("Automatic K chose K = 3" in m.value for m in at.markdown)
    assert "auto K" in at.image[1].captions[0]
    assert len(at.main.get("vega_lite_chart")) == 1  # the k_curve chart
    assert at.sidebar.slider(key="k_slider").disabled

    at = run(at.number_input(key="target_psnr").set_value(45.0))
    k_target = int(metric(at, "Clusters"))
    psnr = float(metric(at, "PSNR").removesuffix(" dB"))
    assert psnr >= 45.0 and k_target > 3
    assert any(f"chose K = {k_target}" in m.value and "45 dB" in m.value for m in at.markdown)

    # Below the option table's range (1-100 dB): the widget, bounded by the table, does not take
    # it; Streamlit puts it back inside the bounds, and the page says what it used.
    at = run(at.number_input(key="target_psnr").set_value(0.5))
    assert at.number_input(key="target_psnr").min == 1.0
    used = at.number_input(key="target_psnr").value
    assert used is None or used >= 1.0
    assert not at.error and any("Automatic K chose" in m.value for m in at.markdown)


def test_spatial_weight_fit_size_and_min_region(small_png: bytes) -> None:
    at = with_upload("tiny.png", small_png)
    at.sidebar.slider(key="k_slider").set_value(4).run()
    colour_only = metric(at, "Inertia")
    assert metric(at, "Regions") is None  # min_region 0: regions are not counted
    at = run(at.number_input(key="spatial_weight").set_value(3.0))
    spatial = metric(at, "Inertia")
    assert spatial != colour_only
    at = run(at.number_input(key="fit_size").set_value(16))
    assert metric(at, "Inertia") != spatial  # fitted on a 16-pixel-wide copy instead
    at = run(at.number_input(key="spatial_weight").set_value(0.0))
    assert metric(at, "Inertia") == colour_only

    at = run(at.number_input(key="min_region").set_value(1))
    counted = int(metric(at, "Regions").replace(",", ""))
    at = run(at.number_input(key="min_region").set_value(40))
    cleaned = int(metric(at, "Regions").replace(",", ""))
    assert 1 <= cleaned < counted
    assert any(f"{counted:,} before merging, {cleaned:,} after" in c.value for c in at.caption)

    at = run(at.toggle(key="boundaries").set_value(True))
    assert any(c.startswith("Segment boundaries on tiny.png") for im in at.image for c in im.captions)
    assert any(d.label == "Boundaries (PNG)" for d in at.download_button)

    at = run(at.toggle(key="auto_k").set_value(True))  # not allowed together with spatial
    at = run(at.number_input(key="spatial_weight").set_value(1.0))
    assert len(at.error) == 1 and "Spatial weight" in at.error[0].value


def test_settings_that_do_not_go_together_are_named_in_the_pages_words(small_png: bytes) -> None:
    """Issue 15, item 6: the widgets' names, not the library's, and not the image's fault."""
    at = with_upload("tiny.png", small_png)
    at = run(at.toggle(key="auto_k").set_value(True))
    at = run(at.number_input(key="spatial_weight").set_value(2.0))
    (error,) = at.error
    assert error.value.startswith("**Automatic K** cannot be combined with **Spatial weight**")
    assert "choose a number of clusters" in error.value
    assert "tiny.png" not in error.value and "spatial_weight" not in error.value
    assert "Which K?" not in [h.value for h in at.subheader]  # no empty panel either

    at = run(at.toggle(key="auto_k").set_value(False))
    at.sidebar.file_uploader(key="palette_upload").upload("mine.json", b"[[0, 0, 0], [255, 255, 255]]",
                                                          "application/json")
    at = run(at)
    (error,) = at.error
    assert error.value.startswith("**Palette transfer** cannot be combined with **Spatial weight**")


def test_the_page_says_what_the_spatial_weight_does(small_png: bytes) -> None:
    from kmseg import options

    at = with_upload("tiny.png", small_png)
    assert not [c for c in at.caption if "Spatial weight" in c.value]
    at = run(at.number_input(key="spatial_weight").set_value(2.5))
    (said,) = [c.value for c in at.caption if "Spatial weight" in c.value]
    assert said.startswith(":material/info: Spatial weight 2.5: the weight of pixel position beside colour")
    assert options.get("spatial_weight").help in said  # the option table's words
    assert "compact blobs" in said


def test_a_failed_upload_leaves_no_empty_which_k_heading(small_png: bytes) -> None:
    at = with_upload("tiny.png", small_png)
    assert "Which K?" in [h.value for h in at.subheader]
    at.file_uploader(key="upload").upload("notes.png", b"not a picture" * 20, "image/png")
    at = run(at)
    assert len(at.error) == 1 and "notes.png" in at.error[0].value
    assert "Which K?" not in [h.value for h in at.subheader]


def test_dither_changes_the_picture_not_the_labels(
    small_png: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[dict[str, bytes]] = []
    real = _compute.downloads

    def spy(seg, source):  # noqa: ANN001, ANN202
        items = real(seg, source)
        made.append({i.key: i.make() for i in items if i.key in ("png", "labels")})
        return items

    monkeypatch.setattr(_compute, "downloads", spy)
    at = with_upload("tiny.png", small_png)
    plain_view = at.image[1].value
    at = run(at.toggle(key="dither").set_value(True))
    assert "dithered" in at.image[1].captions[0]
    assert at.image[1].value != plain_view
    plain, dithered = made[-2], made[-1]
    # same labels; the files differ only in their record of the parameters (dither)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(dithered["labels"]))),
                                  np.asarray(Image.open(io.BytesIO(plain["labels"]))))
    assert dithered["png"] != plain["png"]
    plain_rgb = np.asarray(Image.open(io.BytesIO(plain["png"])).convert("RGB"))
    dithered_rgb = np.asarray(Image.open(io.BytesIO(dithered["png"])).convert("RGB"))
    palette = {tuple(c) for c in plain_rgb.reshape(-1, 3)}
    assert {tuple(c) for c in dithered_rgb.reshape(-1, 3)} <= palette  # only palette colours


def test_palette_transfer(small_png: bytes, three_colours: bytes) -> None:
    colours = [[12, 34, 56], [250, 240, 200], [180, 60, 40]]
    at = with_upload("tiny.png", small_png)
    at.sidebar.file_uploader(key="palette_upload").upload(
        "mine.json", json.dumps(colours).encode(), "application/json")
    at = run(at)
    assert metric(at, "Clusters") == "3"
    html = chips(at)
    for r, g, b in colours:
        assert f"#{r:02x}{g:02x}{b:02x}" in html
    assert "palette from mine.json" in at.image[1].captions[0]

    at.sidebar.file_uploader(key="palette_upload").upload("stripes.png", three_colours, "image/png")
    at = run(at.sidebar.slider(key="k_slider").set_value(3))
    assert metric(at, "Clusters") == "3"  # K colours taken from the image

    at.sidebar.file_uploader(key="palette_upload").upload("broken.json", b"{not json", "application/json")
    at = run(at)
    assert len(at.error) == 1 and "broken.json" in at.error[0].value
