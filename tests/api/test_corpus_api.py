"""The shared bad-input corpus (tests/corpus) through a real server's HTTP API.

Every case is uploaded to POST /api/segment (and the valid ones to
/api/palette too) on a server started as a subprocess on 127.0.0.1. Errors
must be the documented 4xx with the JSON error body and no stack trace:
decode -> 422 ``image_decode_error``, unsupported -> 415
``unsupported_format``, too_large -> 413 ``image_too_large``, a bad parameter
-> 422 ``invalid_parameter`` naming the field. Valid odd images must give a
picture of the right size, upright, with its transparency. The pixel-limit
cases run on a server started with that limit; the bombs must be refused
without the server's memory growing.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from apitools import PeakMemory, running_server
from corpus.make_corpus import CASES, Case, to_rgba

pytest.importorskip("psutil")

STATUS = {"decode": 422, "unsupported": 415, "too_large": 413, "param": 422}
CODE = {
    "decode": "image_decode_error",
    "unsupported": "unsupported_format",
    "too_large": "image_too_large",
    "param": "invalid_parameter",
}
BOMB_MEMORY_BOUND = 100 * 2**20  # decoding a bomb would take gigabytes
LIMITS = sorted({case.max_pixels for case in CASES if case.max_pixels is not None})


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    """{max_pixels or None: server}: one with the default limits, one per limit the corpus sets."""
    env = {"KMSEG_POOL_SIZE": "2", "KMSEG_QUEUE_SIZE": "8", "KMSEG_PROCESSING_TIMEOUT": "60"}
    started = {}
    stack = []
    try:
        for limit in [None, *LIMITS]:
            extra = {} if limit is None else {"KMSEG_MAX_PIXELS": str(limit)}
            context = running_server(tmp_path_factory.mktemp("corpus"), {**env, **extra})
            started[limit] = context.__enter__()
            stack.append(context)
        yield started
    finally:
        for context in reversed(stack):
            context.__exit__(None, None, None)


def _fields(case: Case, **extra: str) -> dict[str, str]:
    return {name: str(value) for name, value in case.params.items()} | extra


def _post(server, path: str, case: Case, **extra: str) -> httpx.Response:
    return httpx.post(
        server.url + path,
        files={"image": (case.filename, case.make(), "application/octet-stream")},
        data=_fields(case, **extra),
        timeout=60,
    )


def _assert_error(r: httpx.Response, case: Case) -> None:
    assert r.status_code == STATUS[case.expect], (case.name, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json")
    assert "Traceback" not in r.text and 'File "' not in r.text
    error = r.json()["error"]
    assert error["status"] == r.status_code
    assert error["code"] == CODE[case.expect], error
    assert error["message"]
    if case.expect == "param":
        assert error["field"] == case.param, error
        assert case.param in error["message"]
    else:
        assert error["field"] == "image", error


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_corpus_case_over_http(servers, case: Case):
    server = servers[case.max_pixels]
    if case.expect != "ok":
        with PeakMemory(server.process.pid) as memory:
            r = _post(server, "/api/segment", case)
        _assert_error(r, case)
        if case.memory:
            print(f"\n{case.name}: {r.status_code}, server memory +{memory.growth / 2**20:.0f} MB")
            assert memory.growth < BOMB_MEMORY_BOUND, f"+{memory.growth / 2**20:.0f} MB"
        return

    # first_frame: the corpus pins how the first frame of its 1000-frame GIF is read (whole
    # animations: tests/api/test_animation_api.py)
    r = _post(server, "/api/segment", case, format="png", seed="1", first_frame="true")
    assert r.status_code == 200, (case.name, r.text[:300])
    assert r.headers["content-type"] == "image/png"
    rgba = to_rgba(r.content)
    assert case.check is not None
    case.check(rgba)  # size, upright, tones and transparency
    height, width = rgba.shape[:2]
    assert (int(r.headers["x-kmseg-width"]), int(r.headers["x-kmseg-height"])) == (width, height)
    if case.expect_k is not None:
        assert int(r.headers["x-kmseg-k"]) == case.expect_k

    p = _post(server, "/api/palette", case, seed="1", first_frame="true")
    assert p.status_code == 200, (case.name, p.text[:300])
    body = p.json()
    assert (body["width"], body["height"]) == (width, height)
    assert len(body["palette"]) == body["k"]
    counted = sum(e["count"] for e in body["palette"])
    if (rgba[..., 3] == 255).all():
        assert counted == width * height
    else:  # transparent pixels may be left out of the clusters
        assert 0 < counted <= width * height
    if case.expect_k is not None:
        assert body["k"] == case.expect_k
    if case.note is not None:
        assert any(case.note in note for note in body["notes"]), body["notes"]


@pytest.mark.parametrize("case", [c for c in CASES if c.expect != "ok"], ids=lambda c: c.name)
def test_corpus_error_on_the_upload_page(servers, case: Case):
    """The browser form (POST /) answers the same status with the message in the page."""
    server = servers[case.max_pixels]
    r = httpx.post(
        server.url + "/",
        files={"image": (case.filename, case.make(), "application/octet-stream")},
        data=_fields(case),
        headers={"accept": "text/html"},
        timeout=60,
    )
    assert r.status_code == STATUS[case.expect], (case.name, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html")
    assert "Traceback" not in r.text
    alert = re.search(r'<p class="error" role="alert" data-status="(\d+)" data-field="(\w*)">(.*?)</p>', r.text,
                      flags=re.S)
    assert alert, r.text[:500]
    field = case.param if case.expect == "param" else "image"
    assert alert.group(1) == str(r.status_code) and alert.group(2) == field
    # The field in words (as the form labels it), not "Error 422 (field image)".
    words = {"image": "image", "k": "Number of segments K", "max_iter": "Max iterations", "seed": "Seed",
             "color_space": "Colour space", "min_region": "Merge regions under"}
    assert words[field] in alert.group(3) and "Error" not in alert.group(3)


def test_servers_stay_healthy_after_the_corpus(servers):
    for server in servers.values():
        health = httpx.get(server.url + "/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["in_progress"] == 0
        log = server.log.read_text()
        assert "Traceback" not in log, log[-3000:]
    assert json.loads(json.dumps(LIMITS))  # the corpus sets at least one pixel limit
