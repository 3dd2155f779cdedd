"""``python -m kmseg.app`` really serves the page and stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import kmseg

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


# `kmseg app` is what `make run` starts; it once failed before Streamlit started.
@pytest.mark.parametrize("launcher", [("-m", "kmseg.app"), ("-m", "kmseg", "app")], ids=["module", "kmseg-app"])
def test_sigterm_stops_streamlit_too(tmp_path: Path, launcher: tuple[str, ...]) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    src = str(Path(kmseg.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    with (tmp_path / "app.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, *launcher, "--port", str(port)],
                                env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not _health(url):
                assert proc.poll() is None, (tmp_path / "app.log").read_text()
                assert time.monotonic() < deadline, "the app did not start"
                time.sleep(0.25)
            with urllib.request.urlopen(url, timeout=5) as r:
                assert r.status == 200 and b"<html" in r.read().lower()
            os.kill(proc.pid, signal.SIGTERM)  # the launcher only, not its group
            assert proc.wait(timeout=20) is not None
            deadline = time.monotonic() + 10
            while _health(url):  # the Streamlit child must go too
                assert time.monotonic() < deadline, "Streamlit kept running after SIGTERM"
                time.sleep(0.25)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    assert f"http://127.0.0.1:{port}" in (tmp_path / "app.log").read_text()
