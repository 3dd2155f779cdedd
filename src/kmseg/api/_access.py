"""Who may be answered: allowed ``Host`` headers, an optional token (Bearer, or Basic for browsers), and safe headers.

Starlette's ``TrustedHostMiddleware`` does the host check too, but answers
plain text; this one answers with the uniform JSON error body, like every
other refusal of the API.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kmseg.api._errors import ApiError, HtmlRenderer, error_response, wants_html

__all__ = ["AccessMiddleware", "SecurityHeadersMiddleware", "host_allowed"]

#: Paths answered without the token: health checks, and the pages that only read.
OPEN_PATHS = frozenset({"/healthz", "/docs", "/openapi.json"})


def _host_name(header: str) -> str:
    """The host of a ``Host`` header, without the port; ``[::1]`` keeps its brackets."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1] if "]" in header else ""
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_allowed(header: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether the ``Host`` header names one of ``allowed`` (``*.example.org``, ``*``)."""
    if "*" in allowed:
        return True
    host = _host_name(header or "")
    if not host:
        return False
    return any(host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])) for pattern in allowed)


class AccessMiddleware:
    """Refuse requests for another host (400) or without the token (401), before reading them."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: tuple[str, ...], token: str | None,
                 html: HtmlRenderer | None = None) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.token = token
        self.html = html  # renders the browser form's refusals as a page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host")
        if not host_allowed(host, self.allowed_hosts):
            shown = (host or "")[:80]
            error = ApiError(
                400,
                f"the Host header {shown!r} is not one this server answers to; start it with "
                f"--allowed-host NAME (or KMSEG_ALLOWED_HOSTS) to add it",
                code="host_not_allowed",
            )
            await error_response(error)(scope, receive, send)
            return
        if self.token is not None and not self._open(scope) and not self._authorized(headers):
            page = scope.get("path") == "/"
            error = ApiError(
                401,
                "this server needs a token: programs send the header 'Authorization: Bearer <token>'; "
                "in a browser, give any user name and the token as the password",
                code="unauthorized",
                # The page's challenge is Basic, so that a browser asks for the token itself.
                headers={"WWW-Authenticate": 'Basic realm="kmseg", charset="UTF-8"' if page else "Bearer"},
            )
            html = self.html if self.html is not None and wants_html(scope) else None
            await error_response(error, html=html)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _open(scope: Scope) -> bool:
        return scope.get("path") in OPEN_PATHS or (scope.get("path") == "/" and scope["method"] in ("GET", "HEAD"))

    def _authorized(self, headers: Headers) -> bool:
        """Bearer ``<token>``, or HTTP Basic with any user name and the token as the password."""
        scheme, _, given = headers.get("authorization", "").partition(" ")
        assert self.token is not None
        scheme, given = scheme.lower(), given.strip()
        if scheme == "basic":
            try:
                user_and_password = base64.b64decode(given, validate=True).decode("utf-8")
            except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
                return False
            _, colon, given = user_and_password.partition(":")
            if not colon:
                return False
        elif scheme != "bearer":
            return False
        return secrets.compare_digest(given.encode(), self.token.encode())


class SecurityHeadersMiddleware:
    """Add headers every answer should carry (nosniff, no caching), and ``extra_for(path)``."""

    def __init__(self, app: ASGIApp, *, extra_for: Callable[[str], list[tuple[bytes, bytes]]]) -> None:
        self.app = app
        self.extra_for = extra_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.extra_for(scope.get("path", ""))

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
