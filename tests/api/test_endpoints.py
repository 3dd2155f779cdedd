"""The HTTP service through FastAPI's TestClient: every endpoint and every error."""

from __future__ import annotations

import functools
import io
import json
import tempfile
import threading

import numpy as np
import pytest
from apitools import call_asgi, encode, multipart, photo, photo_bytes, png_header_only
from conftest import make_client
from PIL import Image

import kmseg
from kmseg.api import ServiceSettings, create_app

CHINA = ("china.jpg", photo_bytes(), "image/jpeg")


def _open(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


# --- the three API endpoints ----------------------------------------------------


def test_segment_returns_png_with_k_colours_and_figure_headers(client):
    r = client.post("/api/segment", files={"image": CHINA}, data={"k": "6", "seed": "3"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    im = _open(r.content)
    assert im.format == "PNG" and im.size == (640, 427)
    colours = {tuple(c) for c in np.asarray(im.convert("RGB")).reshape(-1, 3).tolist()}
    k = int(r.headers["x-kmseg-k"])
    assert 1 <= k <= 6 and len(colours) == k
    palette = r.headers["x-kmseg-palette"].split(",")
    assert {tuple(int(h[i : i + 2], 16) for i in (1, 3, 5)) for h in palette} == colours
    counts = [int(c) for c in r.headers["x-kmseg-counts"].split(",")]
    assert sum(counts) == 640 * 427
    assert r.headers["x-kmseg-seed"] == "3"
    assert r.headers["x-kmseg-converged"] in ("true", "false")
    assert int(r.headers["x-kmseg-iterations"]) >= 1
    assert (r.headers["x-kmseg-width"], r.headers["x-kmseg-height"]) == ("640", "427")
    assert "x-kmseg-psnr" not in r.headers  # only with metrics=true


@pytest.mark.parametrize(
    ("fmt", "pil_format", "media"), [("jpeg", "JPEG", "image/jpeg"), ("webp", "WEBP", "image/webp")]
)
def test_segment_other_formats(client, fmt, pil_format, media):
    r = client.post("/api/segment", files={"image": CHINA}, data={"k": "4", "seed": "1", "format": fmt})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == media
    assert _open(r.content).format == pil_format


def test_segment_same_seed_same_bytes_and_metrics_headers(client):
    form = {"k": "5", "seed": "42", "metrics": "true"}
    a = client.post("/api/segment", files={"image": CHINA}, data=form)
    b = client.post("/api/segment", files={"image": CHINA}, data=form)
    assert a.status_code == b.status_code == 200
    assert a.content == b.content
    assert float(a.headers["x-kmseg-psnr"]) > 10
    assert float(a.headers["x-kmseg-delta-e-mean"]) >= 0


def test_palette_json_agrees_with_the_library(client):
    r = client.post(
        "/api/palette", files={"image": CHINA}, data={"k": "5", "seed": "7", "color_space": "lab"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    direct = kmseg.segment(photo_bytes(), 5, seed=7, color_space="lab")
    assert body["k"] == direct.k and body["k_requested"] == 5
    assert [c["rgb"] for c in body["palette"]] == direct.palette.tolist()
    assert [c["count"] for c in body["palette"]] == direct.counts.tolist()
    assert sum(c["count"] for c in body["palette"]) == 640 * 427
    assert sum(c["share"] for c in body["palette"]) == pytest.approx(1.0)
    for c in body["palette"]:
        assert c["hex"] == "#%02x%02x%02x" % tuple(c["rgb"])
    assert (body["width"], body["height"]) == (640, 427)
    assert body["color_space"] == "lab" and body["seed"] == 7
    assert body["iterations"] == direct.n_iter and body["converged"] == direct.converged
    assert body["inertia"] == pytest.approx(direct.inertia)
    assert body["seconds"] >= 0 and body["server_seconds"] >= 0
    assert body["metrics"] is False and body["psnr"] is None


def test_palette_with_metrics(client):
    r = client.post("/api/palette", files={"image": CHINA}, data={"k": "3", "seed": "1", "metrics": "true"})
    body = r.json()
    assert body["metrics"] is True
    assert body["psnr"] > 10 and body["delta_e_p95"] >= body["delta_e_mean"] >= 0


def test_palette_of_a_two_colour_image_finds_both(client):
    image = np.zeros((20, 30, 3), np.uint8)
    image[:, 15:] = (250, 20, 30)
    r = client.post("/api/palette", files={"image": ("two.png", encode(image), "image/png")}, data={"k": "2"})
    body = r.json()
    assert sorted(c["hex"] for c in body["palette"]) == ["#000000", "#fa141e"]
    assert sorted(c["count"] for c in body["palette"]) == [300, 300]


def test_labels_png_is_the_label_map(client):
    r = client.post("/api/labels", files={"image": CHINA}, data={"k": "4", "seed": "2"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    labels = _open(r.content)
    assert labels.mode == "L" and labels.size == (640, 427)
    values = np.asarray(labels)
    k = int(r.headers["x-kmseg-k"])
    assert values.max() < k
    counts = [int(c) for c in r.headers["x-kmseg-counts"].split(",")]
    assert np.bincount(values.ravel(), minlength=k).tolist() == counts


def test_alpha_image_is_accepted(client):
    rgba = np.dstack([photo(size=(64, 48)), np.full((48, 64), 128, np.uint8)])
    r = client.post("/api/segment", files={"image": ("a.png", encode(rgba), "image/png")}, data={"k": "3"})
    assert r.status_code == 200
    assert _open(r.content).size == (64, 48)


def test_output_carries_no_exif_or_icc(client):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"
    exif[0x0131] = "secret-software"
    data = encode(photo(size=(160, 120)), "JPEG", exif=exif.tobytes(), icc_profile=icc)
    assert _open(data).info.get("icc_profile")  # the upload does carry them
    for fmt in ("png", "jpeg", "webp"):
        r = client.post(
            "/api/segment", files={"image": ("e.jpg", data, "image/jpeg")}, data={"k": "3", "format": fmt}
        )
        assert r.status_code == 200
        out = _open(r.content)
        assert not out.info.get("icc_profile") and not out.info.get("exif"), fmt
        assert b"SecretCameraMaker" not in r.content
    r = client.post("/api/labels", files={"image": ("e.jpg", data, "image/jpeg")}, data={"k": "3"})
    assert b"SecretCameraMaker" not in r.content and not _open(r.content).info.get("icc_profile")


def test_upload_is_never_spooled_to_disk(client, monkeypatch):
    """Starlette spools file parts over 1 MB to disk; ours must stay in memory."""
    rolled: list[int] = []
    original = tempfile.SpooledTemporaryFile.rollover

    def spy(self):
        rolled.append(1)
        return original(self)

    monkeypatch.setattr(tempfile.SpooledTemporaryFile, "rollover", spy)
    big = photo_bytes(size=(1600, 1200), fmt="PNG")
    assert len(big) > 1024 * 1024 + 100_000
    r = client.post(
        "/api/palette", files={"image": ("big.png", big, "image/png")}, data={"k": "2", "max_iter": "3"}
    )
    assert r.status_code == 200, r.text
    assert rolled == []


# --- service endpoints and schema -------------------------------------------------


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["version"] == kmseg.__version__
    assert body["pool_size"] >= 1 and body["in_progress"] == 0


def test_openapi_documents_every_field_with_its_limits():
    with make_client(max_k=32, max_iter=500) as c:
        schema = c.get("/openapi.json").json()
        assert c.get("/docs").status_code == 200
    paths = schema["paths"]
    assert {"/api/segment", "/api/palette", "/api/labels", "/healthz"} <= set(paths)
    assert "/" not in paths
    body_ref = paths["/api/segment"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"][
        "$ref"
    ]
    props = schema["components"]["schemas"][body_ref.rsplit("/", 1)[1]]["properties"]
    k_int = next(option for option in props["k"]["anyOf"] if option.get("type") == "integer")
    assert k_int["minimum"] == 1 and k_int["maximum"] == 32
    assert {"const": "auto", "type": "string"} in props["k"]["anyOf"]
    assert props["max_iter"]["maximum"] == 500
    assert props["format"]["enum"] == ["png", "jpeg", "webp", "gif", "svg"]
    assert props["color_space"]["enum"] == ["rgb", "lab", "oklab"]
    for name, prop in props.items():
        assert prop.get("description"), f"{name} has no description"
    for path in ("/api/segment", "/api/palette", "/api/labels", "/api/boundaries"):
        responses = paths[path]["post"]["responses"]
        assert {"200", "400", "408", "413", "415", "422", "503"} <= set(responses), path
        assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert set(paths["/api/segment"]["post"]["responses"]["200"]["content"]) == {
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/gif",
        "image/svg+xml",
    }


# --- bad input: 4xx with a uniform body ------------------------------------------------


def _assert_error(r, status: int, field: str | None = None, *words: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["status"] == status and error["code"] and error["message"]
    if field is not None:
        assert error["field"] == field
    for word in words:
        assert word in error["message"], (word, error["message"])
    assert "Traceback" not in r.text and 'File "' not in r.text
    return error


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("k", "0", ("k", "1", "256")),
        ("k", "257", ("k", "1", "256")),
        ("k", "abc", ("k", "between 1 and 256", "auto")),
        ("k", "2.5", ("k",)),
        ("max_iter", "0", ("max_iter", "1", "10000")),
        ("max_iter", "10001", ("max_iter", "10000")),
        ("seed", "-1", ("seed", "0")),
        ("seed", "99999999999", ("seed", "4,294,967,295")),
        ("format", "bmp", ("format", "png", "jpeg", "webp", "gif")),
        ("color_space", "hsv", ("color_space", "rgb", "lab")),
        ("metrics", "maybe", ("metrics",)),
    ],
)
def test_bad_fields_are_422_naming_field_and_range(client, field, value, words):
    r = client.post("/api/segment", files={"image": CHINA}, data={field: value})
    _assert_error(r, 422, field, *words)


def test_limits_follow_settings():
    with make_client(max_k=4) as c:
        r = c.post("/api/palette", files={"image": CHINA}, data={"k": "5"})
        _assert_error(r, 422, "k", "between 1 and 4")


def test_missing_image_is_422(client):
    r = client.post("/api/palette", data={"k": "3"})
    _assert_error(r, 422, "image", "required")
    r = client.post("/api/palette", data={"k": "3", "image": "not a file"})
    _assert_error(r, 422, "image")


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'),
        ("svg-bare", b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="5" height="5"/></svg>'),
        ("pdf", b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"),
        ("eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"),
    ],
)
def test_unsupported_formats_are_415(client, name, payload):
    # The name and the declared type say PNG: the bytes decide.
    r = client.post("/api/segment", files={"image": ("pretty.png", payload, "image/png")})
    _assert_error(r, 415, "image")


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("empty", b""),
        ("text", b"hello, this is not an image at all"),
        ("truncated-jpeg", photo_bytes()[: len(photo_bytes()) // 2]),
        ("truncated-png", encode(photo(size=(64, 64)))[:300]),
    ],
)
def test_undecodable_uploads_are_422(client, name, payload):
    r = client.post("/api/segment", files={"image": ("x.jpg", payload, "image/jpeg")})
    _assert_error(r, 422, "image")


def test_pixel_limit_from_the_header_is_413():
    with make_client(max_pixels=100_000) as c:
        small = c.post("/api/palette", files={"image": ("s.jpg", photo_bytes(size=(300, 200)), "image/jpeg")})
        assert small.status_code == 200
        r = c.post("/api/palette", files={"image": CHINA})  # 273,280 pixels
        _assert_error(r, 413, "image")


@pytest.mark.parametrize("side", [8_000, 12_000, 60_000])
def test_pixel_bombs_are_refused_before_decoding(client, side):
    """64 MP (over our 50 MP), 144 MP (Pillow's warning zone), 3.6 GP (Pillow's error zone)."""
    bomb = png_header_only(side, side)
    assert len(bomb) < 200
    r = client.post("/api/segment", files={"image": ("bomb.png", bomb, "image/png")})
    _assert_error(r, 413, "image")


def test_malformed_multipart_is_400(client):
    r = client.post(
        "/api/segment",
        content=b"--nope\r\nContent-Disposition: form-data\r\n\r\nx\r\n--nope--\r\n",
        headers={"content-type": "multipart/form-data"},  # no boundary
    )
    _assert_error(r, 400)


def test_unknown_path_and_method_have_the_uniform_body(client):
    _assert_error(client.get("/api/nothing"), 404)
    _assert_error(client.get("/api/segment"), 405)


# --- the upload limit, enforced while the body arrives -------------------------------

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def small_app():
    return create_app(ServiceSettings(max_upload_bytes=LIMIT, read_timeout=0.5))


def test_upload_over_the_limit_is_413(small_app):
    with make_client(max_upload_bytes=LIMIT) as c:
        ok = c.post("/api/palette", files={"image": ("s.jpg", photo_bytes(size=(80, 60)), "image/jpeg")})
        assert ok.status_code == 200
        r = c.post("/api/palette", files={"image": CHINA})  # about 100 KB
        error = _assert_error(r, 413, "image", "upload limit")
        assert error["code"] == "upload_too_large"


def test_chunked_body_without_length_is_cut_at_the_limit(small_app):
    body, ctype = multipart({"k": "3"}, b"\x00" * (10 * LIMIT))
    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)]
    r = call_asgi(small_app, chunks, headers=[(b"content-type", ctype.encode())])
    assert r.status == 413 and json.loads(r.body)["error"]["code"] == "upload_too_large"
    # Refused as soon as the limit was passed, not after reading everything.
    assert r.chunks_read <= LIMIT // 4096 + 2 + LIMIT // 4096 + 1
    assert r.chunks_read < len(chunks)


def test_false_small_content_length_does_not_help(small_app):
    body, ctype = multipart({"k": "3"}, b"\x00" * (4 * LIMIT))
    chunks = [body[i : i + 8192] for i in range(0, len(body), 8192)]
    headers = [(b"content-type", ctype.encode()), (b"content-length", b"100")]
    r = call_asgi(small_app, chunks, headers=headers)
    assert r.status == 413


def test_declared_length_over_the_limit_is_refused_unread(small_app):
    headers = [
        (b"content-type", b"multipart/form-data; boundary=x"),
        (b"content-length", str(100 * LIMIT).encode()),
        (b"expect", b"100-continue"),
    ]
    r = call_asgi(small_app, [b"x" * 1024] * 10, headers=headers)
    assert r.status == 413 and r.chunks_read == 0
    assert r.headers["connection"] == "close"


def test_slow_upload_is_408(small_app):
    body, ctype = multipart({"k": "3"}, photo_bytes(size=(40, 30)))
    chunks = [body[i : i + 256] for i in range(0, len(body), 256)]
    r = call_asgi(small_app, chunks, headers=[(b"content-type", ctype.encode())], stall_after=2)
    assert r.status == 408 and json.loads(r.body)["error"]["code"] == "read_timeout"
    r = call_asgi(small_app, chunks, headers=[(b"content-type", ctype.encode())], delay=0.1)  # a trickle
    assert r.status == 408


def test_body_within_limit_in_many_chunks_is_served(small_app):
    body, ctype = multipart({"k": "2", "seed": "1"}, photo_bytes(size=(40, 30)))
    chunks = [body[i : i + 100] for i in range(0, len(body), 100)]
    r = call_asgi(small_app, chunks, path="/api/palette", headers=[(b"content-type", ctype.encode())])
    assert r.status == 200, r.body
    assert json.loads(r.body)["k"] == 2


# --- the bounded pool: busy -> 503 + Retry-After, too slow -> 503 ------------------------


def test_full_server_answers_503_with_retry_after():
    """Every place taken (here by a job holding the one place): the next upload gets 503 at once."""
    with make_client(pool_size=1, queue_size=0, retry_after=7) as c:
        release = threading.Event()
        admission = c.app.state.admission

        async def hold_the_place() -> None:
            assert admission.try_take()
            try:
                await admission.run(lambda seconds, deadline: release.wait(seconds), 30, timeout=60)
            finally:
                admission.give_back()

        blocker = c.portal.start_task_soon(hold_the_place)
        try:
            r = c.post("/api/palette", files={"image": CHINA}, data={"k": "2"})
            error = _assert_error(r, 503)
            assert error["code"] == "busy" and r.headers["retry-after"] == "7"
            assert c.get("/healthz").json()["in_progress"] == 1
        finally:
            release.set()
            blocker.result(10)
        assert c.post("/api/palette", files={"image": CHINA}, data={"k": "2"}).status_code == 200


def test_processing_time_limit_answers_503():
    with make_client(processing_timeout=0.001) as c:
        r = c.post("/api/segment", files={"image": ("big.jpg", photo_bytes(size=(1600, 1200)), "image/jpeg")})
        error = _assert_error(r, 503)
        assert error["code"] == "timeout" and "retry-after" in r.headers


# --- the browser form page ------------------------------------------------------------


def test_form_page_works_without_javascript(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert 'enctype="multipart/form-data"' in html and 'method="post"' in html
    for name in ("image", "k", "max_iter", "color_space", "seed"):
        assert f'name="{name}"' in html
    assert "<script" not in html
    assert "default-src 'none'" in r.headers["content-security-policy"]


def test_form_submission_shows_both_images_palette_and_downloads(client):
    r = client.post(
        "/",
        files={"image": ("My Photo.jpg", photo_bytes(), "image/jpeg")},
        data={"k": "5", "max_iter": "50", "color_space": "rgb", "seed": "9"},
    )
    assert r.status_code == 200, r.text[:500]
    html = r.text
    assert html.count('src="data:image/') == 2
    assert 'id="original"' in html and 'id="segmented"' in html
    direct = kmseg.segment(photo_bytes(), 5, max_iter=50, seed=9)
    for hex_ in ("#%02x%02x%02x" % tuple(c) for c in direct.palette.tolist()):
        assert hex_ in html
    assert html.count('class="chip"') == direct.k
    assert 'download="My_Photo-k5.png"' in html and 'download="My_Photo-k5-labels.png"' in html
    assert "palette.gpl" in html
    assert "<script" not in html


def test_form_errors_are_pages_with_the_message(client):
    r = client.post("/", files={"image": CHINA}, data={"k": "0"}, headers={"accept": "text/html"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "k must be" in r.text and 'name="image"' in r.text
    r = client.post(
        "/",
        files={"image": ("x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml")},
        data={"k": "3"},
    )
    assert r.status_code == 415 and 'data-status="415"' in r.text
    assert "<strong>The image is in a format kmseg does not read</strong>" in r.text and "Error 415" not in r.text
    r = client.post("/", files={"image": ("", b"", "application/octet-stream")}, data={"k": "3"})
    assert r.status_code == 422 and "choose an image" in r.text


def test_visitors_cannot_see_each_other(client):
    """Results live only in the answer: no URL to fetch someone else's image."""
    first = client.post("/", files={"image": CHINA}, data={"k": "3"}).text
    assert "/static/" not in first and 'src="/' not in first
    second = client.post(
        "/", files={"image": ("f.jpg", photo_bytes("flower.jpg"), "image/jpeg")}, data={"k": "3"}
    ).text
    segmented = lambda html: html.split('id="segmented" src="', 1)[1].split('"', 1)[0]  # noqa: E731
    assert segmented(first) != segmented(second)


# --- settings --------------------------------------------------------------------------


def test_settings_from_env():
    s = ServiceSettings.from_env(
        {
            "KMSEG_MAX_UPLOAD_MB": "2",
            "KMSEG_MAX_PIXELS": "1000",
            "KMSEG_POOL_SIZE": "3",
            "KMSEG_PROCESSING_TIMEOUT": "2.5",
        }
    )
    assert s.max_upload_bytes == 2 * 1024 * 1024 and s.max_pixels == 1000 and s.pool_size == 3
    assert s.processing_timeout == 2.5
    assert ServiceSettings.from_env(s.to_env()) == s
    with pytest.raises(kmseg.InvalidParameterError, match="KMSEG_MAX_PIXELS"):
        ServiceSettings.from_env({"KMSEG_MAX_PIXELS": "lots"})
    with pytest.raises(kmseg.InvalidParameterError, match="max_k"):
        ServiceSettings.from_env({"KMSEG_MAX_K": "999"})
    with pytest.raises(kmseg.InvalidParameterError, match="queue_size"):
        ServiceSettings(queue_size=-1)
    assert ServiceSettings().replace(max_upload_mb=0.5, max_pixels=None).max_upload_bytes == 512 * 1024
    with pytest.raises(kmseg.InvalidParameterError, match="unknown"):
        ServiceSettings().replace(colour=1)


def test_run_server_refuses_bad_arguments():
    from kmseg.api import run_server

    with pytest.raises(kmseg.InvalidParameterError, match="port"):
        run_server(port=70000)
    with pytest.raises(kmseg.InvalidParameterError, match="workers"):
        run_server(workers=0)
    with pytest.raises(kmseg.InvalidParameterError, match="max_upload_mb"):
        run_server(port=1, max_upload_mb=-3)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"k": ""}, "k"),
        ({"format": ""}, "format"),
        ({"seed": ""}, "seed"),
        ({"k": ["3", "4"]}, "k"),
        ({"metrics": ["true", "false"]}, "metrics"),
    ],
)
def test_empty_or_repeated_fields_are_422(client, data, field):
    r = client.post("/api/palette", files={"image": CHINA}, data=data)
    _assert_error(r, 422, field)


def test_process_executor_serves_the_same_answers():
    form = {"k": "4", "seed": "5"}
    with make_client(executor="process", pool_size=1) as c:
        by_process = c.post("/api/segment", files={"image": CHINA}, data=form)
        palette = c.post("/api/palette", files={"image": CHINA}, data=form).json()
    with make_client(executor="thread", pool_size=1) as c:
        by_thread = c.post("/api/segment", files={"image": CHINA}, data=form)
    assert by_process.status_code == 200 and by_process.content == by_thread.content
    assert palette["k"] == 4
