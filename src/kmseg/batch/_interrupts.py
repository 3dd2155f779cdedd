"""Ctrl-C during a batch: queued as an event for the main loop, never raised
wherever the main thread happens to be."""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["INTERRUPT", "Events", "deferred_interrupts"]

#: The event a Ctrl-C (or SIGTERM, when its handler raises KeyboardInterrupt) puts in the queue.
INTERRUPT = object()

#: Finished futures and :data:`INTERRUPT`, in the order they came. ``SimpleQueue.put`` is
#: reentrant: done callbacks (any thread) and a signal handler (the main thread) may both call it.
Events = queue.SimpleQueue


@contextmanager
def deferred_interrupts(events: queue.SimpleQueue[Any]) -> Iterator[None]:
    """While in the block, SIGINT and SIGTERM whose handler is Python's
    ``signal.default_int_handler`` (raise KeyboardInterrupt) put
    :data:`INTERRUPT` in ``events`` instead.

    A KeyboardInterrupt raised at an arbitrary instruction can land inside
    ``concurrent.futures`` (``wait`` takes every future's lock in a loop) and
    leave a lock held: the pool's thread then blocks for ever on that future
    and the batch sleeps with its workers. Ignored signals stay ignored;
    outside the main thread nothing changes (handlers cannot be set there).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def queue_interrupt(signum: int, frame: Any) -> None:
        events.put(INTERRUPT)

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is signal.default_int_handler:
            previous[sig] = signal.signal(sig, queue_interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
