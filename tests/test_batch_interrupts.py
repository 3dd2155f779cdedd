"""Ctrl-C at any instant of a batch ends it: the process pool's shutdown cannot hang."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_helpers import kmseg_env, like_a_terminal, no_traceback

CHILD = Path(__file__).with_name("interrupt_child.py")


# 36 and 76 land inside concurrent.futures.wait() on CPython 3.11: in the loops that take and release
# every future's lock. A KeyboardInterrupt raised there left a lock held; the pool's thread then blocked
# on that future for ever and `kmseg segment --jobs 2` slept with its two workers (seen under load).
@pytest.mark.parametrize("line", [36, 76])
def test_a_ctrl_c_landing_inside_the_pool_machinery_still_ends_the_batch(tmp_path: Path, line: int) -> None:
    rng = np.random.default_rng(line)
    (tmp_path / "in").mkdir()
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(tmp_path / "in" / f"p{i}.png")
    cmd = [sys.executable, str(CHILD), "segment", "in", "-k", "3", "-o", "out", "--jobs", "2"]
    p = subprocess.Popen(cmd, cwd=tmp_path, env=kmseg_env(KMSEG_TEST_SIGINT_AT=str(line)), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=like_a_terminal)
    try:
        _, err = p.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        pytest.fail("the batch was still running 90 s after a Ctrl-C")
    assert p.returncode == 130, err  # interrupted (0 would mean the Ctrl-C was never sent)
    assert no_traceback(err) and "interrupted" in err
    out = tmp_path / "out"
    assert {f.name for f in out.iterdir() if f.suffix != ".png"} == {"kmseg-manifest.jsonl"}  # no temporaries
    done = list(out.glob("*.png"))
    assert 1 <= len(done) < 8
    for f in done:
        with Image.open(f) as im:
            im.load()


def test_a_second_ctrl_c_stops_the_running_image_without_leaving_a_partial_file(tmp_path: Path) -> None:
    """The first Ctrl-C lets the running image finish; a second one stops it (its worker
    gets SIGTERM and its atomic writes remove their temporary files) instead of
    waiting for it as the pool shuts down."""
    rng = np.random.default_rng(0)
    (tmp_path / "in").mkdir()
    Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(tmp_path / "in" / "a-small.png")
    # Every pixel its own colour, 64 clusters and a paint-by-number sheet: minutes of work.
    Image.fromarray(rng.integers(0, 256, (2000, 2000, 3), dtype=np.uint8)).save(tmp_path / "in" / "b-large.png",
                                                                               compress_level=1)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "kmseg", "segment", "in", "-k", "64", "-o", "out", "--paint-by-number", "paint",
           "--jobs", "1"]
    p = subprocess.Popen(cmd, cwd=tmp_path, env=kmseg_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True, preexec_fn=like_a_terminal)
    try:
        deadline = time.monotonic() + 120
        while not (out / "a-small-k64.png").exists():  # the one worker has gone on to the large image
            assert p.poll() is None and time.monotonic() < deadline, "the small image was not written"
            time.sleep(0.01)
        os.killpg(p.pid, signal.SIGINT)
        time.sleep(0.5)
        os.killpg(p.pid, signal.SIGINT)
        _, err = p.communicate(timeout=120)
    except BaseException:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise
    assert p.returncode == 130, err
    assert no_traceback(err) and "interrupted" in err
    written = sorted(f.relative_to(tmp_path).as_posix() for folder in (out, tmp_path / "paint")
                     for f in folder.rglob("*") if f.is_file())
    # the small image's outputs, none of the large one's, no temporary file
    assert written == ["out/a-small-k64.png", "out/kmseg-manifest.jsonl", "paint/a-small-k64-paint.svg"]
