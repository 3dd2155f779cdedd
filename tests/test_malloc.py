"""kmseg._malloc: a long-running process's memory does not creep up.

Threads allocating and freeing images of a few megabytes (what the HTTP
service's and the web app's threads do) keep nothing once
``return_large_blocks()`` has fixed glibc's mmap threshold; with glibc's
default (a threshold that rises) the same work keeps well over 100 MB.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """
import sys, threading
import numpy as np
from kmseg import _malloc
if sys.argv[1] == "fixed":
    assert _malloc.return_large_blocks()
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
def work(i):
    keep = []
    for n in range(12):
        keep.append(np.ones((3 + (n * 7 + i) % 13) << 20, dtype=np.uint8))  # 3-15 MB, mixed sizes
        if len(keep) > 3:
            keep.pop(0)
start = rss()
for _ in range(3):
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
print(rss() - start)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_freed_images_go_back_to_the_system():
    kept = {}
    for mode in ("fixed", "default"):
        # A clean environment: a MALLOC_*_ variable (Dask's tests leave MALLOC_TRIM_THRESHOLD_) fixes the
        # threshold too.
        out = subprocess.run([sys.executable, "-c", CODE, mode], capture_output=True, text=True, check=True,
                             timeout=120, env={"PATH": "/usr/bin:/bin"})
        kept[mode] = float(out.stdout)
    assert kept["fixed"] < 20, kept  # megabytes still resident after the work
    assert kept["default"] > kept["fixed"] + 50, kept  # what the fix is for
