"""Run batches on a Dask cluster (the ``dask`` extra; imported only when asked).

:func:`dask_executor` opens a :class:`distributed.Client` on an existing
scheduler (``tcp://HOST:8786``) or on a :class:`distributed.LocalCluster`
started for the run (``"local"``), and yields the client's
:class:`concurrent.futures.Executor`, which :func:`kmseg.batch.run_jobs`
uses like the local process pool. Dask itself retries a task whose worker
died (up to ``distributed.scheduler.allowed-failures`` times, 3 by default).

Examples
--------
>>> from kmseg import batch
>>> from kmseg.batch.dask import dask_executor
>>> with dask_executor("local", workers=2) as (executor, dashboard):  # doctest: +SKIP
...     batch.segment_many(["photos/"], "out/", 8, executor=executor)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import Executor

__all__ = ["LOCAL_HOST", "DaskMissingError", "dask_executor"]

#: The address a ``"local"`` cluster (scheduler, workers, dashboard) listens on.
LOCAL_HOST = "127.0.0.1"


class DaskMissingError(ImportError):
    """``distributed`` is not installed."""


@contextlib.contextmanager
def dask_executor(address: str, *, workers: int | None = None) -> Iterator[tuple[Executor, str | None]]:
    """An executor on a Dask cluster, and the cluster's dashboard link.

    Parameters
    ----------
    address : str
        ``"local"`` starts a ``LocalCluster`` of ``workers`` single-threaded
        worker processes (default: one per core) for the duration of the
        block, listening on 127.0.0.1 only (its dashboard too); anything else is a scheduler address such as
        ``tcp://10.0.0.5:8786``.
    workers : int, optional
        Worker processes of a local cluster (ignored for a remote one).

    Yields
    ------
    executor : concurrent.futures.Executor
        ``client.get_executor(pure=False)``.
    dashboard : str or None
        The dashboard URL, when the cluster serves one.

    Raises
    ------
    DaskMissingError
        ``distributed`` is not installed (``pip install 'kmseg[dask]'``).
    OSError
        The scheduler cannot be reached.
    """
    try:
        import distributed
    except ImportError as exc:
        raise DaskMissingError(str(exc)) from exc

    with contextlib.ExitStack() as stack:
        if address == "local":
            import dask

            from kmseg.batch import default_jobs

            # Dask sets MALLOC_TRIM_THRESHOLD_ in its workers, which turns off glibc's
            # adaptive mmap threshold: every large NumPy array is then mmap'd and
            # page-faulted afresh, and k-means on a 1 MP image takes twice as long.
            environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
            environ.pop("MALLOC_TRIM_THRESHOLD_", None)
            environ.setdefault("KMSEG_THREADS", "1")  # one image per worker core: no threads within
            stack.enter_context(dask.config.set({"distributed.nanny.pre-spawn-environ": environ}))
            # Everything on the loopback address: the scheduler, the workers and the
            # dashboard (which Dask would otherwise open on every interface).
            with _sigint_held():
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=workers or default_jobs(), threads_per_worker=1, processes=True,
                    host=LOCAL_HOST, dashboard_address=f"{LOCAL_HOST}:0", silence_logs=50))
                client = stack.enter_context(distributed.Client(cluster))
        else:
            # Gives up after Dask's connect timeout (distributed.comm.timeouts.connect, 30 s).
            client = stack.enter_context(distributed.Client(address))
        link = client.dashboard_link if _has_dashboard(client) else None
        yield client.get_executor(pure=False), link


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold SIGINT back while a local cluster starts.

    A Ctrl-C in the middle of the start-up would reach the worker processes
    being spawned (each prints a traceback) and leave a half-made cluster
    whose clean-up prints more. Blocked here, the signal waits until the
    cluster is up, then interrupts this process cleanly (the cluster is
    closed on the way out). The threads and processes the cluster starts
    meanwhile inherit the blocked signal: its workers never see Ctrl-C,
    which this process handles for them.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    from multiprocessing import resource_tracker

    # Started now: starting it later (Dask's workers need it) unblocks SIGINT in the starting thread.
    resource_tracker.ensure_running()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)  # a Ctrl-C that came meanwhile is raised now


def _has_dashboard(client: object) -> bool:
    try:
        info = client.scheduler_info()  # type: ignore[attr-defined]
        return bool(info.get("services", {}).get("dashboard"))
    except Exception:  # a scheduler that answers oddly: no link, nothing worse
        return False
