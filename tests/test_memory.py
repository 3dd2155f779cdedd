"""Memory per pixel: ``kmseg segment`` on a large image holds at most 6 bytes
a pixel beyond what it holds for a small one (issue 17, item 5).

Peak memory is the ``kmseg`` process's peak resident set (``ru_maxrss``, from
``os.wait4``), which is deterministic enough to assert, unlike time. Both images hold the same 4,096 colours (the large one is the
small one scaled up), so the fixed costs -- interpreter and imports, the
64 MB colour histogram, the 16 MB label table, the fit over the distinct
colours -- are the same in both runs and cancel out: what is left is what
grows with the pixels. (The small image is over 1 MP so that it takes the
same path as the large one: smaller images are counted by sorting, with
less memory than the 64 MB table.) Before the decoded image was read in bands, decoding
alone took about 10 bytes a pixel (Pillow's 4-byte RGBX image, the joined
bytes of ``tobytes()`` and the RGB array); now it is about 4 to 5 bytes
(Pillow's image, the label map, and for RGBA the alpha).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_helpers import kmseg_command, kmseg_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "wait4"), reason="peak memory of a child needs os.wait4 (POSIX)"),
]

#: The target of issue 17: at most this many bytes a pixel, plus a constant.
BYTES_PER_PIXEL = 6
#: Above steps._SORT_PIXELS (1 MP): counted in the colour table, as LARGE is.
SMALL = (1344, 960)
#: 32.3 MP: large enough that the pixels outweigh the fixed costs several times over.
LARGE = (6720, 4800)


# Runs its arguments as a child and prints the child's peak resident set (ru_maxrss). A child
# starts from the peak of the process that spawned it (Linux keeps ru_maxrss across exec, and
# fork/vfork share the parent's pages), so the command is started from this small process,
# not from the test process that has just drawn a 32 MP image.
_LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def peak_rss(args: list[object], cwd: Path) -> int:
    """Run ``kmseg ARGS``; its peak resident set in bytes (it must succeed)."""
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *kmseg_command(*args)], cwd=cwd, env=kmseg_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return int(done.stdout) * (1 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB elsewhere


def write_pair(folder: Path, mode: str) -> tuple[Path, Path]:
    """small.png and large.png (PNG, ``mode``): 4,096 random colours in blocks,
    the large one the small one scaled up (nearest neighbour)."""
    rng = np.random.default_rng(17)
    colors = rng.integers(0, 256, (4096, 3), dtype=np.uint8)
    pixels = colors[rng.integers(0, 4096, SMALL[::-1])]
    if mode == "RGBA":
        alpha = rng.integers(0, 256, SMALL[::-1], dtype=np.uint8)
        alpha[:30] = 0  # some fully transparent pixels too
        pixels = np.dstack([pixels, alpha])
    small = Image.fromarray(pixels, mode)
    small.save(folder / "small.png")
    small.resize(LARGE, Image.Resampling.NEAREST).save(folder / "large.png", compress_level=1)
    return folder / "small.png", folder / "large.png"


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_segment_memory_grows_by_at_most_6_bytes_a_pixel(tmp_path: Path, mode: str) -> None:
    from kmseg._steps import _SORT_PIXELS

    assert SMALL[0] * SMALL[1] > _SORT_PIXELS, "the small image must take the large one's path"
    small, large = write_pair(tmp_path, mode)
    peaks = {}
    for image in (small, large):
        out = tmp_path / f"{image.stem}-out.png"
        peaks[image.stem] = peak_rss(["segment", image, "-k", "16", "--seed", "1", "-q", "-o", out], tmp_path)
        with Image.open(out) as result, Image.open(image) as original:  # the run did its work
            assert result.size == original.size
    pixels = LARGE[0] * LARGE[1] - SMALL[0] * SMALL[1]
    per_pixel = (peaks["large"] - peaks["small"]) / pixels
    assert per_pixel <= BYTES_PER_PIXEL, (
        f"{mode}: peak memory grew by {per_pixel:.2f} bytes a pixel "
        f"({peaks['small'] / 2**20:.0f} MB -> {peaks['large'] / 2**20:.0f} MB)")
