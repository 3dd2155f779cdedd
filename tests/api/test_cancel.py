"""Work stops when its answer is no longer wanted (a real server on 127.0.0.1).

A request past the server's time limit, or whose client went away, has its
job's deadline cancelled: the job stops between its passes and frees its
worker at once, so the next small request is answered 200 instead of waiting
behind work nobody will read (on the old code it waited, and got 503 too).
"""

from __future__ import annotations

import functools
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

import httpx
import numpy as np
import pytest
from apitools import encode, photo, photo_bytes, running_server

pytestmark = pytest.mark.slow

TIME_LIMIT = 3  # the server's processing_timeout, seconds
SMALL = photo_bytes(size=(96, 72))
#: The heavy requests of issue 14, each running far past the time limit on the old code at
#: this size (min_region with k=256, so that it is long before the merging too).
HEAVY = [
    {"k": "256", "max_iter": "10000"},
    {"k": "256", "spatial_weight": "10", "fit_size": "2048", "max_iter": "10000"},
    {"k": "256", "max_iter": "10000", "min_region": "1000000"},
    {"k": "auto", "target_psnr": "60"},
]


@functools.lru_cache(maxsize=None)
def heavy_image() -> bytes:
    """A 3 MP photo with sensor-like noise (many distinct colours), as a PNG."""
    rgb = photo(size=(2048, 1536)).astype(np.float32)
    noisy = rgb + np.random.default_rng(0).normal(0, 3, rgb.shape).astype(np.float32)
    return encode(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), "PNG")


def _post(url: str, fields: dict[str, str], image: bytes, timeout: float = 120) -> httpx.Response:
    return httpx.post(url + "/api/palette", files={"image": ("i.png", image, "image/png")}, data=fields,
                      timeout=timeout)


def _in_progress_drops_to_zero(url: str, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if httpx.get(url + "/healthz", timeout=5).json()["in_progress"] == 0:
            return True
        time.sleep(0.05)
    return False


def test_heavy_requests_past_the_time_limit_free_their_workers(tmp_path):
    env = {"KMSEG_POOL_SIZE": "4", "KMSEG_QUEUE_SIZE": "8",
           "KMSEG_PROCESSING_TIMEOUT": str(TIME_LIMIT), "KMSEG_RETRY_AFTER": "1"}
    image = heavy_image()
    with running_server(tmp_path, env) as server, ThreadPoolExecutor(len(HEAVY)) as pool:
        answers = [pool.submit(_post, server.url, fields, image) for fields in HEAVY]
        first = next(as_completed(answers)).result()
        first_503 = time.monotonic()
        assert first.status_code == 503 and first.headers["retry-after"] == "1", first.text[:200]
        # A small request right after: a worker is free, it is answered within its own time limit.
        small = _post(server.url, {"k": "4"}, SMALL)
        since = time.monotonic() - first_503
        print(f"\nfour heavy requests: 503 at the {TIME_LIMIT} s limit; a small request then answered "
              f"{small.status_code} {since:.2f} s after the first 503")
        assert small.status_code == 200, small.text
        heavy = [f.result() for f in answers]
        assert [r.status_code for r in heavy] == [503] * len(HEAVY), [r.text[:200] for r in heavy]
        assert {r.json()["error"]["code"] for r in heavy} == {"timeout"}
        assert _in_progress_drops_to_zero(server.url, 10 * TIME_LIMIT)
        assert "Traceback" not in server.log.read_text()


def test_a_client_that_goes_away_frees_its_worker(tmp_path):
    # One worker and a long time limit: only the cancel on disconnect frees the worker in time.
    env = {"KMSEG_POOL_SIZE": "1", "KMSEG_QUEUE_SIZE": "4", "KMSEG_PROCESSING_TIMEOUT": "8"}
    with running_server(tmp_path, env) as server:
        with pytest.raises(httpx.ReadTimeout):  # the client gives up and closes its connection
            _post(server.url, HEAVY[0], heavy_image(), timeout=1.5)
        small = _post(server.url, {"k": "4"}, SMALL)
        assert small.status_code == 200, small.text
        assert _in_progress_drops_to_zero(server.url, 5)
        assert "Traceback" not in server.log.read_text()
