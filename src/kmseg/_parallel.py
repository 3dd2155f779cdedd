"""Threads for the compiled passes, which release the GIL.

``KMSEG_THREADS`` sets how many threads the passes of one image may use
(batch workers get 1); by default the cores this process may use, at most 4.
Work too small to repay starting threads runs on the calling thread: in a
:func:`serial` block, every :func:`parallel_map` does.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_SERIAL: contextvars.ContextVar[bool] = contextvars.ContextVar("kmseg_serial", default=False)


def threads() -> int:
    """Threads the compiled passes may run at once: 1 in a :func:`serial`
    block, else ``KMSEG_THREADS`` if set (batch workers get 1), else the
    cores this process may use, at most 4."""
    if _SERIAL.get():
        return 1
    value = os.environ.get("KMSEG_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


@contextlib.contextmanager
def serial(when: bool = True) -> Iterator[None]:
    """Within the block (if ``when``), :func:`threads` is 1 and
    :func:`parallel_map` runs its calls one after the other on the calling
    thread: for work of a few milliseconds, which starting threads and
    handing them the calls would only slow down. Results do not depend on
    it (they never depend on the number of threads)."""
    if not when:
        yield
        return
    token = _SERIAL.set(True)
    try:
        yield
    finally:
        _SERIAL.reset(token)


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
