"""Hostile HTTP clients against a real server on 127.0.0.1 (issue 8, items 23-25).

Uploads one byte over the limit (plain, chunked, with a false Content-Length),
multipart abuse (many fields, many empty files, a huge preamble, long
boundaries, huge part headers), a 1-byte-per-second upload, hostile file
names, and more requests than the server serves at once. Every answer must be
a 4xx with the JSON error body (or a 200 where the request is in fact valid),
never a 5xx or a hang; the server's memory stays bounded, nothing is written
to disk, and the server stays healthy.
"""

from __future__ import annotations

import json
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from apitools import REPO, PeakMemory, RawAnswer, photo_bytes, raw_exchange, running_server

pytest.importorskip("psutil")

LIMIT = 6 * 2**20  # the test server's upload limit: room for a several-MB preamble
READ_TIMEOUT = 2.0
MEMORY_BOUND = 150 * 2**20  # growth of the server's RSS during one hostile request
SMALL = photo_bytes(size=(40, 30))
IMAGE_HEADERS = 'Content-Disposition: form-data; name="image"; filename="x.jpg"\r\nContent-Type: image/jpeg'


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("abuse")
    (root / "cwd").mkdir()
    (root / "tmp").mkdir()
    return root


@pytest.fixture(scope="module")
def server(workdir: Path):
    env = {
        "KMSEG_MAX_UPLOAD_BYTES": str(LIMIT),
        "KMSEG_READ_TIMEOUT": str(READ_TIMEOUT),
        "KMSEG_POOL_SIZE": "2",
        "KMSEG_QUEUE_SIZE": "4",
        "TMPDIR": str(workdir / "tmp"),  # where spooled uploads would land
    }
    with running_server(workdir, env, cwd=workdir / "cwd") as srv:
        # Warm up (imports, worker threads) so memory growth measures the hostile requests only.
        for _ in range(2):
            healthy(srv)
        yield srv


def multipart(parts: list[tuple[str | bytes, bytes]], boundary: str = "bnd", epilogue: bytes = b"") -> bytes:
    """A multipart body from (part headers, part body) pairs, raw bytes kept as they are."""
    out = []
    for headers, body in parts:
        head = headers if isinstance(headers, bytes) else headers.encode()
        out.append(f"--{boundary}\r\n".encode() + head + b"\r\n\r\n" + body + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out) + epilogue


def http_request(body: bytes, content_type: str, path: str = "/api/palette", extra: str = "") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode("latin-1") + body


def assert_json_error(status: int, headers: dict[str, str], body: bytes, allowed: set[int]) -> dict:
    assert status in allowed, (status, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), headers
    error = json.loads(body)["error"]
    assert error["status"] == status and error["code"] and error["message"]
    assert "Traceback" not in body.decode() and 'File "' not in body.decode()
    return error


def assert_answer(answer: RawAnswer, allowed: set[int]) -> None:
    """A raw answer is one of ``allowed``; a 4xx/5xx from our app has the JSON body."""
    headers = {k.lower(): v for k, v in answer.headers}
    if 400 <= answer.status:
        assert_json_error(answer.status, headers, answer.body, allowed)
    else:
        assert answer.status in allowed, (answer.status, answer.body[:300])


def healthy(server) -> None:
    r = httpx.get(server.url + "/healthz", timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    ok = httpx.post(
        server.url + "/api/palette", files={"image": ("s.jpg", SMALL, "image/jpeg")}, data={"k": "2"}, timeout=30
    )
    assert ok.status_code == 200, ok.text


# --- one byte over the limit ---------------------------------------------------------------------


def _body_of_size(size: int) -> bytes:
    body = multipart([(IMAGE_HEADERS, SMALL)])
    return body + b"-" * (size - len(body))  # the epilogue after the last boundary pads it


@pytest.mark.parametrize("mode", ["plain", "chunked"])
def test_at_the_limit_is_served_and_one_byte_over_is_413(server, mode):
    ctype = {"content-type": "multipart/form-data; boundary=bnd"}
    for size, expected in [(LIMIT, 200), (LIMIT + 1, 413)]:
        body = _body_of_size(size)
        assert len(body) == size
        if mode == "plain":
            content: bytes | object = body
        else:

            def pieces(data: bytes = body):
                for i in range(0, len(data), 65536):
                    yield data[i : i + 65536]

            content = pieces()
        with PeakMemory(server.process.pid) as memory:
            r = httpx.post(server.url + "/api/palette", content=content, headers=ctype, timeout=30)  # type: ignore[arg-type]
        assert r.status_code == expected, r.text[:300]
        if expected == 413:
            error = assert_json_error(r.status_code, dict(r.headers), r.content, {413})
            assert error["code"] == "upload_too_large" and str(LIMIT) in error["message"]
        print(f"\n{mode} {size - LIMIT:+d}: {r.status_code}, server memory +{memory.growth / 2**20:.0f} MB")
        assert memory.growth < MEMORY_BOUND
    healthy(server)


def test_false_smaller_content_length_reads_no_more_than_it_declares(server):
    """Content-Length says 1000, the client sends a body one byte over the limit.

    The server takes the first 1000 bytes as the body (a form cut short: 4xx),
    treats the rest as a bad next request, and stays healthy.
    """
    body = _body_of_size(LIMIT + 1)
    request = http_request(body, "multipart/form-data; boundary=bnd").replace(
        f"Content-Length: {len(body)}".encode(), b"Content-Length: 1000"
    )
    with PeakMemory(server.process.pid) as memory:
        answer = raw_exchange(server.port, request)
    assert_answer(answer, {400, 413, 422})
    assert memory.growth < MEMORY_BOUND
    healthy(server)


def test_chunked_body_with_a_false_content_length_too_is_counted(server):
    """Transfer-Encoding wins over a (false, small) Content-Length; the bytes are counted."""
    body = _body_of_size(LIMIT + 1)
    chunked = b"".join(
        b"%x\r\n" % len(body[i : i + 65536]) + body[i : i + 65536] + b"\r\n" for i in range(0, len(body), 65536)
    )
    request = (
        b"POST /api/palette HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=bnd\r\n"
        b"Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n"
    )
    answer = raw_exchange(server.port, request)
    assert answer.status in (400, 413), answer
    if answer.status == 413:
        assert_answer(answer, {413})
    healthy(server)


# --- multipart abuse -----------------------------------------------------------------------------

_FIELDS_1001 = [(f'Content-Disposition: form-data; name="f{i}"', b"1") for i in range(1001)]
_EMPTY_FILES = [(f'Content-Disposition: form-data; name="e{i}"; filename="e.png"', b"") for i in range(5000)]
_IMAGE = [(IMAGE_HEADERS, SMALL)]
MULTIPART_CASES: dict[str, tuple[bytes, str, set[int]]] = {
    "1,001 fields": (multipart(_FIELDS_1001 + _IMAGE), "bnd", {400}),
    "100 fields (our forms have about a dozen)": (multipart(_FIELDS_1001[:100] + _IMAGE), "bnd", {400}),
    "5,000 empty file parts": (multipart(_EMPTY_FILES + _IMAGE), "bnd", {400}),
    "20 empty file parts (our forms have two)": (multipart(_EMPTY_FILES[:20] + _IMAGE), "bnd", {400}),
    "a few unknown fields (refused: 422 naming them)": (multipart(_FIELDS_1001[:5] + _IMAGE), "bnd", {422}),
    "a 100 KB text field": (
        multipart([('Content-Disposition: form-data; name="k"', b"1" * 100_000), *_IMAGE]),
        "bnd",
        {400},
    ),
    "5 MB of junk before the first boundary": (b"x" * 5_000_000 + b"\r\n" + multipart(_IMAGE), "bnd", {400}),
    "5 MB of blank lines before the first boundary": (b"\r\n" * 2_500_000 + multipart(_IMAGE), "bnd", {200, 400}),
    "a 70-character boundary (the RFC 2046 maximum)": (multipart(_IMAGE, "b" * 70), "b" * 70, {200}),
    "a 71-character boundary": (multipart(_IMAGE, "b" * 71), "b" * 71, {200, 400}),
    "a 10 KB boundary": (multipart(_IMAGE, "b" * 10_000), "b" * 10_000, {400}),
    "a 3 MB file name in a part header": (
        multipart([(f'Content-Disposition: form-data; name="image"; filename="{"a" * 3_000_000}"', SMALL)]),
        "bnd",
        {400},
    ),
    "200,000 part headers": (
        multipart([(IMAGE_HEADERS + "".join(f"\r\nX-{i}: y" for i in range(200_000)), SMALL)]),
        "bnd",
        {400},
    ),
    "a part without a name": (multipart([("Content-Disposition: form-data", b"zz"), *_IMAGE]), "bnd", {400}),
    "no closing boundary": (multipart(_IMAGE)[: -len("--bnd--\r\n")], "bnd", {200, 400, 422}),
}


@pytest.mark.parametrize("case", list(MULTIPART_CASES))
def test_multipart_abuse_is_refused_quickly_with_bounded_memory(server, case):
    body, boundary, allowed = MULTIPART_CASES[case]
    request = http_request(body, f"multipart/form-data; boundary={boundary}")
    with PeakMemory(server.process.pid) as memory:
        answer = raw_exchange(server.port, request, timeout=20)
    assert answer.status, f"no answer to {case}"
    assert_answer(answer, allowed)
    assert answer.seconds < 5, f"{case}: {answer.seconds:.1f} s"
    print(f"\n{case}: {answer.status} in {answer.seconds:.2f} s, server memory +{memory.growth / 2**20:.0f} MB")
    assert memory.growth < MEMORY_BOUND, f"{case}: +{memory.growth / 2**20:.0f} MB"


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",  # no boundary
        'multipart/form-data; boundary=""',
        "multipart/form-data; boundary=" + "b" * 12_000,  # a header line near the server's header limit
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
    ],
)
def test_bad_content_types_give_a_json_4xx(server, content_type):
    body = multipart(_IMAGE)
    answer = raw_exchange(server.port, http_request(body, content_type))
    assert_answer(answer, {400, 415, 422})


def test_headers_beyond_the_servers_header_limit_are_refused_by_uvicorn(server):
    """A 1 MB Content-Type never reaches the app: uvicorn answers a plain 400 (or closes)."""
    body = multipart(_IMAGE)
    answer = raw_exchange(server.port, http_request(body, "multipart/form-data; boundary=" + "b" * 2**20))
    assert answer.status in (0, 400, 431), answer.status
    assert answer.seconds < 5
    healthy(server)


# --- slow clients --------------------------------------------------------------------------------


def test_one_byte_per_second_upload_is_cut_off_and_health_checks_still_answer(server):
    body = multipart(_IMAGE)
    request = http_request(body, "multipart/form-data; boundary=bnd")
    head_size = request.index(b"\r\n\r\n") + 4
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(
            raw_exchange, server.port, request, timeout=READ_TIMEOUT + 10, send_pace=(1, 1.0), paced_from=head_size
        )
        time.sleep(0.3)
        for _ in range(3):  # the slow upload holds no worker: the server keeps answering
            r = httpx.get(server.url + "/healthz", timeout=2)
            assert r.status_code == 200
            time.sleep(0.3)
        answer = slow.result()
    # Cut off by the read timeout: a 408 with the JSON body (or, at worst, the connection closed).
    assert answer.status in (0, 408), answer
    if answer.status == 408:
        assert_answer(answer, {408})
        assert json.loads(answer.body)["error"]["code"] == "read_timeout"
    assert answer.seconds < READ_TIMEOUT + 5
    healthy(server)


def test_request_head_sent_a_byte_per_second_is_cut_off(server):
    """uvicorn puts no time limit on the request line and headers; ours is the read timeout."""
    request = http_request(multipart(_IMAGE), "multipart/form-data; boundary=bnd")
    with ThreadPoolExecutor(2) as pool:
        slow_head = pool.submit(raw_exchange, server.port, request, timeout=READ_TIMEOUT + 10, send_pace=(1, 1.0))
        silent = pool.submit(raw_exchange, server.port, b"", timeout=READ_TIMEOUT + 10)
        time.sleep(0.3)
        assert httpx.get(server.url + "/healthz", timeout=2).status_code == 200
        answers = [slow_head.result(), silent.result()]
    for answer in answers:  # a 408 with the JSON body, then the connection is closed
        assert answer.status == 408, answer
        assert_answer(answer, {408})
        assert json.loads(answer.body)["error"]["code"] == "read_timeout"
        assert answer.seconds < READ_TIMEOUT + 3
    healthy(server)


def test_keep_alive_connection_serves_several_requests_past_the_head_timeout(server):
    """The head deadline restarts for each request on a kept-alive connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        for _ in range(3):  # 2 x 0.6 x the timeout idle in between: more than one timeout in all
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            status = reader.readline()
            assert status.startswith(b"HTTP/1.1 200"), status
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            assert json.loads(reader.read(length))["status"] == "ok"
            time.sleep(READ_TIMEOUT * 0.6)


# --- hostile file names --------------------------------------------------------------------------

HOSTILE_NAMES: list[bytes] = [
    b"\n../../x.png",
    b"../../x.png",
    b"/tmp/x.png",
    b"..\\..\\x.png",
    b"%2e%2e%2fx.png",
    b"x\x00.png",
    b"a" * 10_000 + b".png",
    "ünïcødé-😀-名前.png".encode(),
    b"x.png\r\nX-Injected: 1",
    b'x.png"\r\nX-Injected: 1\r\nContent-Disposition: attachment; filename="evil.html',
    b'x".png; name="k',
    b"<script>alert(1)</script>.png",
]


def _candidates(workdir: Path) -> list[Path]:
    """Where a file name taken at face value could have put a file."""
    cwd = workdir / "cwd"
    return [
        (cwd / "../../x.png").resolve(),
        cwd / "x.png",
        Path("/tmp/x.png"),
        REPO / "x.png",
        (REPO / "../../x.png").resolve(),
        Path("/x.png"),
    ]


def test_hostile_file_names_write_nothing_and_inject_no_header(server, workdir):
    before = {path: path.exists() for path in _candidates(workdir)}
    for name in HOSTILE_NAMES:
        headers = b'Content-Disposition: form-data; name="image"; filename="' + name + b'"\r\nContent-Type: image/png'
        body = multipart([(headers, SMALL), ('Content-Disposition: form-data; name="k"', b"3")])
        for path in ("/api/segment", "/"):
            answer = raw_exchange(server.port, http_request(body, "multipart/form-data; boundary=bnd", path=path))
            assert 200 <= answer.status < 500, (name[:40], path, answer.status)
            names = {k.lower() for k, _ in answer.headers}
            assert "x-injected" not in names, (name[:40], answer.headers)
            dispositions = [v for k, v in answer.headers if k.lower() == "content-disposition"]
            if path == "/api/segment" and answer.status == 200:
                assert dispositions == ['inline; filename="segmented.png"']
            else:
                assert not dispositions or dispositions == ['inline; filename="segmented.png"']
            if path == "/" and answer.status == 200:
                page = answer.body.decode()
                downloads = re.findall(r'download="([^"]*)"', page)
                assert downloads and all(re.fullmatch(r"[A-Za-z0-9._-]+", d) for d in downloads), downloads
                assert "<script>" not in page and "X-Injected" not in page
            elif answer.status >= 400 and path == "/" and answer.header("content-type", "").startswith("text/html"):
                page = answer.body.decode()  # the browser form answers its errors with a page
                assert answer.status in (400, 413, 415, 422) and "Traceback" not in page
                assert "<script>" not in page and "X-Injected" not in page
            elif answer.status >= 400:
                assert_answer(answer, {400, 413, 415, 422})
    # The same names sent the ordinary way (httpx escapes them) are served and ignored too.
    for name in HOSTILE_NAMES:
        text = name.decode("utf-8", "replace")
        r = httpx.post(
            server.url + "/api/segment", files={"image": (text, SMALL, "image/jpeg")}, data={"k": "3"}, timeout=30
        )
        assert "x-injected" not in r.headers
        if len(name) > 4096:  # a part header line longer than python-multipart takes: 400
            assert_json_error(r.status_code, dict(r.headers), r.content, {400})
            continue
        assert r.status_code == 200, (text[:40], r.text[:200])
        assert r.headers["content-disposition"] == 'inline; filename="segmented.png"'
    after = {path: path.exists() for path in _candidates(workdir)}
    assert after == before, "a file appeared where a hostile file name points"
    assert list((workdir / "cwd").iterdir()) == [], "the server wrote into its working directory"
    assert list((workdir / "tmp").iterdir()) == [], "the server spooled an upload to disk"
    healthy(server)


# --- more requests than the server serves at once ------------------------------------------------


def test_requests_past_the_servers_places_get_a_json_503_and_health_checks_answer(tmp_path):
    """Uploads take their place when they arrive: two trickling in hold both (pool 1 + queue 1)."""
    env = {"KMSEG_POOL_SIZE": "1", "KMSEG_QUEUE_SIZE": "1", "KMSEG_READ_TIMEOUT": "3", "KMSEG_RETRY_AFTER": "4"}
    with running_server(tmp_path, env) as srv:
        body = multipart(_IMAGE)
        request = http_request(body, "multipart/form-data; boundary=bnd")
        head_size = request.index(b"\r\n\r\n") + 4
        with ThreadPoolExecutor(2) as pool:
            # Two uploads that trickle in hold both places until the read timeout.
            slow = [
                pool.submit(raw_exchange, srv.port, request, timeout=15, send_pace=(1, 0.5), paced_from=head_size)
                for _ in range(2)
            ]
            time.sleep(0.8)
            r = httpx.post(srv.url + "/api/palette", files={"image": ("s.jpg", SMALL, "image/jpeg")}, timeout=10)
            assert_json_error(r.status_code, dict(r.headers), r.content, {503})
            assert r.headers["retry-after"] == "4" and r.json()["error"]["code"] == "busy"
            assert httpx.get(srv.url + "/healthz", timeout=2).status_code == 200  # not counted
            answers = [f.result() for f in slow]
        assert [a.status for a in answers] == [408, 408]
        healthy(srv)
