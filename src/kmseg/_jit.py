"""When to use the compiled passes of :mod:`kmseg._kernels` (Numba).

Compiling them costs a few seconds once per installation (the result is
cached on disk) and importing Numba costs a few tenths of a second in every
process, so small problems stay on the NumPy code, which is fast enough
there, and a process that only handles small images never imports Numba.

The environment variable ``KMSEG_JIT`` overrides the choice: ``0`` never
compiles, ``1`` always does (when Numba is installed), ``auto`` (default)
decides by size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Distinct colours (or points) from which the compiled passes are used.
COMPILED_FROM_POINTS = 150_000
#: Pixels from which the per-pixel passes are compiled.
COMPILED_FROM_PIXELS = 3_000_000
#: Points times clusters from which a fit on points (spatial segmentation) is compiled.
COMPILED_FROM_WORK = 2_000_000


def _mode() -> str:
    mode = os.environ.get("KMSEG_JIT", "auto").strip().lower()
    return {"0": "off", "false": "off", "no": "off", "1": "on", "true": "on", "yes": "on"}.get(mode, mode)


def kernels(size: int, threshold: int = COMPILED_FROM_POINTS) -> ModuleType | None:
    """The compiled kernels module when a pass over ``size`` items should use
    it, else None (NumPy code)."""
    mode = _mode()
    if mode == "off" or (mode != "on" and size < threshold):
        return None
    try:
        from . import _kernels
    except ImportError:  # Numba not installed: the NumPy code does the same work
        return None
    return _kernels


def warm_up() -> bool:
    """Load every compiled pass now (compiling it the first time on a machine).

    ``make`` runs it after installing (``python -c "import kmseg._jit as j;
    j.warm_up()"``) so that the first large image does not wait for
    compilation, and the web app and HTTP service run it in the background
    at start (:func:`warm_up_in_background`). Changes no result: which passes
    an image takes depends only on its size. Returns False when Numba is
    missing or ``KMSEG_JIT=0``.
    """
    module = None if _mode() == "off" else kernels(0, 0)
    if module is None:
        return False
    module.preload()
    return True


def warm_up_in_background() -> None:
    """:func:`warm_up` in a daemon thread: for servers, so that their first
    large image does not wait for Numba's start-up (about half a second)."""
    import threading

    def run() -> None:
        try:
            warm_up()
        except Exception:  # noqa: BLE001 - a failed warm-up only means the first large image waits
            pass

    threading.Thread(target=run, name="kmseg-warm-up", daemon=True).start()


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
    keep their order, so they do not depend on the number of threads."""
    n = min(threads(), len(items))
    if n <= 1:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(n, thread_name_prefix="kmseg") as pool:
        return list(pool.map(fn, items))
