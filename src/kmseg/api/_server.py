"""Run the service with uvicorn."""

from __future__ import annotations

import os
from typing import Any

from kmseg import InvalidParameterError
from kmseg.api._settings import ENV_PREFIX, ServiceSettings

__all__ = ["run_server"]


def _loopback(host: str) -> bool:
    """Whether ``host`` is an address that only this machine reaches."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run_server(
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 1,
    settings: ServiceSettings | None = None,
    *,
    log_level: str = "info",
    **overrides: Any,
) -> None:
    """Serve the kmseg HTTP service with uvicorn until interrupted.

    Parameters
    ----------
    host : str
        Address to listen on; the default 127.0.0.1 serves this machine only.
        Use 0.0.0.0 to serve the network.
    port : int
        TCP port (default 5000).
    workers : int
        Server processes; each has its own pool of ``settings.pool_size`` threads.
    settings : ServiceSettings, optional
        Limits and sizes; by default read from ``KMSEG_*`` environment variables.
    log_level : str
        uvicorn's log level.
    **overrides
        Settings to change, by field name (``max_pixels=...``, ``pool_size=...``,
        ``token=...``) or ``max_upload_mb`` in MiB; ``None`` values are ignored.
        ``allowed_hosts`` given here are added to those of the settings, and
        ``host`` itself is always allowed (unless it is 0.0.0.0 or ::).
        Served on an address other than loopback, ``max_per_client``
        defaults to ``pool_size`` (one client cannot also fill the queue).

    Raises
    ------
    InvalidParameterError
        For a bad port, worker count or setting.
    """
    import uvicorn

    from kmseg.api._guards import HeadTimeoutH11Protocol

    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InvalidParameterError(
            f"port must be a whole number from 0 to 65535, got {port!r}", param="port"
        )
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 64:
        raise InvalidParameterError(
            f"workers must be a whole number from 1 to 64, got {workers!r}", param="workers"
        )
    base = settings if settings is not None else ServiceSettings.from_env()
    extra_hosts = tuple(overrides.pop("allowed_hosts", None) or ())
    if host not in ("0.0.0.0", "::", ""):
        extra_hosts += (f"[{host}]" if ":" in host else host,)
    final = base.replace(**overrides)
    final = final.replace(allowed_hosts=tuple(dict.fromkeys(final.allowed_hosts + extra_hosts)))
    if final.max_per_client is None and overrides.get("max_per_client") is None and not _loopback(host):
        if ENV_PREFIX + "MAX_PER_CLIENT" not in os.environ:
            final = final.replace(max_per_client=final.pool_size)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        # Work is admitted by the app (JSON 503); this caps open connections.
        "limit_concurrency": final.max_connections,
        "timeout_keep_alive": 5,
        # h11 with a time limit on each request's line and headers (uvicorn has none).
        "http": HeadTimeoutH11Protocol,
        "server_header": False,
        "proxy_headers": False,
    }
    if workers == 1:
        from kmseg.api._app import create_app

        HeadTimeoutH11Protocol.head_timeout = final.read_timeout
        uvicorn.run(create_app(final), **options)
        return
    # Worker processes build their own app from the environment.
    os.environ.update(final.to_env())
    uvicorn.run("kmseg.api:create_app", factory=True, workers=workers, **options)
