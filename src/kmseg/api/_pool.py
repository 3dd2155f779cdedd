"""A bounded pool for the CPU work: a few threads and a short queue, never a pile-up.

Decoding, clustering and encoding run in a :class:`~concurrent.futures.ThreadPoolExecutor`
(NumPy and Pillow release the GIL in their heavy loops), off the event loop. At
most ``workers + queue_size`` jobs are admitted; past that :meth:`WorkerPool.run`
raises :class:`PoolBusy` at once, and a job that has not finished within the
time limit raises :class:`PoolTimeout`. A job still waiting is then cancelled; a
job already running cannot be stopped from outside, so it keeps its place in the
count until it ends: the count of admitted jobs always bounds the real work.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["PoolBusy", "PoolTimeout", "WorkerPool"]

T = TypeVar("T")


class PoolBusy(Exception):
    """Every worker is busy and the queue is full."""


class PoolTimeout(Exception):
    """The job did not finish within the time limit."""


class WorkerPool:
    """Run blocking functions in a bounded thread pool.

    Parameters
    ----------
    workers : int
        Threads running jobs at once.
    queue_size : int
        Jobs that may wait for a thread.
    """

    def __init__(self, workers: int, queue_size: int) -> None:
        self.workers = workers
        self.queue_size = queue_size
        self._lock = threading.Lock()
        self._admitted = 0
        self._executor: ThreadPoolExecutor | None = None

    @property
    def capacity(self) -> int:
        """Jobs admitted at once (running plus waiting)."""
        return self.workers + self.queue_size

    @property
    def admitted(self) -> int:
        """Jobs admitted and not yet finished (running or waiting)."""
        with self._lock:
            return self._admitted

    def start(self) -> None:
        """Create the threads' executor (done lazily by :meth:`run` too)."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.workers, thread_name_prefix="kmseg-worker"
                )

    def shutdown(self) -> None:
        """Drop waiting jobs and let running ones end in the background."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _release(self, _future: Future[Any]) -> None:
        with self._lock:
            self._admitted -= 1

    async def run(self, func: Callable[..., T], *args: Any, timeout: float) -> T:
        """Run ``func(*args)`` in the pool and wait for its result.

        Raises
        ------
        PoolBusy
            When ``capacity`` jobs are already admitted.
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
