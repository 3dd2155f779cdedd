"""kmseg's HTTP service (``pip install 'kmseg[api]'``): an upload page and a JSON/image API.

>>> from kmseg.api import create_app, ServiceSettings  # doctest: +SKIP
>>> app = create_app(ServiceSettings(max_upload_bytes=5 * 1024 * 1024))  # doctest: +SKIP

Run it with ``kmseg serve`` or :func:`run_server`; the endpoints are listed at
``/docs`` (OpenAPI schema at ``/openapi.json``).
"""

from kmseg.api._app import create_app
from kmseg.api._server import run_server
from kmseg.api._settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app", "run_server"]
