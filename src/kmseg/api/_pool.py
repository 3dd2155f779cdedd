"""A bounded pool for the CPU work: a few workers and a short queue, never a pile-up.

Decoding, clustering and encoding run off the event loop, in threads (NumPy and
Pillow release the GIL in their heavy loops) or in worker processes (for the
parts of the clustering that hold the GIL). At most ``workers + queue_size``
jobs are admitted; past that :meth:`WorkerPool.run` raises :class:`PoolBusy`
at once, and a job that has not finished within the time limit raises
:class:`PoolTimeout`. A job still waiting is then cancelled; a job already
running cannot be stopped from outside, so it keeps its place in the count
until it ends: the count of admitted jobs always bounds the real work.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal, TypeVar

__all__ = ["PoolBusy", "PoolTimeout", "WorkerPool"]

T = TypeVar("T")
ExecutorKind = Literal["thread", "process"]


class PoolBusy(Exception):
    """Every worker is busy and the queue is full (or the pool is restarting)."""


class PoolTimeout(Exception):
    """The job did not finish within the time limit."""


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def _init_worker(parent: int) -> None:
    """Set up a worker process: import the library, and end with the server.

    A watchdog thread ends the worker as soon as the server process is gone,
    however it went (even killed), so no worker outlives it.
    """
    import kmseg  # noqa: F401

    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _ready() -> None:
    """Nothing: submitted to start a worker process."""


class WorkerPool:
    """Run blocking functions in a bounded pool of threads or processes.

    Parameters
    ----------
    workers : int
        Jobs running at once.
    queue_size : int
        Jobs that may wait for a worker.
    kind : {"thread", "process"}
        Threads share the server's memory and start at once; processes run
        the GIL-holding parts of the work in parallel too. Functions and
        results must be picklable for processes.
    """

    def __init__(self, workers: int, queue_size: int, kind: ExecutorKind = "thread") -> None:
        self.workers = workers
        self.queue_size = queue_size
        self.kind = kind
        self._lock = threading.Lock()
        self._admitted = 0
        self._executor: Executor | None = None

    @property
    def capacity(self) -> int:
        """Jobs admitted at once (running plus waiting)."""
        return self.workers + self.queue_size

    @property
    def admitted(self) -> int:
        """Jobs admitted and not yet finished (running or waiting)."""
        with self._lock:
            return self._admitted

    def _new_executor(self) -> Executor:
        if self.kind == "process":
            return ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(os.getpid(),),
            )
        return ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="kmseg-worker")

    def start(self) -> None:
        """Create the executor (done lazily by :meth:`run` too)."""
        with self._lock:
            if self._executor is None:
                self._executor = self._new_executor()

    def start_workers(self) -> None:
        """Create the executor and start every worker process now (each
        imports kmseg), so the first requests do not wait for that."""
        self.start()
        if self.kind != "process":
            return
        with self._lock:
            executor = self._executor
        if executor is not None:
            for _ in range(self.workers):
                executor.submit(_ready)

    def shutdown(self) -> None:
        """Drop waiting jobs; running ones end in the background (threads) or are waited for (processes)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            # Worker processes get their stop signal only if we wait; a running job
            # finishes first (and the workers' watchdog covers a server that is killed).
            executor.shutdown(wait=self.kind == "process", cancel_futures=True)

    def _release(self, _future: Future[Any]) -> None:
        with self._lock:
            self._admitted -= 1

    def _replace_broken(self, broken: Executor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    async def run(self, func: Callable[..., T], *args: Any, timeout: float) -> T:
        """Run ``func(*args)`` in the pool and wait for its result.

        Raises
        ------
        PoolBusy
            When ``capacity`` jobs are already admitted, or a worker process
            died (the pool is then rebuilt for the next job).
        PoolTimeout
            When the job has not finished within ``timeout`` seconds
            (waiting included).
        """
        self.start()
        with self._lock:
            if self._admitted >= self.capacity:
                raise PoolBusy
            self._admitted += 1
            executor = self._executor
        assert executor is not None
        try:
            future = executor.submit(func, *args)
        except (BrokenProcessPool, RuntimeError):
            with self._lock:
                self._admitted -= 1
            self._replace_broken(executor)
            raise PoolBusy from None
        except BaseException:
            with self._lock:
                self._admitted -= 1
            raise
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            future.cancel()
            raise PoolTimeout from None
        except BrokenProcessPool:
            self._replace_broken(executor)
            raise PoolBusy from None
