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
    """Compile (or load from the disk cache) every compiled pass now.

    Runs one small segmentation with the compiled passes forced on, so the
    first large image a user gives does not wait for compilation. Meant for a
    process of its own (``make`` runs it after installing:
    ``python -c "import kmseg._jit as j; j.warm_up()"``): it sets ``KMSEG_JIT``
    for the duration. Returns False when Numba is missing or ``KMSEG_JIT=0``.
    """
    if _mode() == "off" or kernels(0, 0) is None:
        return False
    import numpy as np

    from ._segment import segment

    saved = os.environ.get("KMSEG_JIT")
    os.environ["KMSEG_JIT"] = "1"
    try:
        rng = np.random.default_rng(0)
        rgb = rng.integers(0, 256, (1024, 1024, 3), dtype=np.uint8)  # >= 1 MP: the histogram passes
        segment(rgb, 8, seed=0, max_iter=5)
        rgba = np.dstack([rgb, rng.integers(0, 2, (1024, 1024), dtype=np.uint8) * 255])  # alpha
        segment(rgba, 8, seed=0, max_iter=5)
    finally:
        if saved is None:
            del os.environ["KMSEG_JIT"]
        else:
            os.environ["KMSEG_JIT"] = saved
    return True



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
