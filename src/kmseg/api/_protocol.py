"""uvicorn's HTTP/1.1 protocol with a time limit on the request head.

uvicorn limits the time between two requests of a connection (keep-alive) but
not the time a client takes to send a request's line and headers: a client
that sends them a byte at a time, or connects and sends nothing, holds its
connection for ever, and enough of them fill the server's connection limit.
:class:`HeadTimeoutH11Protocol` closes such a connection when the head has not
arrived within the read timeout, after a 408 with the JSON error body. (The
body's own time limit is :class:`~kmseg.api._middleware.BodyLimitMiddleware`'s.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ._errors import ApiError, error_body_bytes
from ._settings import ServiceSettings

__all__ = ["HeadTimeoutH11Protocol"]


class HeadTimeoutH11Protocol(H11Protocol):
    """:class:`uvicorn.protocols.http.h11_impl.H11Protocol` plus a deadline for each request head.

    The deadline, ``head_timeout`` seconds, runs from the connection's start or
    from the first byte of a later request on it. ``head_timeout`` is set by
    :func:`~kmseg.api.run_server`; when it is None (worker processes started
    by uvicorn) it is read once from ``KMSEG_READ_TIMEOUT``.
    """

    head_timeout: float | None = None

    @classmethod
    def _seconds(cls) -> float:
        if cls.head_timeout is None:
            cls.head_timeout = ServiceSettings.from_env().read_timeout
        return cls.head_timeout

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            # Part of a request head (or the first byte of the next request) arrived.
            if self._head_timer is None:
                self._arm_head_timer()
        else:
            self._disarm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self._seconds(), self._head_too_slow)

    def _disarm_head_timer(self) -> None:
        timer: Any = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; the keep-alive timer takes over after it
        error = ApiError(
            408,
            f"the request line and headers did not arrive within {self._seconds():g} s",
            code="read_timeout",
        )
        body = error_body_bytes(error)
        head = (
            "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\ncache-control: no-store\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()
