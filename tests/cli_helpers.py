"""Helpers for the command-line tests: run the real ``kmseg`` command, make real images."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SRC = Path(__file__).resolve().parents[1] / "src"


def kmseg_env(**extra: str) -> dict[str, str]:
    """Environment for a ``kmseg`` child process that imports this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)
    env.pop("COLUMNS", None)
    env.update(extra)
    return env


def kmseg_command(*args: object) -> list[str]:
    """The argv of ``python -m kmseg ARGS`` with this interpreter."""
    return [sys.executable, "-m", "kmseg", *map(str, args)]


def run_kmseg(*args: object, cwd: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``kmseg ARGS`` in ``cwd`` and capture its output as text."""
    return subprocess.run(
        kmseg_command(*args), cwd=cwd, env=kmseg_env(**env), capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )


@functools.cache
def _sample(name: str) -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return load_sample_image(name)


def photo(width: int, height: int, name: str = "china.jpg", shift: int = 0) -> Image.Image:
    """A real photograph (scikit-learn's sample images) resized to width x height.

    ``shift`` crops a different part first, so several images differ.
    """
    a = _sample(name)
    h, w = a.shape[:2]
    x = (shift * 37) % (w // 4)
    y = (shift * 23) % (h // 4)
    return Image.fromarray(a[y:y + 3 * h // 4, x:x + 3 * w // 4]).resize((width, height), Image.LANCZOS)


def save_photo(path: Path, width: int = 96, height: int = 64, name: str = "china.jpg", shift: int = 0) -> Path:
    """Write :func:`photo` to ``path`` (format from the extension)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    photo(width, height, name, shift).save(path)
    return path


def colours(path: Path) -> set[tuple[int, ...]]:
    """Distinct RGB colours of an image file."""
    with Image.open(path) as im:
        a = np.asarray(im.convert("RGB")).reshape(-1, 3)
    return set(map(tuple, np.unique(a, axis=0).tolist()))


def no_traceback(text: str) -> bool:
    """True if ``text`` holds no Python traceback."""
    return "Traceback (most recent call last)" not in text


def like_a_terminal() -> None:
    """``preexec_fn`` for a child that gets Ctrl-C as from a terminal: SIGINT
    at its default. A suite started in the background (``make test &``) hands
    its children SIGINT ignored, and a program keeps an inherited ignore."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
