"""Deadlines: stop work whose answer is no longer wanted.

A :class:`Deadline` is a time limit and a cancel switch. The engine and the
features call :func:`check` between their passes (restarts, Lloyd passes,
K tried, chunks of pixels, rounds of region merging), never inside one, so
the cost is one clock read per pass. :func:`check` looks at the deadline of
the current context, set by ``with deadline:`` (as :func:`kmseg.segment`
does with its ``deadline=``); without one it does nothing. The threads of
:func:`kmseg._parallel.parallel_map` see the deadline of their caller.
"""

from __future__ import annotations

import contextvars
import functools
import math
import threading
import time
from types import TracebackType
from collections.abc import Callable
from typing import Any, TypeVar

from kmseg.errors import DeadlineExceeded, InvalidParameterError

__all__ = ["Deadline", "as_deadline", "check", "current", "within"]

F = TypeVar("F", bound=Callable[..., Any])

_CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("kmseg_deadline", default=None)


class Deadline:
    """A time limit and a cancel switch for kmseg's work.

    Work given a deadline (``kmseg.segment(..., deadline=d)``, or any kmseg
    call inside ``with d:``) checks it between passes and raises
    :class:`kmseg.errors.DeadlineExceeded` once it has expired or been
    cancelled, within a fraction of a second.

    Parameters
    ----------
    seconds : float or None
        Time allowed from now (above 0); None: no time limit, only
        :meth:`cancel` stops the work.

    Examples
    --------
    >>> d = Deadline(30.0)
    >>> d.expired
    False
    >>> d.cancel()
    >>> d.expired, d.cancelled
    (True, True)
    """

    def __init__(self, seconds: float | None = None) -> None:
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0
        ):
            raise InvalidParameterError(
                f"deadline must be a number of seconds above 0 or a kmseg.Deadline, got {seconds!r}",
                param="deadline",
            )
        self.seconds = None if seconds is None or math.isinf(seconds) else float(seconds)
        # time.monotonic is one clock for the whole machine, so the expiry also holds in a
        # worker process the deadline is pickled to.
        self._expires = math.inf if self.seconds is None else time.monotonic() + self.seconds
        self._cancelled = threading.Event()
        self._entered = threading.local()  # per thread: the tokens of nested ``with``

    def cancel(self) -> None:
        """Stop the work: its next check raises :class:`~kmseg.errors.DeadlineExceeded`."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancelled.is_set()

    @property
    def expired(self) -> bool:
        """Whether the work should stop: cancelled, or past the time limit."""
        return self._cancelled.is_set() or time.monotonic() >= self._expires

    @property
    def remaining(self) -> float:
        """Seconds left (0 once expired; ``inf`` without a time limit)."""
        if self._cancelled.is_set():
            return 0.0
        return max(0.0, self._expires - time.monotonic())

    def check(self) -> None:
        """Raise :class:`~kmseg.errors.DeadlineExceeded` if the deadline has expired."""
        if self._cancelled.is_set():
            raise DeadlineExceeded("the run was cancelled")
        if time.monotonic() >= self._expires:
            raise DeadlineExceeded(f"the run was stopped at its time limit of {self.seconds:g} s")

    def __enter__(self) -> Deadline:
        """Make this the deadline that kmseg's work checks in this context."""
        tokens = self._entered.__dict__.setdefault("tokens", [])
        tokens.append(_CURRENT.set(self))
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        _CURRENT.reset(self._entered.tokens.pop())

    def __getstate__(self) -> dict[str, Any]:
        # Picklable (for worker processes): the cancel switch travels as its state at the time.
        return {"seconds": self.seconds, "expires": self._expires, "cancelled": self.cancelled}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.seconds, self._expires = state["seconds"], state["expires"]
        self._cancelled = threading.Event()
        if state["cancelled"]:
            self._cancelled.set()
        self._entered = threading.local()

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else f"{self.remaining:.3g} s left"
        return f"Deadline({state})"


def as_deadline(value: Deadline | float | None) -> Deadline | None:
    """``value`` as a :class:`Deadline`: seconds become one that starts now; None stays None."""
    if value is None or isinstance(value, Deadline):
        return value
    return Deadline(value)


def within(func: F) -> F:
    """Run ``func`` under the deadline given as its ``deadline=`` keyword
    (seconds or a :class:`Deadline`, checked here; None: under the caller's)."""

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        deadline = as_deadline(kwargs.get("deadline"))
        if deadline is None:
            return func(*args, **kwargs)
        kwargs["deadline"] = deadline
        with deadline:
            deadline.check()
            return func(*args, **kwargs)

    return call  # type: ignore[return-value]


def check() -> None:
    """Raise :class:`~kmseg.errors.DeadlineExceeded` if the current deadline has expired."""
    deadline = _CURRENT.get()
    if deadline is not None:
        deadline.check()


def current() -> Deadline | None:
    """The deadline of the current context, if any."""
    return _CURRENT.get()
