"""A real server (``kmseg serve``) in a subprocess on 127.0.0.1, called over HTTP."""

from __future__ import annotations

import io
import socket
import time

import httpx
import pytest
from apitools import photo_bytes, running_server
from PIL import Image

UPLOAD_LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"KMSEG_READ_TIMEOUT": "1", "KMSEG_POOL_SIZE": "2", "KMSEG_QUEUE_SIZE": "4"}
    args = ["--max-upload-mb", "0.25"]
    with running_server(tmp_path_factory.mktemp("srv"), env, args, command=("-m", "kmseg", "serve")) as srv:
        yield srv


def _raw(
    server, request: bytes, *, pause_after: int | None = None, wait: float = 0.0, read_timeout: float = 10
) -> bytes:
    """Send ``request`` over a raw socket (optionally stopping part-way) and read the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=read_timeout) as sock:
        if pause_after is None:
            sock.sendall(request)
        else:
            sock.sendall(request[:pause_after])
            time.sleep(wait)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            chunks.append(data)
            if b"\r\n\r\n" in b"".join(chunks):
                head, _, rest = b"".join(chunks).partition(b"\r\n\r\n")
                length = [
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                if length and len(rest) >= length[0]:
                    break
        return b"".join(chunks)


def _multipart_head(boundary: str = "b0undary") -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()


def test_segment_over_http(server):
    r = httpx.post(
        server.url + "/api/segment",
        files={"image": ("c.jpg", photo_bytes(), "image/jpeg")},
        data={"k": "8", "seed": "1"},
        timeout=30,
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png" and r.headers["x-kmseg-k"] == "8"
    im = Image.open(io.BytesIO(r.content))
    assert im.size == (640, 427)
    assert "server" not in r.headers  # no version banner


def test_palette_labels_health_and_page_over_http(server):
    files = {"image": ("c.jpg", photo_bytes(), "image/jpeg")}
    body = httpx.post(server.url + "/api/palette", files=files, data={"k": "3"}, timeout=30).json()
    assert body["k"] == 3 and len(body["palette"]) == 3
    r = httpx.post(server.url + "/api/labels", files=files, data={"k": "3"}, timeout=30)
    assert Image.open(io.BytesIO(r.content)).mode == "L"
    assert httpx.get(server.url + "/healthz").json()["status"] == "ok"
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "<form" in page.text
    assert httpx.get(server.url + "/openapi.json").json()["info"]["title"] == "kmseg"


def test_upload_over_the_limit_is_413_over_http(server):
    big = photo_bytes(size=(900, 700), fmt="PNG")
    assert len(big) > UPLOAD_LIMIT
    r = httpx.post(server.url + "/api/palette", files={"image": ("big.png", big, "image/png")}, timeout=30)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "upload_too_large"


def test_chunked_upload_over_the_limit_is_413_over_http(server):
    def body():
        yield _multipart_head()
        for _ in range(40):
            yield b"\x00" * 16384  # 640 KB in all, no Content-Length
        yield b"\r\n--b0undary--\r\n"

    r = httpx.post(
        server.url + "/api/segment",
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=b0undary"},
        timeout=30,
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "upload_too_large"
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_declared_huge_body_is_refused_before_it_is_sent(server):
    request = (
        b"POST /api/segment HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b0undary\r\n"
        b"Content-Length: 1000000000\r\nExpect: 100-continue\r\n\r\n"
    )
    start = time.monotonic()
    answer = _raw(server, request)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"100 Continue" not in answer
    assert time.monotonic() - start < 5


def test_slow_upload_is_cut_off_with_408(server):
    head = _multipart_head() + b"\xff\xd8" + b"\x00" * 1000
    request = (
        b"POST /api/segment HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b0undary\r\n"
        + f"Content-Length: {len(head) + 50_000}\r\n\r\n".encode()
        + head
    )
    start = time.monotonic()
    answer = _raw(server, request)  # sends part of the body, then nothing: a false Content-Length
    elapsed = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"read_timeout" in answer
    assert elapsed < 8


def test_bad_content_length_is_400(server):
    """h11 (under uvicorn) refuses a Content-Length that is no number before the app sees it."""
    request = b"POST /api/segment HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: lots\r\n\r\n"
    assert _raw(server, request).startswith(b"HTTP/1.1 400")
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_content_length_shorter_than_the_body_does_not_break_the_server(server):
    body = _multipart_head() + photo_bytes(size=(40, 30)) + b"\r\n--b0undary--\r\n"
    request = (
        b"POST /api/segment HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b0undary\r\n"
        b"Content-Length: 20\r\nConnection: close\r\n\r\n" + body
    )
    answer = _raw(server, request)
    assert answer.startswith(b"HTTP/1.1 4"), answer[:200]
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_several_worker_processes_share_the_settings(tmp_path):
    """--workers 2: each uvicorn worker builds its app from the settings passed down."""
    with running_server(tmp_path, args=["--workers", "2", "--max-upload-mb", "0.1"]) as srv:
        small = photo_bytes(size=(64, 48))
        ok = httpx.post(srv.url + "/api/palette", files={"image": ("s.jpg", small, "image/jpeg")}, timeout=30)
        assert ok.status_code == 200
        png = photo_bytes(fmt="PNG")  # about 500 KB
        big = httpx.post(srv.url + "/api/palette", files={"image": ("c.png", png, "image/png")}, timeout=30)
        assert big.status_code == 413
        assert "0.1 MB" in big.json()["error"]["message"]
