"""Run planned jobs: skip what is done, the rest on a process pool or any
executor (Dask), recording results and manifest rows in order; Ctrl-C lets
running images finish."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from queue import Empty
from typing import Any

from kmseg.batch._interrupts import INTERRUPT, Events, deferred_interrupts
from kmseg.batch._plan import outputs_exist
from kmseg.batch._results import ENVIRONMENT, INPUT, BatchInterrupted, ItemJob, ItemResult, ProgressCallback
from kmseg.batch._work import init_worker, process_item
from kmseg.batch._write import sweep_temporaries

__all__ = ["default_jobs", "run_jobs", "run_jobs_inline"]


def default_jobs() -> int:
    """Number of CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _split_skipped(
    jobs: Sequence[ItemJob], overwrite: bool, record: _Recorder, retry_failed: bool = False
) -> list[int]:
    """Record the jobs that need no work as skipped; return the others' indices.

    Without ``overwrite`` a job is skipped when the manifest says it is done
    (and its outputs are there), when the manifest says it failed because of
    the input (unless ``retry_failed``; a failure of the environment is
    always tried again), or when all its outputs exist.
    """
    manifest = record.manifest
    todo: list[int] = []
    for i, job in enumerate(jobs):
        row = manifest.get(job.source, job.plan.image) if manifest is not None and not overwrite else None
        if (row is not None and row.get("status") == "failed" and not retry_failed
                and row.get("failure") != ENVIRONMENT):  # the disk's fault, say: always tried again
            reason = f"failed in an earlier run ({row.get('reason')}); use --retry-failed to try again"
            record(i, ItemResult(job.source, "skipped", reason, failure=INPUT), row=None)
        elif not overwrite and outputs_exist(job):
            plan = job.plan
            found: dict[str, Any] = {key: path for key, path in
                                     (("image", plan.image), ("labels", plan.labels), ("palette", plan.palette),
                                      ("boundaries", plan.boundaries), ("svg", plan.svg),
                                      ("paint", plan.paint))
                                     if path}
            if row is not None and row.get("status") in ("done", "skipped"):
                reason = "done in an earlier run (see the manifest; use --overwrite to redo)"
                new_row = {**row, "status": "skipped", "reason": reason}
            else:
                # No row (e.g. interrupted between the write and the manifest line): record one now.
                reason, new_row = "outputs exist (use --overwrite to redo)", ...
            record(i, ItemResult(job.source, "skipped", reason, row.get("outputs", found) if row else found),
                   row=new_row)
        else:
            todo.append(i)
    return todo


class _Recorder:
    """Keeps the results in job order, calls ``progress`` and writes the manifest rows."""

    def __init__(self, jobs: Sequence[ItemJob], progress: ProgressCallback | None, manifest: Any = None):
        self.jobs = jobs
        self.results: list[ItemResult | None] = [None] * len(jobs)
        self.finished = 0
        self.progress = progress
        self.manifest = manifest

    def __call__(self, i: int, result: ItemResult, row: Any = ...) -> None:
        """Record ``result`` of job ``i``; ``row`` is the manifest row to write
        (default: made from the result; None: write nothing)."""
        self.results[i] = result
        self.finished += 1
        if self.manifest is not None and result.status != "cancelled":
            if row is ...:
                from kmseg.batch.manifest import manifest_row

                row = manifest_row(result, self.jobs[i].plan.image)
            if row is not None:
                self.manifest.append(row)
        if self.progress is not None:
            self.progress(result, self.finished, len(self.results))

    def final(self, jobs: Sequence[ItemJob]) -> list[ItemResult]:
        return [r if r is not None else ItemResult(jobs[i].source, "cancelled", "not started (interrupted)")
                for i, r in enumerate(self.results)]


def run_jobs_inline(
    jobs: Sequence[ItemJob], *, overwrite: bool = False, progress: ProgressCallback | None = None,
    manifest: Any = None, retry_failed: bool = False,
) -> list[ItemResult]:
    """Run ``jobs`` one after the other in this process: no pool start-up.

    Same contract as :func:`run_jobs`; the quickest way for one image.
    """
    record = _Recorder(jobs, progress, manifest)
    sweep_temporaries(jobs, manifest)
    todo = _split_skipped(jobs, overwrite, record, retry_failed)
    try:
        for i in todo:
            record(i, process_item(jobs[i]))
    except KeyboardInterrupt:
        sweep_temporaries([jobs[i] for i in todo])
        raise BatchInterrupted(record.final(jobs)) from None
    return record.final(jobs)


def run_jobs(
    jobs: Sequence[ItemJob],
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    max_in_flight: int | None = None,
    manifest: Any = None,
    retry_failed: bool = False,
) -> list[ItemResult]:
    """Run ``jobs`` and return one result per job, in order.

    Jobs whose outputs all exist are skipped unless ``overwrite``. Without an
    ``executor`` a process pool of ``workers`` (default: one per core) runs
    them, each worker on one core (its BLAS/OpenMP thread pools set to one
    thread, unless the environment already says otherwise), so ``workers``
    is the number of cores used. The workers ignore SIGINT: on Ctrl-C the
    running images finish (atomic writes: never a half-written file), the
    others are cancelled and :class:`BatchInterrupted` is raised with the
    results.

    Parameters
    ----------
    progress : callable, optional
        Called in this process as ``progress(result, finished, total)``
        after every image, skipped ones included.
    max_in_flight : int, optional
        Most jobs submitted at once (default: twice the workers for the
        local pool, all of them for a given executor).
    manifest : kmseg.batch.manifest.Manifest, optional
        Rows are appended to it (in this process only) as images finish;
        inputs it records as done are skipped, and those it records as
        failed too unless ``retry_failed``. The caller closes it.
    retry_failed : bool
        Run again the inputs the manifest records as failed.
    """
    record = _Recorder(jobs, progress, manifest)
    sweep_temporaries(jobs, manifest)
    todo = _split_skipped(jobs, overwrite, record, retry_failed)
    if not todo:
        return record.final(jobs)
    own = executor is None
    if own:
        workers = max(1, min(workers or default_jobs(), len(todo)))
        window = max_in_flight or 2 * workers
    else:
        window = max_in_flight or len(todo)
    pending: dict[Future[ItemResult], int] = {}
    events: Events[Any] = Events()
    queue = iter(todo)
    interrupted = stopped = False
    workers_started: list[Any] = []
    with deferred_interrupts(events):
        try:
            try:
                if own:
                    executor = _start_pool(workers, jobs, queue, pending, window, events, workers_started)
                else:
                    _fill(executor, jobs, queue, pending, window, events)
                assert executor is not None
                while pending:
                    fut = _next_finished(events, pending)
                    i = pending.pop(fut)
                    record(i, _result_of(fut, jobs[i]))
                    _fill(executor, jobs, queue, pending, window, events)
            except KeyboardInterrupt:
                interrupted = True
                stopped = _drain(pending, jobs, record, events)
                raise BatchInterrupted(record.final(jobs)) from None
        finally:
            if own and executor is not None:
                _shut_down(executor, workers_started, stop_running=stopped)
            if own or not interrupted:  # nothing of this run is writing any more (a given executor's
                sweep_temporaries([jobs[i] for i in todo])  # interrupted tasks may still be)
    return record.final(jobs)


#: Longest sleep of the main loop between looks at the queue of events (a missed wake-up costs no more).
_POLL_SECONDS = 0.5
#: How long the pool gets to shut down before its workers are killed.
_EXIT_SECONDS = 60.0


def _next_finished(events: Events[Any], pending: dict) -> Future[ItemResult]:
    """The next future of ``pending`` to finish; KeyboardInterrupt on Ctrl-C (raised here, in
    this module's code, where no lock of the pool is held)."""
    while True:
        try:
            event = events.get(timeout=_POLL_SECONDS)
        except Empty:
            done = [fut for fut in pending if fut.done()]  # a lost callback cannot stall the batch
            if done:
                return done[0]
            continue
        if event is INTERRUPT:
            raise KeyboardInterrupt
        if event in pending:  # (a cancelled future may report twice, or after it was recorded)
            return event


def _shut_down(executor: Executor, workers: list[Any], stop_running: bool) -> None:
    """Shut the own pool down, its workers killed if they are not gone in time.

    ``stop_running`` (a second Ctrl-C): SIGTERM to the workers first, which
    stops their running images (their atomic writes remove the temporary
    files). A watchdog kills any worker still there after
    :data:`_EXIT_SECONDS`, so the batch never waits for ever on its pool.
    """
    if stop_running:
        _signal_workers(workers, kill=False)
    watchdog = threading.Timer(_EXIT_SECONDS, _signal_workers, (workers,), {"kill": True})
    watchdog.daemon = True
    watchdog.start()
    try:
        executor.shutdown(wait=True, cancel_futures=True)
    finally:
        watchdog.cancel()


def _signal_workers(workers: list[Any], kill: bool) -> None:
    for process in workers:
        if not process.is_alive():
            continue
        if kill:
            process.kill()
        else:
            process.terminate()


#: Thread-pool sizes of BLAS and OpenMP libraries (read when NumPy is imported) and kmseg's own.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "KMSEG_THREADS")


def _start_pool(workers: int, jobs: Sequence[ItemJob], queue: Any, pending: dict, window: int,
                events: Events[Any], started: list[Any]) -> Executor:
    """A process pool of fresh ("spawn") single-threaded workers, with its first jobs.

    The workers are started, by the first submissions, while the thread
    variables are set to 1 in the environment they inherit; the parent's own
    environment is restored right after. Each worker process is appended to
    ``started``.
    """
    from concurrent.futures import ProcessPoolExecutor

    saved = {name: os.environ.get(name) for name in _THREAD_VARS}
    # Workers are born ignoring SIGINT (Python keeps an inherited SIG_IGN), so
    # a Ctrl-C that reaches them while they start up cannot print a traceback
    # before their initializer runs. Only the main thread may set handlers.
    main = threading.current_thread() is threading.main_thread()
    old_sigint = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        for name in _THREAD_VARS:
            os.environ.setdefault(name, "1")
        executor = ProcessPoolExecutor(workers, mp_context=_Spawn(started), initializer=init_worker)
        _fill(executor, jobs, queue, pending, window, events)
    finally:
        if main:
            signal.signal(signal.SIGINT, old_sigint)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return executor


class _Spawn(type(multiprocessing.get_context("spawn"))):  # type: ignore[misc]
    """The "spawn" start method, keeping the processes it makes in ``started``
    (the pool's own list of its workers is private)."""

    def __init__(self, started: list[Any]):
        super().__init__()
        self.started = started

    def Process(self, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 - the name the pool calls
        process = super().Process(*args, **kwargs)
        self.started.append(process)
        return process


def _fill(executor: Executor, jobs: Sequence[ItemJob], queue: Any, pending: dict, window: int,
          events: Events[Any]) -> None:
    while len(pending) < window:
        i = next(queue, None)
        if i is None:
            return
        fut = executor.submit(process_item, jobs[i])
        pending[fut] = i
        fut.add_done_callback(events.put)


def _result_of(fut: Future[ItemResult], job: ItemJob) -> ItemResult:
    try:
        return fut.result()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the worker died, was terminated, or could not be reached
        from concurrent.futures.process import BrokenProcessPool

        if isinstance(exc, SystemExit):
            return ItemResult(job.source, "cancelled", "stopped while running (the worker was terminated)")
        if isinstance(exc, BrokenProcessPool):
            reason = "the worker process died (out of memory?); try fewer --jobs or a smaller --max-pixels"
        else:
            reason = f"worker error: {type(exc).__name__}: {exc}"
        return ItemResult(job.source, "failed", reason, detail="".join(traceback.format_exception(exc)),
                          failure=ENVIRONMENT)


def _drain(pending: dict, jobs: Sequence[ItemJob], record: Callable[[int, ItemResult], None],
           events: Events[Any]) -> bool:
    """After Ctrl-C: cancel what has not started, let running items finish.

    A second Ctrl-C stops waiting: the unfinished items are recorded as
    cancelled and True is returned (the caller then stops the workers, whose
    atomic writes remove the temporary files of unfinished writes).
    """
    for fut in list(pending):
        if fut.cancel():
            pending.pop(fut)
    try:
        while pending:
            fut = _next_finished(events, pending)
            i = pending.pop(fut)
            record(i, _result_of(fut, jobs[i]))
    except KeyboardInterrupt:
        for fut, i in pending.items():
            fut.cancel()
            record(i, ItemResult(jobs[i].source, "cancelled", "interrupted while running"))
        pending.clear()
        return True
    return False
