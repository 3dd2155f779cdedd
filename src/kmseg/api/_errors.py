"""One error shape for every failure: ``{"error": {status, code, message, field}}``.

kmseg's exceptions map to statuses here: InvalidParameterError -> 422,
UnsupportedFormatError -> 415, ImageDecodeError -> 422 (the upload is a
well-formed request whose file is no readable image), ImageTooLargeError ->
413. Anything unexpected becomes a 500 without a stack trace in the body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Scope

from kmseg import (
    ImageDecodeError,
    ImageTooLargeError,
    InvalidParameterError,
    KmsegError,
    UnsupportedFormatError,
)

__all__ = [
    "ApiError",
    "ErrorBody",
    "error_response",
    "install_error_handlers",
    "kmseg_error_to_api",
]

logger = logging.getLogger("kmseg.api")

_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "read_timeout",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
    503: "busy",
}


class ErrorDetail(BaseModel):
    """What went wrong, for people and for programs."""

    status: int = Field(description="The HTTP status code, repeated.")
    code: str = Field(description="A stable machine-readable error code, e.g. `invalid_parameter`.")
    message: str = Field(description="What went wrong and what to change.")
    field: str | None = Field(
        default=None, description="The request field at fault (`image`, `k`, ...), if any."
    )


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


class ApiError(Exception):
    """An error answer to send: status, code, message, optional field and headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "error")
        self.field = field
        self.headers = headers or {}


def kmseg_error_to_api(exc: KmsegError) -> ApiError:
    """Map a kmseg exception to the answer it deserves."""
    if isinstance(exc, UnsupportedFormatError):
        return ApiError(415, str(exc), code="unsupported_format", field="image")
    if isinstance(exc, ImageDecodeError):
        return ApiError(422, str(exc), code="image_decode_error", field="image")
    if isinstance(exc, ImageTooLargeError):
        return ApiError(413, str(exc), code="image_too_large", field="image")
    if isinstance(exc, InvalidParameterError):
        return ApiError(422, str(exc), code="invalid_parameter", field=exc.param)
    return ApiError(422, str(exc), code="invalid_input")


def wants_html(scope: Scope) -> bool:
    """Whether an error for this request should be a page (the browser form) or JSON."""
    if scope.get("path", "") != "/":
        return False
    for name, value in scope.get("headers", []):
        if name == b"accept":
            return b"text/html" in value
    return False


#: Renders an error as a page for the browser form (set by the app; no page, no renderer).
HtmlRenderer = Callable[[ApiError], str]


def error_response(error: ApiError, *, html: HtmlRenderer | None = None) -> Response:
    """Build the answer for ``error``: JSON, or the page ``html`` renders."""
    headers = {"Cache-Control": "no-store", **error.headers}
    if html is not None:
        return HTMLResponse(html(error), status_code=error.status, headers=headers)
    body = ErrorBody(
        error=ErrorDetail(status=error.status, code=error.code, message=error.message, field=error.field)
    )
    return JSONResponse(body.model_dump(), status_code=error.status, headers=headers)


def validation_error_to_api(exc: RequestValidationError, ranges: dict[str, str]) -> ApiError:
    """Turn FastAPI's validation errors into one message naming the fields and their ranges."""
    parts: list[str] = []
    unknown: list[str] = []
    first_field: str | None = None
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "form")]
        name = loc[0] if loc else "request"
        first_field = first_field or name
        if err.get("type") == "extra_forbidden":
            unknown.append(name)
            continue
        allowed = ranges.get(name)
        if err.get("type") == "missing":
            text = f"{name} is required" + (f"; it must be {allowed}" if allowed else "")
        else:
            given = err.get("input")
            shown = (
                f"; got {given!r}" if isinstance(given, (str, int, float)) and len(str(given)) <= 40 else ""
            )
            if allowed:
                text = f"{name} must be {allowed}{shown}"
            else:
                text = f"{name} is invalid: {err.get('msg', 'bad value')}{shown}"
        parts.append(text)
    if unknown:
        names = ", ".join(repr(n[:40]) for n in unknown)
        parts.insert(0, f"unknown field{'s' if len(unknown) > 1 else ''} {names}; the fields are "
                     + ", ".join(ranges))
        first_field = unknown[0]
    message = ". ".join(dict.fromkeys(parts)) or "the request is invalid"
    return ApiError(422, message, code="invalid_parameter", field=first_field)


def install_error_handlers(
    app: FastAPI,
    ranges: dict[str, str],
    *,
    html: HtmlRenderer | None = None,
    refine_http: Callable[[Request, StarletteHTTPException], ApiError | None] | None = None,
) -> None:
    """Register the handlers that give every error the uniform body.

    ``html`` renders errors of the browser form (``POST /`` from a browser);
    ``refine_http`` may turn a framework's HTTP error (a 413 from the body
    limit, ...) into a more helpful :class:`ApiError`.
    """

    def answer(request: Request, error: ApiError) -> Response:
        return error_response(error, html=html if wants_html(request.scope) else None)

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return answer(request, exc)

    async def on_kmseg_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, KmsegError)
        return answer(request, kmseg_error_to_api(exc))

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return answer(request, validation_error_to_api(exc, ranges))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        error = refine_http(request, exc) if refine_http is not None else None
        if error is None:
            detail: Any = exc.detail
            message = detail if isinstance(detail, str) else "the request was refused"
            error = ApiError(exc.status_code, message, headers=dict(exc.headers or {}))
        return answer(request, error)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error while serving %s", request.url.path)
        return answer(request, ApiError(500, "internal error; the incident was logged on the server"))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(KmsegError, on_kmseg_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
