"""Pure-ASGI middleware: the request-body limit and read timeout, and safe headers.

FastAPI and Starlette (at the versions we support) put no limit on the size of
a file part, so :class:`BodyLimitMiddleware` reads the whole body itself,
counting bytes as the ``http.request`` messages arrive. It answers 413 as soon
as the count passes the limit, whatever the ``Content-Length`` header says
(absent, chunked or false), and 408 when the body has not arrived within the
read timeout. The application then gets the buffered body in one message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import ApiError, error_response, wants_html

__all__ = ["BodyLimitMiddleware", "SecurityHeadersMiddleware", "header", "refuse"]


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value
    return None


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` (413) or slower than ``read_timeout`` (408).

    Parameters
    ----------
    app : ASGI app
        The application to protect.
    max_bytes : int
        Largest body accepted, in bytes.
    read_timeout : float
        Seconds within which the whole body must have arrived.
    linger_seconds : float
        After a 413, how long to keep reading (and discarding) the rest of the
        body so the client, still sending, can read the answer before the
        connection closes. At most ``max_bytes`` more bytes are read.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        read_timeout: float,
        linger_seconds: float = 5.0,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout
        self.linger_seconds = linger_seconds

    def _too_large(self) -> ApiError:
        mb = self.max_bytes / (1024 * 1024)
        return ApiError(
            413,
            f"the request body is larger than the upload limit of {mb:.3g} MB "
            f"({self.max_bytes} bytes); send a smaller image",
            code="upload_too_large",
            field="image",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None:
            try:
                declared_size = int(declared)
            except ValueError:
                declared_size = -1
            if declared_size < 0:
                error = ApiError(400, "the Content-Length header is not a valid size")
                await self._refuse(scope, receive, send, error, drain=0)
                return
            if declared_size > self.max_bytes:
                # Linger only if the rest is not too much.
                drain = declared_drain(scope, 2 * self.max_bytes)
                await self._refuse(scope, receive, send, self._too_large(), drain=drain)
                return

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.read_timeout
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(receive(), remaining)
            except TimeoutError:
                error = ApiError(
                    408,
                    f"the request body did not arrive within {self.read_timeout:g} s",
                    code="read_timeout",
                )
                await self._refuse(scope, receive, send, error, drain=0)
                return
            if message["type"] == "http.disconnect":
                return  # the client went away; nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                more = message.get("more_body", False)
                await self._refuse(
                    scope, receive, send, self._too_large(), drain=self.max_bytes if more else 0
                )
                return
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break

        body = b"".join(chunks)
        chunks.clear()
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, error: ApiError, *, drain: int
    ) -> None:
        await refuse(scope, receive, send, error, drain=drain, linger_seconds=self.linger_seconds)


def declared_drain(scope: Scope, cap: int) -> int:
    """Bytes to read and drop before refusing a request, so that the client
    sees the answer rather than a reset: its declared body when that is at
    most ``cap``; nothing when the client waits for '100 Continue' (it has
    not sent the body) or declares no length."""
    if (header(scope, b"expect") or b"").lower() == b"100-continue":
        return 0
    declared = header(scope, b"content-length")
    if declared is None or not declared.isdigit() or int(declared) > cap:
        return 0
    return int(declared)


async def refuse(
    scope: Scope, receive: Receive, send: Send, error: ApiError, *, drain: int, linger_seconds: float
) -> None:
    """Send ``error`` with ``Connection: close``; first read and drop up to ``drain`` more bytes.

    The dropped bytes are the rest of a body the client is still sending: reading
    them (for at most ``linger_seconds``) lets it read the answer before the
    connection closes, instead of seeing the connection reset.
    """
    response = error_response(error, html=wants_html(scope))
    headers = [(k, v) for k, v in response.raw_headers if k != b"connection"]
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    if drain <= 0:
        await send({"type": "http.response.body", "body": response.body, "more_body": False})
        return
    # The answer is complete for the client (Content-Length is set); keep the
    # connection open a little while it finishes sending, so closing it does
    # not reset the connection before the client has read the answer.
    await send({"type": "http.response.body", "body": response.body, "more_body": True})
    await _drain(receive, drain, linger_seconds)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _drain(receive: Receive, budget: int, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while budget > 0:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        try:
            message = await asyncio.wait_for(receive(), remaining)
        except TimeoutError:
            return
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class SecurityHeadersMiddleware:
    """Add headers that every answer should carry (nosniff, no caching, no framing).

    ``extra_for`` may return more headers for a given path (e.g. a strict
    Content-Security-Policy for the HTML pages).
    """

    def __init__(
        self, app: ASGIApp, *, extra_for: Callable[[str], list[tuple[bytes, bytes]]] | None = None
    ) -> None:
        self.app = app
        self.extra_for = extra_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.extra_for(scope.get("path", "")) if self.extra_for else []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for key, value in [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                    *extra,
                ]:
                    if key not in present:
                        headers.append((key, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
