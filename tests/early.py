"""Long commands that need little of the test process, started when the test
session starts and collected by their test.

A test marked ``@pytest.mark.early(COMMAND)``, COMMAND an :class:`Early`, has
the command started as soon as the session has collected it (see conftest.py),
at the lowest CPU priority, so it uses what the other tests leave idle (a
network wait, the second core while a test runs on one) and slows them
hardly at all. The test then takes :meth:`Early.result`, which starts the
command itself if it was not started (a test run on its own). Only the wall
time moves: the command and what the test checks of it are the same.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Early:
    """One command; ``prepare(folder)`` writes its inputs in a fresh folder and
    returns ``(argv, keyword arguments of subprocess.Popen)``."""

    def __init__(self, prepare: Callable[[Path], tuple[list[str], dict[str, Any]]]):
        self.prepare = prepare
        self.folder: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.process is not None:
            return
        self.folder = Path(tempfile.mkdtemp(prefix="kmseg-early-"))
        argv, kwargs = self.prepare(self.folder)
        # Its output goes to files: a pipe nobody reads yet would stop it when full.
        with open(self.folder / "early.stdout", "wb") as out, open(self.folder / "early.stderr", "wb") as err:
            self.process = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                            preexec_fn=_idle_priority, **kwargs)

    def result(self, timeout: float) -> tuple[subprocess.CompletedProcess[str], Path]:
        """The finished command (raises ``subprocess.TimeoutExpired`` after
        ``timeout`` seconds of waiting here) and its folder."""
        self.start()
        assert self.process is not None and self.folder is not None
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        out, err = ((self.folder / f"early.{name}").read_text(errors="replace") for name in ("stdout", "stderr"))
        return subprocess.CompletedProcess(self.process.args, self.process.returncode, out, err), self.folder

    def stop(self) -> None:
        """Kill the command if it still runs and remove its folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _idle_priority() -> None:
    os.nice(19)
