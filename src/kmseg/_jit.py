"""When and which compiled passes to use: the C library or Numba.

The compiled passes (the same functions in :mod:`kmseg._ckernels`, C built
at install, and :mod:`kmseg._kernels`, Numba; bit for bit the same results)
take over from the NumPy code. Where the C library was built it loads in a
millisecond and runs every problem, small ones included (a 0.27 MP photo at
K=16: 0.06 s against 0.19 s on NumPy). Otherwise Numba compiles the passes
once per installation (cached on disk) and costs a few tenths of a second to
start in every process, so only large problems take them and small ones
stay on the NumPy code. Which path a problem takes depends only on its size
and on which passes are installed, so a seed repeats exactly on one
installation (the NumPy and compiled paths agree closely, not bit for bit).

Environment variables: ``KMSEG_JIT`` ``0`` never uses the compiled passes,
``1`` always does, ``auto`` (default) decides by the problem's size (pixels,
distinct colours, colours x K). ``KMSEG_KERNELS`` ``c`` or ``numba`` picks
one implementation (the NumPy code if it is missing), ``auto`` (default) the
C library, else Numba.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Distinct colours (or points) from which Numba's passes are used (the C library's: always).
COMPILED_FROM_POINTS = 150_000
#: Pixels from which Numba's per-pixel passes are used.
COMPILED_FROM_PIXELS = 3_000_000
#: Points times clusters from which a fit takes Numba's passes (colours x K,
#: or the points of spatial segmentation x clusters): past it the NumPy fit
#: takes longer than Numba's start-up in a new process.
COMPILED_FROM_WORK = 2_000_000


def _mode() -> str:
    mode = os.environ.get("KMSEG_JIT", "auto").strip().lower()
    return {"0": "off", "false": "off", "no": "off", "1": "on", "true": "on", "yes": "on"}.get(mode, mode)


def kernels(size: int, threshold: int = COMPILED_FROM_POINTS) -> ModuleType | None:
    """The compiled passes (a module) when a pass over ``size`` items should
    use them, else None (NumPy code): the C library for every size, Numba
    from ``threshold`` items."""
    mode = _mode()
    if mode == "off":
        return None
    if mode == "on" or size >= threshold:
        return compiled()
    # A small problem: the C library if it is the one in use; Numba's start-up costs more than it gains.
    return compiled("c") if _choice() in ("auto", "c") else None


def compiled(choice: str | None = None) -> ModuleType | None:
    """The compiled passes: ``choice`` (default ``KMSEG_KERNELS``) ``"c"``,
    ``"numba"`` or ``"auto"`` (the C library, else Numba); None when the
    chosen one is not installed."""
    choice = choice.strip().lower() if choice else _choice()
    if choice not in _loaded:
        module = None
        if choice in ("auto", "c"):
            module = _load_c()
        if module is None and choice in ("auto", "numba"):
            module = _load_numba()
        _loaded[choice] = module
    return _loaded[choice]


_loaded: dict[str, ModuleType | None] = {}


def _choice() -> str:
    return os.environ.get("KMSEG_KERNELS", "auto").strip().lower()


def _load_c() -> ModuleType | None:
    try:
        from . import _ckernels
    except ImportError:  # not built: no C compiler at install
        return None
    return _ckernels


def _load_numba() -> ModuleType | None:
    try:
        if _lean and "kmseg._kernels" not in sys.modules:
            with _without_scipy_blas():
                import numpy as np

                from . import _kernels

                _kernels.nonzero_counts(np.zeros(1, dtype=np.uint32))  # Numba's start-up, now
        from . import _kernels
    except ImportError:  # Numba not installed: the NumPy code does the same work
        return None
    return _kernels


def fit_kernels(n_points: int, k: int) -> ModuleType | None:
    """The compiled passes for a k-means fit of ``n_points`` points (distinct
    colours) into ``k`` clusters, else None: the C library always; Numba from
    :data:`COMPILED_FROM_POINTS` points, or from :data:`COMPILED_FROM_WORK`
    points x clusters. Depends on nothing else, so a seed repeats exactly."""
    if n_points * k >= COMPILED_FROM_WORK:
        return kernels(n_points, 0)
    return kernels(n_points)


def lean_process() -> None:
    """Declare that this process runs only kmseg (the ``kmseg`` command does):
    Numba then starts without SciPy's BLAS bindings, which it imports at
    start-up (about 0.3 s when SciPy is installed) for array functions that
    kmseg's passes never call. Other Numba code in such a process would run
    ``np.dot`` in ``np.correlate`` and ``np.convolve`` as plain loops."""
    global _lean
    _lean = True


_lean = False


@contextlib.contextmanager
def _without_scipy_blas() -> Iterator[None]:
    name = "scipy.linalg.cython_blas"
    if name in sys.modules:  # imported already: nothing to save
        yield
        return
    sys.modules[name] = None  # type: ignore[assignment]  # makes its import fail at once
    try:
        yield
    finally:
        if name in sys.modules and sys.modules[name] is None:
            del sys.modules[name]


def warm_up() -> bool:
    """Load every compiled pass now (Numba compiles them the first time on a
    machine; the C library's are ready at once).

    ``make`` runs it after installing (``python -c "import kmseg._jit as j;
    j.warm_up()"``) so that the first large image does not wait for
    compilation; the web app and HTTP service run it in the background at
    start, the ``kmseg`` command while a large image decodes
    (:func:`warm_up_in_background`). Changes no result: which passes an
    image takes depends only on its size and K. Returns False when neither
    the C library nor Numba is installed, or with ``KMSEG_JIT=0``.
    """
    module = None if _mode() == "off" else kernels(0, 0)
    if module is None:
        return False
    if module is not compiled("c"):  # Numba's: load (or compile) every pass; the C library's are loaded
        from . import _tree

        _tree.preload(module)
    return True


def warm_up_quietly() -> bool:
    """:func:`warm_up`, any failure swallowed (False): a failed warm-up only
    means that the first large image waits. For background threads and the
    HTTP service's worker processes."""
    try:
        return warm_up()
    except Exception:  # noqa: BLE001
        return False


def warm_up_in_background() -> threading.Thread:
    """:func:`warm_up` in a daemon thread, which is returned: so that a
    server's first large image does not wait for Numba's start-up (about
    half a second), and so that the command line loads Numba while a large
    image decodes."""

    thread = threading.Thread(target=warm_up_quietly, name="kmseg-warm-up", daemon=True)
    thread.start()
    return thread


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
