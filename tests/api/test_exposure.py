"""A server that can be put on a network (issue 14, item 10): allowed hosts, a token,
HEAD where GET works, unknown form fields refused, and /docs that fetches nothing."""

from __future__ import annotations

import re

import httpx
import pytest
from apitools import photo_bytes, raw_exchange, running_server
from conftest import make_client

SMALL = ("s.jpg", photo_bytes(size=(40, 30)), "image/jpeg")


def _error(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["status"] == status and error["code"] == code, error
    return error


# --- HEAD where GET works ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/healthz", "/docs", "/openapi.json"])
def test_head_answers_where_get_does(client, path):
    get = client.get(path)
    head = client.head(path)
    assert get.status_code == 200
    assert head.status_code == 200, head.text[:200]
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


# --- unknown form fields ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/segment", "/api/palette", "/api/labels", "/api/boundaries"])
def test_unknown_form_field_is_422_naming_it(client, path):
    r = client.post(path, files={"image": SMALL}, data={"k_": "8"})
    error = _error(r, 422, "invalid_parameter")
    assert error["field"] == "k_" and "'k_'" in error["message"] and "unknown" in error["message"]
    assert "k" in error["message"].split("the fields are", 1)[1]  # the right names are listed
    r = client.post(path, files={"image": SMALL}, data={"colour_space": "lab", "seeed": "1"})
    error = _error(r, 422, "invalid_parameter")
    assert "'colour_space'" in error["message"] and "'seeed'" in error["message"]


def test_every_endpoint_takes_every_option_of_the_form(client):
    """One form for all: dither and format are accepted (and ignored where they do not apply)."""
    form = {"k": "3", "seed": "1", "dither": "true", "format": "webp", "metrics": "false"}
    for path in ("/api/segment", "/api/palette", "/api/labels", "/api/boundaries"):
        r = client.post(path, files={"image": SMALL}, data=form)
        assert r.status_code == 200, (path, r.text[:300])
        # The content type says what the bytes are: format applies to /api/segment only.
        expected = {"/api/segment": ("image/webp", b"RIFF"), "/api/palette": ("application/json", b"{"),
                    "/api/labels": ("image/png", b"\x89PNG"), "/api/boundaries": ("image/png", b"\x89PNG")}[path]
        assert r.headers["content-type"] == expected[0] and r.content.startswith(expected[1]), path


# --- allowed hosts --------------------------------------------------------------------------


def test_other_host_headers_are_400():
    with make_client() as c:
        assert c.get("/healthz").status_code == 200  # localhost
        for host in ("127.0.0.1", "127.0.0.1:5000", "localhost:8000", "[::1]:5000"):
            assert c.get("/healthz", headers={"host": host}).status_code == 200, host
        for host in ("evil.example", "evil.example:5000", "localhost.evil.example", "127.0.0.1.nip.io", ""):
            r = c.post("/api/palette", files={"image": SMALL}, headers={"host": host})
            error = _error(r, 400, "host_not_allowed")
            assert "--allowed-host" in error["message"]
    with make_client(allowed_hosts=("kmseg.example", "*.lab.example")) as c:
        assert c.get("/healthz", headers={"host": "kmseg.example"}).status_code == 200
        assert c.get("/healthz", headers={"host": "a.lab.example:80"}).status_code == 200
        _error(c.get("/healthz", headers={"host": "lab.example.evil"}), 400, "host_not_allowed")


def test_server_refuses_a_rebound_host_and_takes_allowed_host(tmp_path):
    """DNS rebinding: a page on evil.example that resolves to 127.0.0.1 sends Host: evil.example."""
    request = b"GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
    with running_server(tmp_path, args=["--allowed-host", "kmseg.lan"]) as srv:
        evil = raw_exchange(srv.port, request % b"evil.example")
        assert evil.status == 400 and b"host_not_allowed" in evil.body
        for host in (b"kmseg.lan", b"127.0.0.1:%d" % srv.port, b"localhost"):
            assert raw_exchange(srv.port, request % host).status == 200, host
    with running_server(tmp_path, env={"KMSEG_ALLOWED_HOSTS": "a.lan,b.lan"}) as srv:
        assert raw_exchange(srv.port, request % b"b.lan").status == 200
        assert raw_exchange(srv.port, request % b"c.lan").status == 400


# --- the token ------------------------------------------------------------------------------


def test_token_is_required_where_set():
    with make_client(token="s3cret-token") as c:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic s3cret-token"}):
            r = c.post("/api/palette", files={"image": SMALL}, data={"k": "2"}, headers=headers)
            _error(r, 401, "unauthorized")
            assert r.headers["www-authenticate"] == "Bearer"
        ok = c.post("/api/palette", files={"image": SMALL}, data={"k": "2"},
                    headers={"authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200, ok.text[:300]
        _error(c.post("/", files={"image": SMALL}, data={"k": "2"}), 401, "unauthorized")
        for path in ("/healthz", "/", "/docs", "/openapi.json"):  # reading pages stay open
            assert c.get(path).status_code == 200, path
    with make_client() as c:  # no token set: none needed
        assert c.post("/api/palette", files={"image": SMALL}, data={"k": "2"}).status_code == 200


def test_server_takes_its_token_from_the_environment(tmp_path):
    with running_server(tmp_path, env={"KMSEG_TOKEN": "from-env"}) as srv:
        files = {"image": SMALL}
        assert httpx.post(srv.url + "/api/palette", files=files, timeout=30).status_code == 401
        r = httpx.post(srv.url + "/api/palette", files=files, headers={"authorization": "Bearer from-env"}, timeout=30)
        assert r.status_code == 200, r.text[:300]


# --- /docs ----------------------------------------------------------------------------------


def test_docs_fetch_nothing_from_elsewhere_and_have_a_csp(client):
    r = client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    page = r.text
    assert "<script" not in page
    # Nothing loaded from another origin: every src/href is on this server or a fragment.
    for url in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert url.startswith(("/", "#", "data:")), url
    assert "cdn" not in page.lower()
    # It documents the form: every field of the schema's form model is on the page.
    schema = client.get("/openapi.json").json()
    form = next(iter(schema["components"]["schemas"][name] for name in schema["components"]["schemas"]
                     if name.startswith("SegmentForm")))
    for field in form["properties"]:
        assert f"<code>{field}</code>" in page, field
    for path in schema["paths"]:
        assert path in page, path


def test_settings_take_hosts_and_token_from_the_environment_and_the_command_line():
    import subprocess
    import sys

    from kmseg import InvalidParameterError
    from kmseg.api import ServiceSettings

    s = ServiceSettings.from_env({"KMSEG_ALLOWED_HOSTS": "a.lan, B.lan", "KMSEG_TOKEN": "t0k"})
    assert s.allowed_hosts == ("localhost", "127.0.0.1", "[::1]", "a.lan", "b.lan") and s.token == "t0k"
    assert ServiceSettings.from_env(s.to_env()) == s  # what worker processes rebuild
    with pytest.raises(InvalidParameterError, match="allowed_hosts"):
        ServiceSettings(allowed_hosts=("a.*.lan",))
    with pytest.raises(InvalidParameterError, match="token"):
        ServiceSettings(token=" ")
    for command in (["-m", "kmseg", "serve", "--help"], ["-m", "kmseg.api", "--help"]):
        out = subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=60).stdout
        assert "--allowed-host" in out and "--token" in out, command
