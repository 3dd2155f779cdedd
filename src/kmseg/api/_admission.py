"""Admission: the one limit on work in progress, and the pool the work runs in.

Every upload request (a ``POST``) takes a place from :class:`Admission` when
it arrives, before its body is read, and gives it back when its answer is
sent; with every place taken the request is answered 503 + ``Retry-After``
at once, its body unread, and a client already holding ``max_per_client``
places is answered 429 + ``Retry-After``. ``pool_size`` places run in the
pool, the others wait for it (reading their body included); so the places
bound the memory held by uploads and the work queued, and ``/healthz`` and
the pages stay answered however busy the server is.

Each job also reserves the memory it is estimated to need (from the pixel
count its image header declares) against ``memory_budget`` before it
enters the pool; it waits (within its time limit) while the budget is used
by others, and the reservation is released when the job ends.

Each job runs under a :class:`kmseg.Deadline` of the request's time limit,
cancelled when the client goes away: the work stops between its passes,
within a second. Until it has stopped it keeps its place and its memory, so
the counts always bound the real work.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kmseg import Deadline
from kmseg.api._errors import ApiError, error_response

__all__ = ["Admission", "AdmissionMiddleware", "ClientGone"]

T = TypeVar("T")
ExecutorKind = Literal["thread", "process"]
_MIB = 1024 * 1024
#: How often a waiting request looks for a disconnected client or free memory.
_POLL_SECONDS = 0.1


def _release_free_memory() -> None:
    """Give the memory freed by finished jobs back to the system (glibc keeps the large
    blocks of its thread arenas otherwise, and the server's RSS stays at its peak)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc
        return None


_MALLOC_TRIM = _malloc_trim()


class ClientGone(Exception):
    """The client disconnected before its answer was ready; its job was cancelled."""


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
    memory_budget : int or None
        Bytes the jobs running or waiting in the pool may be estimated to
        use at once; None: no memory limit.
    max_per_client : int or None
        Places one client (IP address) may hold at once; None: no limit.
    """

    def __init__(self, workers: int, queue_size: int, retry_after: int, kind: ExecutorKind = "thread", *,
                 memory_budget: int | None = None, max_per_client: int | None = None) -> None:
        self.workers = workers
        self.queue_size = queue_size
        self.retry_after = retry_after
        self.kind = kind
        self.memory_budget = memory_budget
        self.max_per_client = max_per_client
        self._lock = threading.Lock()
        self._taken = 0
        self._by_client: dict[str, int] = {}
        self._memory = 0
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

    @property
    def memory_reserved(self) -> int:
        """Bytes reserved now by jobs waiting for or running in the pool."""
        with self._lock:
            return self._memory

    def busy_error(self) -> ApiError:
        """The 503 a request gets when every place is taken."""
        return ApiError(
            503,
            f"the server is busy ({self.capacity} requests in progress); retry in {self.retry_after} s",
            code="busy",
            headers={"Retry-After": str(self.retry_after)},
        )

    def client_error(self) -> ApiError:
        """The 429 a client gets when it holds ``max_per_client`` places already."""
        return ApiError(
            429,
            f"this client has {self.max_per_client} requests in progress, the most one client may have; "
            f"retry in {self.retry_after} s",
            code="too_many_requests",
            headers={"Retry-After": str(self.retry_after)},
        )

    def memory_error(self, nbytes: int) -> ApiError:
        """The 503 a job gets when its memory is not free within its time limit."""
        return ApiError(
            503,
            f"the server is busy: this image needs about {math.ceil(nbytes / _MIB)} MiB and the memory "
            f"budget ({self.memory_budget // _MIB if self.memory_budget else 0} MiB) is in use; "
            f"retry in {self.retry_after} s",
            code="busy",
            headers={"Retry-After": str(self.retry_after)},
        )

    def too_large_error(self, nbytes: int) -> ApiError:
        """The 413 a job gets when it needs more than the whole memory budget."""
        return ApiError(
            413,
            f"this image needs about {math.ceil(nbytes / _MIB)} MiB to segment, more than this server's "
            f"memory budget of {(self.memory_budget or 0) // _MIB} MiB; send a smaller image",
            code="too_large",
            field="image",
        )

    def take(self, client: str | None = None) -> ApiError | None:
        """Take a place for a request of ``client`` if one is free; else the error to answer."""
        with self._lock:
            if self._taken >= self.capacity:
                return self.busy_error()
            held = self._by_client.get(client, 0) if client is not None else 0
            if client is not None and self.max_per_client is not None and held >= self.max_per_client:
                return self.client_error()
            self._taken += 1
            if client is not None:
                self._by_client[client] = held + 1
            return None

    def try_take(self) -> bool:
        """Take a place if one is free (no client counted)."""
        return self.take() is None

    def give_back(self, *_: Any, client: str | None = None) -> None:
        """Free a place (of ``client``)."""
        with self._lock:
            self._taken -= 1
            if client is not None:
                left = self._by_client.get(client, 0) - 1
                if left > 0:
                    self._by_client[client] = left
                else:
                    self._by_client.pop(client, None)

    def _try_reserve(self, nbytes: int) -> bool:
        with self._lock:
            if self.memory_budget is not None and self._memory + nbytes > self.memory_budget:
                return False
            self._memory += nbytes
            return True

    def _release(self, nbytes: int) -> None:
        with self._lock:
            self._memory -= nbytes
            idle = self._memory == 0
        if idle and nbytes and self.kind == "thread":
            _release_free_memory()

    async def _reserve(self, nbytes: int, deadline: Deadline) -> None:
        """Reserve ``nbytes`` of the budget, waiting for it while ``deadline`` allows."""
        if self.memory_budget is not None and nbytes > self.memory_budget:
            raise self.too_large_error(nbytes)
        while not self._try_reserve(nbytes):
            if deadline.remaining <= _POLL_SECONDS:
                raise self.memory_error(nbytes)
            await asyncio.sleep(_POLL_SECONDS)

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

    async def run(self, func: Callable[..., T], *args: Any, timeout: float, memory: int = 0,
                  disconnected: Callable[[], Awaitable[bool]] | None = None) -> T:
        """Run ``func(*args, deadline=...)`` in the pool for an admitted request and wait for its result.

        The job gets a :class:`kmseg.Deadline` of ``timeout`` seconds from now
        (waiting included), cancelled when ``disconnected()`` turns true; it
        first reserves ``memory`` bytes of the budget, released when it ends.

        Raises
        ------
        TimeoutError
            When the job has not finished within ``timeout`` seconds; a job
            already running stops at its next check and keeps a place until then.
        ClientGone
            When ``disconnected()`` turned true first (the job is cancelled).
        ApiError
            503 when a worker process died (the pool is rebuilt for the next
            job) or the memory was not free in time; 413 when the job needs
            more than the whole memory budget.
        """
        deadline = Deadline(timeout)
        watch = None if disconnected is None else asyncio.ensure_future(_watch(disconnected))
        try:
            return await self._run(func, args, deadline, memory, watch)
        finally:
            if watch is not None:
                watch.cancel()

    async def _run(self, func: Callable[..., T], args: tuple[Any, ...], deadline: Deadline, memory: int,
                   watch: asyncio.Future[None] | None) -> T:
        reserve = asyncio.ensure_future(self._reserve(memory, deadline))
        try:
            if not await self._first(reserve, deadline, watch):
                raise ClientGone
            reserve.result()  # its ApiError, if any
        except BaseException:
            if not reserve.done():
                reserve.cancel()  # it waits in asyncio.sleep: nothing reserved
            elif not reserve.cancelled() and reserve.exception() is None:
                self._release(memory)
            raise
        self.start()
        with self._lock:
            executor = self._executor
        assert executor is not None
        try:
            future: Future[T] = executor.submit(func, *args, deadline=deadline)
        except RuntimeError:  # a broken pool, or one shut down under us
            self._release(memory)
            self._drop_broken(executor)
            raise self.busy_error() from None
        future.add_done_callback(lambda _: self._release(memory))
        result = asyncio.wrap_future(future)
        try:
            if not await self._first(result, deadline, watch):
                raise ClientGone
            return result.result()
        except (TimeoutError, ClientGone, asyncio.CancelledError):
            deadline.cancel()
            if not future.cancel() and not future.done():  # running: it holds a place until it stops
                with self._lock:
                    self._taken += 1
                future.add_done_callback(self.give_back)
            result.cancel()  # nobody waits for its outcome (DeadlineExceeded, most likely)
            raise
        except BrokenProcessPool:
            self._drop_broken(executor)
            raise self.busy_error() from None

    @staticmethod
    async def _first(work: asyncio.Future[Any], deadline: Deadline, watch: asyncio.Future[None] | None) -> bool:
        """Wait for ``work`` (True), or the client's disconnection (False); TimeoutError at the deadline."""
        waiting = {work} if watch is None else {work, watch}
        done, _ = await asyncio.wait(waiting, timeout=deadline.remaining, return_when=asyncio.FIRST_COMPLETED)
        if work in done:
            return True
        if watch is not None and watch in done:
            return False
        raise TimeoutError


async def _watch(disconnected: Callable[[], Awaitable[bool]]) -> None:
    """Return once ``disconnected()`` is true."""
    while not await disconnected():
        await asyncio.sleep(_POLL_SECONDS)


class AdmissionMiddleware:
    """Admit each ``POST`` against :class:`Admission` before its body is read; 503 when full."""

    def __init__(self, app: ASGIApp, *, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else None
        refused = self.admission.take(client)
        if refused is not None:
            await error_response(refused)(scope, receive, send)
            return
        given_back = False

        async def send_then_free(message: Message) -> None:
            nonlocal given_back
            # Free the place before the answer's last byte leaves: a client that sends its
            # next request as soon as it has the answer finds the place free.
            if message["type"] == "http.response.body" and not message.get("more_body") and not given_back:
                given_back = True
                self.admission.give_back(client=client)
            await send(message)

        try:
            await self.app(scope, receive, send_then_free)
        finally:
            if not given_back:
                self.admission.give_back(client=client)
