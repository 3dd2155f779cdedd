"""The application factory: routers, error handlers, middleware and the pool's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException

from kmseg import __version__
from kmseg.api._access import AccessMiddleware, SecurityHeadersMiddleware
from kmseg.api._admission import Admission, AdmissionMiddleware
from kmseg.api._errors import ApiError, install_error_handlers
from kmseg.api._form import ranges
from kmseg.api._guards import BodyGuardMiddleware, keep_uploads_in_memory, upload_too_large
from kmseg.api._html import CSP, error_page
from kmseg.api._page import build_page_router
from kmseg.api._routes import build_api_router
from kmseg.api._settings import ServiceSettings

__all__ = ["create_app"]

_DESCRIPTION = """
K-means colour-clustering image segmentation over HTTP.

Send an image as the multipart file field `image` with the form fields below
(the same options, names, defaults and ranges as the library and the CLI);
an unknown field is refused. Every error answer has the body
`{"error": {"status", "code", "message", "field"}}`.
Statuses: 400 a malformed multipart body (or too many fields or files, or a
text field over its size limit) or a Host header the server does not answer
to, 401 a missing token (servers started with one), 413 upload or image too
large (for the upload limit, the pixel limit or the memory budget), 415
unsupported format, 422 a field out of range, unknown or repeated, or an
unreadable image, 408 request head or body too slow, 429 too many requests
from one client at once, 503 busy or too slow (with `Retry-After`).
"""

_PAGES = frozenset({"/", "/docs"})


def _page_headers(path: str) -> list[tuple[bytes, bytes]]:
    if path in _PAGES:
        return [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY")]
    return []


def _refine(settings: ServiceSettings):  # type: ignore[no-untyped-def]
    """Our wording (and code) for the framework's 413 and the body deadline's 408."""

    def refine(request: Request, exc: HTTPException) -> ApiError | None:
        headers = dict(exc.headers or {})
        if exc.status_code == 413:  # counted by FastAPI's max_body_size
            return upload_too_large(settings.max_upload_bytes, headers)
        if exc.status_code == 408:
            return ApiError(408, str(exc.detail), code="read_timeout", headers=headers)
        return None

    return refine


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the kmseg HTTP service.

    Parameters
    ----------
    settings : ServiceSettings, optional
        Limits and sizes; by default read from ``KMSEG_*`` environment
        variables (see :meth:`ServiceSettings.from_env`), else the defaults.

    Returns
    -------
    fastapi.FastAPI
        The ASGI application; run it with uvicorn, or use :func:`run_server`.
    """
    settings = settings if settings is not None else ServiceSettings.from_env()
    admission = Admission(settings.pool_size, settings.queue_size, settings.retry_after,
                          settings.executor,  # type: ignore[arg-type]
                          memory_budget=settings.memory_budget, max_per_client=settings.max_per_client)
    keep_uploads_in_memory(settings.max_upload_bytes)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        admission.start()
        try:
            yield
        finally:
            admission.shutdown()

    # /docs is our own page (no script from elsewhere); no ReDoc.
    app = FastAPI(title="kmseg", version=__version__, description=_DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.admission = admission
    install_error_handlers(app, ranges(settings), html=lambda error: error_page(error, settings),
                           refine_http=_refine(settings))
    app.include_router(build_api_router(settings))
    app.include_router(build_page_router(settings))
    # The last added is the outermost.
    app.add_middleware(BodyGuardMiddleware, max_bytes=settings.max_upload_bytes, seconds=settings.read_timeout)
    app.add_middleware(AdmissionMiddleware, admission=admission)
    app.add_middleware(AccessMiddleware, allowed_hosts=settings.allowed_hosts, token=settings.token,
                       html=lambda error: error_page(error, settings))
    app.add_middleware(SecurityHeadersMiddleware, extra_for=_page_headers)
    return app
