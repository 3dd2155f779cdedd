"""The application factory: routers, error handlers, middleware and the pool's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .. import __version__
from ._concurrency import ConcurrencyLimitMiddleware
from ._errors import install_error_handlers
from ._html import CSP
from ._middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from ._page import build_page_router
from ._params import ranges
from ._pool import WorkerPool
from ._routes import build_api_router
from ._settings import ServiceSettings

__all__ = ["create_app"]

_DESCRIPTION = """
K-means colour-clustering image segmentation over HTTP.

Send an image as the multipart file field `image` with the form fields `k`,
`max_iter`, `color_space`, `seed` (and `format` for `/api/segment`).
Every error answer has the body `{"error": {"status", "code", "message", "field"}}`.
Statuses: 400 a malformed multipart body (or too many fields or files, or a
text field over its size limit), 413 upload or image too large, 415 unsupported format,
422 a field out of range or an unreadable image, 408 request head or body too
slow, 503 busy or too slow (with `Retry-After`).
"""


def _page_headers(path: str) -> list[tuple[bytes, bytes]]:
    if path == "/":
        return [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY")]
    return []


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
    pool = WorkerPool(settings.pool_size, settings.queue_size, settings.executor)  # type: ignore[arg-type]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool.start_workers()
        try:
            yield
        finally:
            pool.shutdown()

    app = FastAPI(
        title="kmseg",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = pool
    install_error_handlers(app, ranges(settings))
    app.include_router(build_api_router(settings))
    app.include_router(build_page_router(settings))
    # The last added is the outermost: headers are added to every answer, 413s included.
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_upload_bytes, read_timeout=settings.read_timeout
    )
    # Outside the body limit: a refused request's body is not read into memory.
    app.add_middleware(
        ConcurrencyLimitMiddleware,
        max_requests=settings.max_connections,
        retry_after=settings.retry_after,
        max_drain_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(SecurityHeadersMiddleware, extra_for=_page_headers)
    return app
