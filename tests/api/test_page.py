"""The browser upload page (issue 15, items 6 and 8, and its token): errors named in
words, the image kept for another try, the spatial weight explained, and the
token given the way a browser can give it (HTTP Basic)."""

from __future__ import annotations

import base64
import html
import re

import pytest
from apitools import photo_bytes
from conftest import make_client

from kmseg import options
from kmseg.api._uploads import UploadCache

CHINA = ("china.jpg", photo_bytes(size=(160, 107)), "image/jpeg")
HTML = {"accept": "text/html"}


def _kept_id(html: str) -> str:
    found = re.search(r'<input type="hidden" name="upload" value="([^"]+)">', html)
    assert found, html[:800]
    return found.group(1)


def _alert(html: str) -> str:
    found = re.search(r'<p class="error" role="alert"[^>]*>(.*?)</p>', html, flags=re.S)
    assert found, html[:800]
    return found.group(1)


# --- errors in words ------------------------------------------------------------------------


def test_an_error_names_the_field_as_the_form_labels_it(client):
    r = client.post("/", files={"image": CHINA}, data={"k": "0"}, headers=HTML)
    assert r.status_code == 422
    alert = _alert(r.text)
    assert alert.startswith("<strong>Check \u201cNumber of segments K\u201d</strong>: k must be")
    assert "Error 422" not in r.text and "(field" not in r.text
    assert re.search(r'<input aria-invalid="true" autofocus type="number" name="k"', r.text)
    assert r.text.count('aria-invalid="true"') == 1

    r = client.post("/", files={"image": ("notes.png", b"just some words", "image/png")}, data={"k": "3"},
                    headers=HTML)
    assert r.status_code in (415, 422)
    assert _alert(r.text).startswith("<strong>The image")
    assert 'name="upload"' not in r.text  # an unusable image is not kept


# --- another K without choosing the file again ----------------------------------------------


def test_the_result_page_keeps_the_image_for_another_k(client):
    first = client.post("/", files={"image": CHINA}, data={"k": "4", "seed": "3"}, headers=HTML)
    assert first.status_code == 200, first.text[:500]
    upload = _kept_id(first.text)
    assert "<strong>china.jpg</strong>, kept for 15 minutes" in first.text
    (file_input,) = re.findall(r'<input type="file" name="image"[^>]*>', first.text)
    assert "required" not in file_input  # leave it empty to use the kept image
    # The "try another K" buttons carry everything but K.
    again = re.search(r'<form class="again".*?</form>', first.text, flags=re.S).group(0)
    assert f'name="upload" value="{upload}"' in again and 'name="seed" value="3"' in again
    assert re.findall(r'<button type="submit" name="k" value="(\d+)">', again) == ["2", "3", "5", "6", "8"]

    second = client.post("/", data={"k": "6", "seed": "3", "upload": upload}, headers=HTML)  # no file
    assert second.status_code == 200, second.text[:500]
    assert "<h2>Result: 6 colours</h2>" in second.text
    assert 'download="china-k6.png"' in second.text
    assert _kept_id(second.text) == upload

    gone = client.post("/", data={"k": "6", "upload": "not-an-id"}, headers=HTML)
    assert gone.status_code == 422
    assert "no longer kept" in _alert(gone.text) and "choose the file again" in _alert(gone.text)
    nothing = client.post("/", data={"k": "6"}, headers=HTML)
    assert nothing.status_code == 422 and "choose an image file" in _alert(nothing.text)


def test_a_wrong_setting_keeps_the_image_too(client):
    r = client.post("/", files={"image": CHINA}, data={"k": "9999"}, headers=HTML)
    assert r.status_code == 422
    upload = _kept_id(r.text)
    fixed = client.post("/", data={"k": "3", "upload": upload}, headers=HTML)
    assert fixed.status_code == 200 and "<h2>Result: 3 colours</h2>" in fixed.text


def test_upload_cache_forgets_the_oldest_by_count_size_and_time():
    now = [0.0]
    cache = UploadCache(max_entries=2, max_bytes=10, seconds=60, clock=lambda: now[0])
    a = cache.put(b"aaaa", "a.png")
    b = cache.put(b"bbbb", "b.png")
    assert cache.get(a).filename == "a.png" and len(cache) == 2
    c = cache.put(b"cc", "c.png")  # three entries: the oldest goes
    assert cache.get(a) is None and cache.get(b).data == b"bbbb" and cache.get(c) is not None
    d = cache.put(b"dddddddd", "d.png")  # 8 + 2 bytes fit; 8 + 4 + 2 do not
    assert cache.get(b) is None and cache.get(c) is not None and cache.get(d) is not None
    assert cache.put(b"x" * 11, "huge.png") is None
    now[0] = 61.0
    assert cache.get(c) is None and len(cache) == 0
    assert len({cache.put(b"1", "one.png") for _ in range(2)}) == 2  # a new id each time


# --- the spatial weight ----------------------------------------------------------------------


def test_the_page_says_what_the_spatial_weight_does_and_takes_it(client):
    page = client.get("/").text
    assert 'name="spatial_weight"' in page
    hint = re.search(r'<p class="hint" id="spatial-hint">(.*?)</p>', page, flags=re.S).group(1)
    assert html.escape(options.get("spatial_weight").help) in hint  # the option table's words
    assert "compact blobs" in hint
    r = client.post("/", files={"image": CHINA}, data={"k": "5", "spatial_weight": "2", "seed": "1"})
    assert r.status_code == 200, r.text[:500]
    assert 'name="spatial_weight" min="0" max="100" step="any" value="2"' in r.text


# --- the token ----------------------------------------------------------------------------


def _basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_the_page_asks_a_browser_for_the_token_and_takes_it_as_basic():
    with make_client(token="s3cret-token") as c:
        form = c.get("/").text
        assert 'id="token-hint"' in form and "any" in form
        refused = c.post("/", files={"image": CHINA}, data={"k": "2"}, headers=HTML)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Basic realm="kmseg", charset="UTF-8"'
        assert refused.headers["content-type"].startswith("text/html")
        assert _alert(refused.text).startswith("<strong>This server needs a token</strong>")
        for headers in (_basic("anyone", "wrong"), _basic("", "s3cret-toke"), {"authorization": "Basic !!"},
                        {"authorization": "Basic " + base64.b64encode(b"no colon").decode()}):
            assert c.post("/", files={"image": CHINA}, data={"k": "2"}, headers=headers).status_code == 401
        for user in ("anyone", ""):
            ok = c.post("/", files={"image": CHINA}, data={"k": "2"}, headers={**HTML, **_basic(user, "s3cret-token")})
            assert ok.status_code == 200, ok.text[:300]
        # Programs: Bearer as before, and Basic works for them too; the API's challenge stays Bearer.
        api = c.post("/api/palette", files={"image": CHINA}, data={"k": "2"})
        assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"
        for headers in ({"authorization": "Bearer s3cret-token"}, _basic("x", "s3cret-token")):
            assert c.post("/api/palette", files={"image": CHINA}, data={"k": "2"}, headers=headers).status_code == 200
    with make_client() as c:
        assert 'id="token-hint"' not in c.get("/").text


@pytest.mark.parametrize("token", ["tök€n", "a b", "with:colon"])
def test_a_token_with_any_characters_works_as_basic(token: str):
    with make_client(token=token) as c:
        ok = c.post("/api/palette", files={"image": CHINA}, data={"k": "2"}, headers=_basic("u", token))
        assert ok.status_code == 200, ok.text[:300]
