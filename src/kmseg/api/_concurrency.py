"""Requests in progress per server process: past the limit, 503 with our JSON body.

uvicorn's own ``limit_concurrency`` answers a plain-text 503 ("Service
Unavailable") that clients of a JSON API cannot read like our other errors.
:class:`ConcurrencyLimitMiddleware` counts the requests the application is
serving (reading the body included) and refuses the surplus itself, with the
uniform JSON error body and ``Retry-After``, before reading any of its body.
:func:`uvicorn_connection_limit` gives uvicorn a higher limit, so its plain 503
is only a backstop against idle or never-finished connections.

Cheap paths (``/healthz``) are not counted, so a busy server still answers its
health checks.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ._errors import ApiError
from ._middleware import declared_drain, refuse

__all__ = ["ConcurrencyLimitMiddleware", "uvicorn_connection_limit"]

EXEMPT_PATHS = frozenset({"/healthz"})


def uvicorn_connection_limit(max_connections: int) -> int:
    """uvicorn's ``limit_concurrency`` for a service that admits ``max_connections`` requests.

    The room above ``max_connections`` holds connections waiting between two
    requests, the refusals being sent, and health checks.
    """
    return max_connections + max(16, max_connections // 2)


class ConcurrencyLimitMiddleware:
    """Serve at most ``max_requests`` requests at once; answer the surplus 503 + ``Retry-After``.

    Parameters
    ----------
    app : ASGI app
        The application to protect.
    max_requests : int
        Requests served at once (the paths in ``EXEMPT_PATHS`` not counted).
    retry_after : int
        Seconds advertised in the ``Retry-After`` header.
    max_drain_bytes : int
        A refused request's body, when its ``Content-Length`` is at most this,
        is read and dropped (for a few seconds) so the client can read the 503.
    """

    def __init__(self, app: ASGIApp, *, max_requests: int, retry_after: int, max_drain_bytes: int) -> None:
        self.app = app
        self.max_requests = max_requests
        self.retry_after = retry_after
        self.max_drain_bytes = max_drain_bytes
        self.active = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if self.active >= self.max_requests:
            await self._refuse(scope, receive, send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = ApiError(
            503,
            f"the server is busy ({self.max_requests} requests in progress); "
            f"retry in {self.retry_after} s",
            code="busy",
            headers={"Retry-After": str(self.retry_after)},
        )
        await refuse(scope, receive, send, error, drain=declared_drain(scope, self.max_drain_bytes),
                     linger_seconds=2.0)
