"""The protections the frameworks lack, each shown needed by a test; nothing else.

What the frameworks do for us (and the tests that check it): the body size
limit is FastAPI's ``max_body_size`` (413 as soon as the count passes it,
whatever Content-Length says: ``test_at_the_limit_is_served_and_one_byte_over_is_413``,
``test_chunked_body_without_length_is_cut_at_the_limit``); the multipart
limits are FastAPI's ``form_limits`` (``test_multipart_abuse_is_refused_quickly_with_bounded_memory``);
the rest of a refused body is read and dropped by uvicorn, so the client sees
the answer; idle keep-alive connections are closed by uvicorn's
``timeout_keep_alive``, and connections are capped by its ``limit_concurrency``.

What remains here, with the library version it relies on (pyproject pins
the ceilings):

- :class:`HeadTimeoutH11Protocol` (uvicorn ``<0.56``): uvicorn puts no time
  limit on a request's line and headers -- ``test_request_head_sent_a_byte_per_second_is_cut_off``.
- :class:`BodyGuardMiddleware` (pure ASGI): neither Starlette nor uvicorn
  limits the time a body takes -- ``test_slow_upload_is_408``,
  ``test_one_byte_per_second_upload_is_cut_off_and_health_checks_still_answer``;
  and Starlette answers a declared Content-Length over the limit with a
  plain-text 413 that replaces the app's own answer, so that case is
  answered here with the JSON body -- ``test_upload_over_the_limit_is_413``,
  ``test_declared_length_over_the_limit_is_refused_unread``.
- :func:`keep_uploads_in_memory` (Starlette ``<2``): Starlette spools a file
  part over 1 MB to a temporary file on disk; an upload must never touch the
  disk -- ``test_upload_is_never_spooled_to_disk``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from kmseg.api._errors import ApiError, error_response
from kmseg.api._settings import ServiceSettings

__all__ = ["BodyGuardMiddleware", "HeadTimeoutH11Protocol", "keep_uploads_in_memory", "upload_too_large"]


def keep_uploads_in_memory(max_upload_bytes: int) -> None:
    """Make Starlette keep file parts of up to ``max_upload_bytes`` in memory.

    ``MultiPartParser.spool_max_size`` is Starlette's documented class
    attribute for where its spooled files roll over to disk. It is raised,
    never lowered, so other apps in the process only gain.
    """
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, max_upload_bytes + 1)


def upload_too_large(max_bytes: int, headers: dict[str, str] | None = None) -> ApiError:
    """The 413 of a body over the upload limit."""
    mb = max_bytes / (1024 * 1024)
    return ApiError(
        413,
        f"the request body is larger than the upload limit of {mb:.3g} MB ({max_bytes} bytes); "
        "send a smaller image",
        code="upload_too_large",
        field="image",
        headers=headers,
    )


class BodyGuardMiddleware:
    """413 for a declared body over ``max_bytes``, unread; 408 (and close) for a body slower than ``seconds``.

    The read deadline runs from the request's arrival; the time-out is raised
    from the app's own ``receive()`` as an HTTP error, so the app's error
    handlers shape the answer. (Bodies that pass the limit without declaring
    it are counted by FastAPI's ``max_body_size``.)
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            # A client waiting for "100 Continue" sent no body: nothing to read, so close.
            close = headers.get("expect", "").lower() == "100-continue"
            error = upload_too_large(self.max_bytes, {"Connection": "close"} if close else None)
            await error_response(error)(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        body_done = False

        async def receive_by_deadline() -> Message:
            nonlocal body_done
            if body_done:  # after the body: a wait for the client to go, not a read
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise HTTPException(
                    408,
                    detail=f"the request body did not arrive within {self.seconds:g} s",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, receive_by_deadline, send)


class HeadTimeoutH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol plus a deadline for each request's line and headers.

    The deadline, ``head_timeout`` seconds, runs from the connection's start
    or from the first byte of a later request on it; past it the client gets
    408 with the JSON error body and the connection is closed. ``head_timeout``
    is set by :func:`~kmseg.api.run_server`; when it is None (worker processes
    started by uvicorn) it is read once from ``KMSEG_READ_TIMEOUT``.
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
            if self._head_timer is None:  # part of a head, or the first byte of the next request
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
        error = ApiError(408, f"the request line and headers did not arrive within {self._seconds():g} s",
                         code="read_timeout")
        body = bytes(error_response(error).body)
        head = (
            "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\ncache-control: no-store\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()
