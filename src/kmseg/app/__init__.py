"""kmseg's web app: a Streamlit page over the kmseg library.

Start it with ``kmseg app`` (or ``python -m kmseg.app``); it serves
http://127.0.0.1:8501 by default. :func:`run_app` runs
``python -m streamlit run`` on :data:`SCRIPT` in a subprocess and passes the
limits to the page through environment variables (see
:mod:`kmseg.app._state`).
"""

from __future__ import annotations

import importlib.util
import math
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kmseg import InvalidParameterError, options

from kmseg.app._state import ENV_MAX_PIXELS, ENV_MAX_UPLOAD_MB, MB, AppSettings

if importlib.util.find_spec("streamlit") is None:  # pragma: no cover - depends on the install
    raise ImportError("kmseg app needs the web extra: pip install 'kmseg[web]'")

__all__ = ["SCRIPT", "build_command", "run_app"]

#: The Streamlit script of the app.
SCRIPT = Path(__file__).with_name("streamlit_app.py")


def _check(host: str, port: int, max_upload_mb: float | None, max_pixels: int | None) -> None:
    if not isinstance(host, str) or not host or any(c.isspace() for c in host):
        raise InvalidParameterError(f"host must be a host name or address, got {host!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidParameterError(f"port must be a whole number from 1 to 65535, got {port!r}")
    if max_upload_mb is not None and not (
        isinstance(max_upload_mb, int | float) and math.isfinite(max_upload_mb) and max_upload_mb > 0
    ):
        raise InvalidParameterError(f"max_upload_mb must be a positive number, got {max_upload_mb!r}")
    options.validate("max_pixels", max_pixels)


def build_command(
    host: str = "127.0.0.1",
    port: int = 8501,
    extra_args: Sequence[str] = (),
    max_upload_mb: float | None = None,
    max_pixels: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment :func:`run_app` starts Streamlit with.

    Parameters are those of :func:`run_app`; ``environ`` defaults to
    ``os.environ``. Limits not given here keep any value already set in the
    environment, else kmseg's defaults.

    Returns
    -------
    argv : list of str
    env : dict of str to str

    Raises
    ------
    kmseg.InvalidParameterError
        If the host, port or a limit is not valid.
    """
    _check(host, port, max_upload_mb, max_pixels)
    env = dict(os.environ if environ is None else environ)
    if max_upload_mb is not None:
        env[ENV_MAX_UPLOAD_MB] = repr(float(max_upload_mb))
    if max_pixels is not None:
        env[ENV_MAX_PIXELS] = str(int(max_pixels))
    from kmseg.app._state import settings_from_env

    settings: AppSettings = settings_from_env(env)[0]
    # Streamlit's own cap is whole megabytes; the page also checks the exact limit.
    upload_mb = max(1, math.ceil(settings.max_upload_bytes / MB))
    argv = [
        sys.executable, "-m", "streamlit", "run", str(SCRIPT),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.maxUploadSize", str(upload_mb),
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "minimal",
        "--client.showErrorDetails", "none",
        *map(str, extra_args),
    ]  # fmt: skip
    return argv, env


def run_app(
    host: str = "127.0.0.1",
    port: int = 8501,
    extra_args: Sequence[str] = (),
    max_upload_mb: float | None = None,
    max_pixels: int | None = None,
) -> int:
    """Run the web app until it is stopped (Ctrl+C).

    Parameters
    ----------
    host : str
        Address to listen on; the default serves this machine only.
    port : int
        TCP port.
    extra_args : sequence of str
        More ``streamlit run`` options, e.g. ``["--theme.base", "dark"]``.
    max_upload_mb : float, optional
        Largest upload in megabytes (default 25, or ``KMSEG_MAX_UPLOAD_MB``).
    max_pixels : int, optional
        Largest image in pixels (default 50 million, or ``KMSEG_MAX_PIXELS``).

    Returns
    -------
    int
        Streamlit's exit status (0 after a clean stop).
    """
    argv, env = build_command(host, port, extra_args, max_upload_mb, max_pixels)
    print(f"kmseg web app: http://{host}:{port}  (Ctrl+C to stop)", flush=True)
    proc = subprocess.Popen(argv, env=env)
    previous = _forward_sigterm(proc)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # The child got the same Ctrl+C; give it a moment to shut down cleanly.
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _forward_sigterm(proc: subprocess.Popen[bytes]) -> Any:
    """Stop Streamlit too when this process is terminated (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: object) -> None:
        proc.terminate()

    return signal.signal(signal.SIGTERM, stop)
