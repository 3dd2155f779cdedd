"""Helpers of the HTTP service tests: images, raw ASGI calls, a real server process."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import os
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=None)
def _sample(name: str) -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return load_sample_image(name)


def photo(name: str = "china.jpg", size: tuple[int, int] | None = None) -> np.ndarray:
    """One of scikit-learn's sample photographs (427 x 640), resized if asked."""
    array = _sample(name)
    if size is None:
        return array.copy()
    return np.asarray(Image.fromarray(array).resize(size, Image.Resampling.BILINEAR))


def encode(image: np.ndarray | Image.Image, fmt: str = "PNG", **kw: Any) -> bytes:
    im = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


@functools.lru_cache(maxsize=None)
def photo_bytes(name: str = "china.jpg", size: tuple[int, int] | None = None, fmt: str = "JPEG") -> bytes:
    """A sample photograph encoded as ``fmt`` (JPEG at quality 90 by default)."""
    kw = {"quality": 90} if fmt == "JPEG" else {}
    return encode(photo(name, size), fmt, **kw)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` but whose data is tiny (a pixel bomb)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")
        )

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def multipart(
    fields: dict[str, str], file_bytes: bytes, boundary: str = "kmsegboundary"
) -> tuple[bytes, str]:
    """A multipart/form-data body with ``image`` = ``file_bytes`` and text ``fields``."""
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + file_bytes
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass
class RawResult:
    status: int
    headers: dict[str, str]
    body: bytes
    chunks_read: int


def call_asgi(
    app: Any,
    chunks: list[bytes],
    *,
    path: str = "/api/segment",
    headers: list[tuple[bytes, bytes]] | None = None,
    delay: float = 0.0,
    stall_after: int | None = None,
) -> RawResult:
    """Call ``app`` directly as ASGI, feeding the body in ``chunks`` (no lifespan).

    ``delay`` sleeps before each chunk; ``stall_after`` makes receive() hang
    after that many chunks (a client that stops sending).
    """

    async def run() -> RawResult:
        read = 0
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            nonlocal read
            if stall_after is not None and read >= stall_after:
                await asyncio.sleep(3600)
            if read >= len(chunks):
                await asyncio.sleep(3600)  # the body is over; wait for a disconnect
            await asyncio.sleep(delay)
            chunk = chunks[read]
            read += 1
            return {"type": "http.request", "body": chunk, "more_body": read < len(chunks)}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"localhost"), *(headers or [])],
            "client": ("127.0.0.1", 1234),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        await asyncio.wait_for(app(scope, receive, send), 30)
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        hdrs = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        return RawResult(start["status"], hdrs, body, read)

    return asyncio.run(run())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def running_server(
    tmp_path: Path,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
    command: tuple[str, ...] = ("-m", "kmseg.api"),
    cwd: Path | None = None,
) -> Iterator[Server]:
    """Start ``python -m kmseg.api`` (or ``command``) on a free 127.0.0.1 port; stop it afterwards.

    ``cwd`` is the server's working directory (the repository by default).
    """
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    full_env = {**os.environ, **(env or {})}
    for key in [k for k in full_env if k.startswith("KMSEG_")]:
        if key not in (env or {}):
            del full_env[key]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *command, "--host", "127.0.0.1", "--port", str(port), *(args or [])],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd or REPO,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start in 30 s:\n{log.read_text()}")
            time.sleep(0.1)
        yield Server(url, port, process, log)
    finally:
        died = process.poll()
        text = log.read_text(errors="replace") if log.exists() else ""
        if died is not None or "Traceback" in text:
            # Shown with the failing test's output: why the server answered as it did.
            print(f"\n--- server log {log} (exit code {died}) ---\n{text[-6000:]}")
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


class PeakMemory:
    """Sample a process's resident memory every 10 ms while in the ``with`` block.

    ``baseline`` is the RSS when the block starts, ``peak`` the highest seen;
    ``growth`` is ``peak - baseline`` in bytes.
    """

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.baseline = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def _watch(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        self.baseline = self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


@dataclass
class RawAnswer:
    """An HTTP answer read from a raw socket (``status`` 0: closed without an answer)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    seconds: float

    def header(self, name: str, default: str = "") -> str:
        found = [v for k, v in self.headers if k.lower() == name.lower()]
        return found[0] if found else default


def raw_exchange(
    port: int,
    request: bytes,
    *,
    timeout: float = 15.0,
    send_pace: tuple[int, float] | None = None,
    paced_from: int = 0,
) -> RawAnswer:
    """Send ``request`` bytes on a new socket and read one answer.

    The request is sent from a thread (the server may answer and close before
    all is sent; send errors are ignored). ``send_pace=(n, seconds)`` sends
    ``n`` bytes then sleeps ``seconds``, over and over (a slow client), after
    sending the first ``paced_from`` bytes at once. Reading
    stops when the answer is complete (by Content-Length), the connection
    closes, or ``timeout`` passes.
    """
    start = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    stop = threading.Event()

    def send() -> None:
        try:
            if send_pace is None:
                sock.sendall(request)
                return
            n, pause = send_pace
            sock.sendall(request[:paced_from])
            for i in range(paced_from, len(request), n):
                if stop.is_set():
                    return
                sock.sendall(request[i : i + n])
                time.sleep(pause)
        except OSError:
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    data = b""
    try:
        while time.monotonic() - start < timeout:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError, OSError):
                break
            if not chunk:
                break
            data += chunk
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                lengths = [
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")[1:]
                    if line.lower().startswith(b"content-length:")
                ]
                if lengths and len(rest) >= lengths[0]:
                    break
    finally:
        stop.set()
        sock.close()
        sender.join(5)
    seconds = time.monotonic() - start
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not data or not lines[0].startswith(b"HTTP/"):
        return RawAnswer(0, [], data, seconds)
    status = int(lines[0].split()[1])
    headers = []
    for line in lines[1:]:
        key, _, value = line.decode("latin-1").partition(":")
        headers.append((key.strip(), value.strip()))
    length = [int(v) for k, v in headers if k.lower() == "content-length"]
    if length:  # one recv may also hold the start of an answer to bytes sent after this request
        body = body[: length[0]]
    return RawAnswer(status, headers, body, seconds)
