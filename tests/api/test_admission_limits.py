"""The server's memory budget and per-client limit (a real server on 127.0.0.1).

* Memory is admitted, not hoped for: each job reserves the memory its image
  header says it needs against ``memory_budget``; concurrent large uploads
  wait for each other (or get 503 + Retry-After), the server's peak RSS stays
  under the budget plus a margin, and small requests still answer.
* One client (IP address) may hold at most ``max_per_client`` requests in
  progress; past it, 429 + Retry-After, while other clients are served.
"""

from __future__ import annotations

import functools
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from apitools import PeakMemory, encode, photo_bytes, running_server

psutil = pytest.importorskip("psutil")

pytestmark = pytest.mark.slow

MIB = 2**20
SMALL = photo_bytes(size=(96, 72))
BURST = 8
BUDGET_MB = 512
#: What the budget does not cover: the idle server's growth, the uploads held, allocator slack.
MARGIN = 150 * MIB


@functools.lru_cache(maxsize=None)
def large_png(side: int = 4000) -> bytes:
    """A 16 MP PNG of a few hundred colours in bands: small to send, large to decode (like the
    issue's 49 MP PNG of 180 KB, scaled down)."""
    y, x = np.indices((side, side), dtype=np.uint16)
    rgb = np.stack([(x // 16) % 256, (y // 16) % 256, ((x + y) // 64) % 256], axis=-1).astype(np.uint8)
    return encode(rgb, "PNG")


def _post(url: str, image: bytes, *, fields: dict[str, str] | None = None,
          client: httpx.Client | None = None, name: str = "i.png") -> httpx.Response:
    files = {"image": (name, image, "image/png" if name.endswith(".png") else "image/jpeg")}
    if client is not None:
        return client.post(url + "/api/palette", files=files, data=fields or {"k": "8"})
    return httpx.post(url + "/api/palette", files=files, data=fields or {"k": "8"}, timeout=120)


def test_concurrent_large_uploads_stay_within_the_memory_budget(tmp_path):
    env = {"KMSEG_POOL_SIZE": str(BURST), "KMSEG_QUEUE_SIZE": "8", "KMSEG_PROCESSING_TIMEOUT": "60",
           "KMSEG_MEMORY_BUDGET_MB": str(BUDGET_MB), "KMSEG_RETRY_AFTER": "2"}
    large = large_png()
    with running_server(tmp_path, env) as server:
        process = psutil.Process(server.process.pid)
        assert _post(server.url, SMALL, name="s.jpg").status_code == 200  # warm up: imports, pool
        idle = process.memory_info().rss
        with PeakMemory(server.process.pid) as memory, ThreadPoolExecutor(BURST + 1) as pool:
            burst = [pool.submit(_post, server.url, large) for _ in range(BURST)]
            time.sleep(0.5)
            small = pool.submit(_post, server.url, SMALL, name="s.jpg").result()
            answers = [f.result() for f in burst]
        time.sleep(1)
        after = process.memory_info().rss
        statuses = [r.status_code for r in answers]
        print(f"\n{BURST} x 16 MP at once, budget {BUDGET_MB} MiB: answers {sorted(statuses)}; server RSS "
              f"idle {idle / MIB:.0f} MiB, peak {memory.peak / MIB:.0f} MiB "
              f"(+{(memory.peak - idle) / MIB:.0f}), after {after / MIB:.0f} MiB")
        assert small.status_code == 200, small.text
        assert set(statuses) <= {200, 503} and 200 in statuses, [r.text[:200] for r in answers]
        for r in answers:
            if r.status_code == 503:
                assert r.headers["retry-after"] == "2" and r.json()["error"]["code"] == "busy"
        assert memory.peak - idle < BUDGET_MB * MIB + MARGIN
        assert httpx.get(server.url + "/healthz").json()["in_progress"] == 0


def test_a_job_larger_than_the_whole_budget_is_refused_with_413(tmp_path):
    env = {"KMSEG_MEMORY_BUDGET_MB": "64"}
    with running_server(tmp_path, env) as server:
        r = _post(server.url, large_png(2000))
        assert r.status_code == 413, r.text
        error = r.json()["error"]
        assert error["field"] == "image" and "memory budget of 64 MiB" in error["message"]
        assert _post(server.url, SMALL, name="s.jpg").status_code == 200


def test_one_client_holds_at_most_max_per_client_requests(tmp_path):
    env = {"KMSEG_POOL_SIZE": "4", "KMSEG_QUEUE_SIZE": "4", "KMSEG_MAX_PER_CLIENT": "2",
           "KMSEG_PROCESSING_TIMEOUT": "4", "KMSEG_RETRY_AFTER": "3"}
    heavy = {"k": "256", "max_iter": "10000"}
    image = photo_bytes(size=(1600, 1200))
    other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=60)
    with running_server(tmp_path, env) as server, other, ThreadPoolExecutor(2) as pool:
        holding = [pool.submit(_post, server.url, image, fields=heavy, name="i.jpg") for _ in range(2)]
        time.sleep(1.0)  # both admitted and running
        r = _post(server.url, SMALL, name="s.jpg")
        assert r.status_code == 429, r.text
        assert r.headers["retry-after"] == "3" and r.json()["error"]["code"] == "too_many_requests"
        # Another client (another loopback address) is served meanwhile.
        assert _post(server.url, SMALL, name="s.jpg", client=other).status_code == 200
        assert httpx.get(server.url + "/healthz").status_code == 200
        [f.result() for f in holding]
        assert _post(server.url, SMALL, name="s.jpg").status_code == 200  # its places are back
