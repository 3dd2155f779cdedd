"""Requests per second and latency of the HTTP service, through a real server.

Starts ``python -m kmseg.api`` on a free 127.0.0.1 port, then for a 0.3 MP and
a 2 MP photograph (scikit-learn's china.jpg, resized) at K=8 sends requests to
POST /api/segment one at a time and N at a time, and prints a Markdown table
of requests per second and p50/p95 latency.

    python benchmarks/bench_api.py [--requests 30] [--concurrency 4] [--executor thread|process]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SIZES = {"0.3 MP": (671, 447), "2 MP": (1732, 1155)}


def photo(size: tuple[int, int]) -> bytes:
    from sklearn.datasets import load_sample_image

    image = Image.fromarray(load_sample_image("china.jpg")).resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, env: dict[str, str], workers: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "kmseg.api",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=REPO
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not start")


def run(url: str, data: bytes, count: int, concurrency: int) -> dict[str, float]:
    def one(client: httpx.Client) -> tuple[int, float]:
        start = time.perf_counter()
        r = client.post(url + "/api/segment", files={"image": ("i.jpg", data, "image/jpeg")}, data={"k": "8"})
        return r.status_code, time.perf_counter() - start

    limits = httpx.Limits(max_connections=concurrency)
    with httpx.Client(timeout=120, limits=limits) as client, ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: one(client), range(min(concurrency, 4))))  # warm up
        start = time.perf_counter()
        results = list(pool.map(lambda _: one(client), range(count)))
        wall = time.perf_counter() - start
    latencies = np.array([seconds for status, seconds in results])
    failures = sum(status != 200 for status, _ in results)
    return {
        "rps": count / wall,
        "p50": float(np.percentile(latencies, 50)),
        "p95": float(np.percentile(latencies, 95)),
        "failures": failures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=30, help="requests per measurement (default 30)")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="requests in flight in the concurrent runs"
    )
    parser.add_argument(
        "--executor", choices=("thread", "process"), default=None, help="the server's pool kind"
    )
    parser.add_argument("--pool-size", type=int, default=None, help="the server's pool size")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    args = parser.parse_args()

    env = {"KMSEG_PROCESSING_TIMEOUT": "120", "KMSEG_QUEUE_SIZE": str(max(16, args.concurrency))}
    if args.executor:
        env["KMSEG_EXECUTOR"] = args.executor
    if args.pool_size:
        env["KMSEG_POOL_SIZE"] = str(args.pool_size)
    images = {name: photo(size) for name, size in SIZES.items()}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        process = start_server(port, env, args.workers, Path(tmp) / "server.log")
        url = f"http://127.0.0.1:{port}"
        try:
            health = httpx.get(url + "/healthz").json()
            rows = []
            for name, data in images.items():
                for concurrency in (1, args.concurrency):
                    result = run(url, data, args.requests, concurrency)
                    rows.append((name, concurrency, result))
        finally:
            process.terminate()
            process.wait(10)
    print(
        f"kmseg HTTP API, POST /api/segment, K=8, PNG out; {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, executor={args.executor or 'default'}, "
        f"pool {health['pool_size']}, server workers {args.workers}, {args.requests} requests per row, "
        f"load average before the run {load:.1f}"
    )
    print()
    print("| image | in flight | req/s | p50 (s) | p95 (s) | failures |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, concurrency, r in rows:
        print(
            f"| {name} | {concurrency} | {r['rps']:.2f} | {r['p50']:.3f} | {r['p95']:.3f} | {r['failures']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
