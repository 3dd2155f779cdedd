"""Threads for the compiled passes, which release the GIL.

``KMSEG_THREADS`` sets how many threads the passes of one image may use
(batch workers get 1); by default the cores this process may use, at most 4.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def threads() -> int:
    """Threads the compiled passes may run at once: ``KMSEG_THREADS`` if set
    (batch workers get 1), else the cores this process may use, at most 4."""
    value = os.environ.get("KMSEG_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def parallel_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(x) for x in items]``, on :func:`threads` threads. For calls that
    spend their time in compiled passes (they release the GIL); the results
    keep their order, so they do not depend on the number of threads. Each
    call runs in a copy of the caller's context (its deadline included)."""
    n = min(threads(), len(items))
    if n <= 1:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    contexts = [contextvars.copy_context() for _ in items]
    with ThreadPoolExecutor(n, thread_name_prefix="kmseg") as pool:
        return list(pool.map(lambda pair: pair[0].run(fn, pair[1]), zip(contexts, items)))
