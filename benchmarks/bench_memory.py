"""Time and peak memory of ``kmseg segment`` from 1 to 200 megapixels.

Issue 17, item 5: memory should grow by at most 6 bytes a pixel (plus a
constant), so that a 200 MP image runs with 2 GB free, while time keeps
following the distinct colours rather than the pixels.

Every case is one ``kmseg segment IMAGE -k K --seed 0 -o out.png`` process
(JPEG in, indexed PNG out), started from a small launcher process that
reads the child's peak resident set (``ru_maxrss`` from ``os.wait4``; a
child started straight from this script would inherit this script's peak,
which holds the 200 MP image while writing it). The images are JPEGs
(quality 90) made from ``photo12mp`` of ``_images.py``: scaled down to
1 MP, as it is (12 MP), tiled 2 x 2 (48 MP) and 4 x 4 (194 MP, past the
default pixel limit: ``--max-pixels`` is raised for it).

Run: ``python benchmarks/bench_memory.py`` (``--quick``: 1 and 12 MP only;
``--kmseg "PYTHON -m kmseg"`` measures another installation, e.g. an older
checkout, for a before/after table). Prints a Markdown table and writes it to
benchmarks/results/bench_memory.md. Times are from one run on a shared
machine: read them as rough.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _images import benchmark_images  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)}

#: name -> tiles per side of photo12mp (0: scaled down to about 1 MP).
SIZES = {"1 MP": 0, "12 MP": 1, "48 MP": 2, "194 MP": 4}

_LAUNCHER = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
try:
    _, status, usage = os.wait4(proc.pid, 0)
except KeyboardInterrupt:
    proc.kill()
    raise
seconds = time.perf_counter() - start
print(usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024), seconds)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def make_image(path: Path, tiles: int) -> tuple[int, int]:
    """Write the JPEG for ``tiles`` (see :data:`SIZES`); its (width, height)."""
    photo = Image.fromarray(benchmark_images(["photo12mp"])["photo12mp"])
    if tiles == 0:
        big = photo.resize((1224, 816), Image.Resampling.LANCZOS)
    else:
        w, h = photo.size
        big = Image.new("RGB", (w * tiles, h * tiles))
        for i in range(tiles):
            for j in range(tiles):
                big.paste(photo, (i * w, j * h))
    big.save(path, "JPEG", quality=90)
    return big.size


def run(kmseg: list[str], image: Path, k: int, pixels: int, timeout: float) -> tuple[int, float] | None:
    """(peak bytes, seconds) of one ``kmseg segment`` process, None if it took longer than ``timeout``."""
    out = image.with_name(f"{image.stem}-k{k}.png")
    cmd = [*kmseg, "segment", str(image), "-k", str(k), "--seed", "0", "-q", "--overwrite", "-o", str(out),
           "--max-pixels", str(max(pixels, 1))]
    try:
        done = subprocess.run([sys.executable, "-c", _LAUNCHER, "--", *cmd], env=ENV, capture_output=True,
                              text=True, timeout=timeout, cwd=image.parent)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        raise SystemExit(f"failed: {shlex.join(cmd)}\n{done.stderr}")
    peak, seconds = done.stdout.split()
    return int(peak), float(seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 and 12 MP only")
    ap.add_argument("--ks", default="16,256", help="comma-separated K values (default 16,256)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds allowed per run (longer: not timed)")
    ap.add_argument("--kmseg", default=None, help="the command to measure (default: this Python -m kmseg)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_memory.md")
    args = ap.parse_args()
    kmseg = shlex.split(args.kmseg) if args.kmseg else [sys.executable, "-m", "kmseg"]
    shown = args.kmseg or "python -m kmseg"
    ks = [int(k) for k in args.ks.split(",")]
    sizes = {name: t for name, t in SIZES.items() if not args.quick or t <= 1}
    rows = []
    previous: dict[int, tuple[int, int]] = {}  # K -> (pixels, peak) of the image before
    with tempfile.TemporaryDirectory(prefix="kmseg-bench-memory-") as tmp:
        for name, tiles in sizes.items():
            image = Path(tmp) / f"{name.replace(' ', '')}.jpg"
            width, height = make_image(image, tiles)
            pixels = width * height
            for k in ks:
                result = run(kmseg, image, k, pixels, args.timeout)
                if result is None:
                    rows.append((name, f"{width} x {height}", str(k), f"> {args.timeout:.0f}", "-", "-", "-"))
                else:
                    peak, seconds = result
                    base_pixels, base_peak = previous.get(k, (pixels, peak))
                    previous[k] = pixels, peak
                    growth = f"{(peak - base_peak) / (pixels - base_pixels):.2f}" if pixels > base_pixels else "-"
                    rows.append((name, f"{width} x {height}", str(k), f"{seconds:.1f}",
                                 f"{peak / 2**20:.0f}", f"{peak / pixels:.2f}", growth))
                print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
            image.unlink()
    header = ("image", "size", "K", "seconds", "peak RSS (MB)", "peak bytes / pixel",
              "growth bytes / pixel")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    table = "\n".join(lines)
    note = (f"`{shown} segment IMAGE -k K --seed 0 -o out.png` (JPEG in, indexed PNG out), "
            f"one run each; {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{time.strftime('%Y-%m-%d')}. Growth: (peak - the previous image's peak) / (pixels - its "
            "pixels). The 48 and 194 MP images are tiles of the 12 MP one, with the same colours, so "
            "their growth is what a pixel costs without the fixed costs (interpreter, imports, the "
            "64 MB histogram, the fit over the distinct colours); from 1 to 12 MP the colours grow too.")
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(f"# bench_memory\n\n{note}\n\n{table}\n")


if __name__ == "__main__":
    main()
