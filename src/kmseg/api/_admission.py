"""Admission: the one limit on work in progress, and the pool the work runs in.

Every upload request (a ``POST``) takes a place from :class:`Admission` when
it arrives, before its body is read, and gives it back when its answer is
sent; with every place taken the request is answered 503 + ``Retry-After``
at once, its body unread. ``pool_size`` places run in the pool, the others
wait for it (reading their body included); so the places bound the memory
held by uploads and the work queued, and ``/healthz`` and the pages stay
answered however busy the server is. A job past its time limit cannot be
stopped from outside: it keeps a place of its own until it ends, so the count
always bounds the real work.
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

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kmseg.api._errors import ApiError, error_response

__all__ = ["Admission", "AdmissionMiddleware"]

T = TypeVar("T")
ExecutorKind = Literal["thread", "process"]


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def _init_worker(parent: int) -> None:
    """Set up a worker process: import the library, and end with the server (even if it is killed)."""
    import kmseg  # noqa: F401

    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


class Admission:
    """Places for requests in progress, and the pool their jobs run in.

    Parameters
    ----------
    workers : int
        Jobs running at once (threads or processes).
    queue_size : int
        Requests admitted beyond ``workers``: they read their body or wait.
    retry_after : int
        Seconds advertised in the ``Retry-After`` header of a refusal.
    kind : {"thread", "process"}
        Threads share the server's memory and start at once; processes run
        the GIL-holding parts of the work in parallel too (functions and
        results must then be picklable).
    """

    def __init__(self, workers: int, queue_size: int, retry_after: int, kind: ExecutorKind = "thread") -> None:
        self.workers = workers
        self.queue_size = queue_size
        self.retry_after = retry_after
        self.kind = kind
        self._lock = threading.Lock()
        self._taken = 0
        self._executor: Executor | None = None

    @property
    def capacity(self) -> int:
        """Places: requests in progress at once (running, waiting or reading)."""
        return self.workers + self.queue_size

    @property
    def in_progress(self) -> int:
        """Places taken now (requests in progress, and jobs that outlived their request)."""
        with self._lock:
            return self._taken

    def busy_error(self) -> ApiError:
        """The 503 a request gets when every place is taken."""
        return ApiError(
            503,
            f"the server is busy ({self.capacity} requests in progress); retry in {self.retry_after} s",
            code="busy",
            headers={"Retry-After": str(self.retry_after)},
        )

    def try_take(self) -> bool:
        """Take a place if one is free."""
        with self._lock:
            if self._taken >= self.capacity:
                return False
            self._taken += 1
            return True

    def give_back(self, *_: Any) -> None:
        """Free a place."""
        with self._lock:
            self._taken -= 1

    def start(self) -> None:
        """Create the pool (and its worker processes' first import)."""
        with self._lock:
            if self._executor is None:
                self._executor = self._new_executor()

    def _new_executor(self) -> Executor:
        if self.kind == "process":
            return ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(os.getpid(),),
            )
        return ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="kmseg-worker")

    def shutdown(self) -> None:
        """Drop waiting jobs; running ones end in the background (threads) or are waited for (processes)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=self.kind == "process", cancel_futures=True)

    def _drop_broken(self, broken: Executor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    async def run(self, func: Callable[..., T], *args: Any, timeout: float) -> T:
        """Run ``func(*args)`` in the pool for an admitted request and wait for its result.

        Raises
        ------
        TimeoutError
            When the job has not finished within ``timeout`` seconds (waiting
            included); a job already running keeps a place until it ends.
        ApiError
            503 when a worker process died (the pool is rebuilt for the next job).
        """
        self.start()
        with self._lock:
            executor = self._executor
        assert executor is not None
        try:
            future: Future[T] = executor.submit(func, *args)
        except RuntimeError:  # a broken pool, or one shut down under us
            self._drop_broken(executor)
            raise self.busy_error() from None
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            if not future.cancel():  # running: it holds a place of its own until it ends
                with self._lock:
                    self._taken += 1
                future.add_done_callback(self.give_back)
            raise
        except BrokenProcessPool:
            self._drop_broken(executor)
            raise self.busy_error() from None


class AdmissionMiddleware:
    """Admit each ``POST`` against :class:`Admission` before its body is read; 503 when full."""

    def __init__(self, app: ASGIApp, *, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if not self.admission.try_take():
            await error_response(self.admission.busy_error())(scope, receive, send)
            return
        given_back = False

        async def send_then_free(message: Message) -> None:
            nonlocal given_back
            # Free the place before the answer's last byte leaves: a client that sends its
            # next request as soon as it has the answer finds the place free.
            if message["type"] == "http.response.body" and not message.get("more_body") and not given_back:
                given_back = True
                self.admission.give_back()
            await send(message)

        try:
            await self.app(scope, receive, send_then_free)
        finally:
            if not given_back:
                self.admission.give_back()
