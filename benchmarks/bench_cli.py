"""How fast is the ``kmseg`` command, end to end, as a process?

1. One 12 MP JPEG to an indexed PNG at K=16: ``kmseg segment`` (start-up,
   decode, cluster, encode, write) beside the floor, a Python process that
   only decodes the same JPEG and encodes the same labels as an indexed PNG
   with Pillow. Target: kmseg <= 1.6 x the floor.
2. 200 images of about 1 MP: images per second with ``--jobs 1`` and
   ``--jobs 2``. Target: the second >= 1.8 x the first.

The test images are scikit-learn's sample photographs: the 12 MP one is
china.jpg resized to 4000 x 3000 with a little Gaussian noise (sigma 3, like
sensor noise; a bare upscale would have far fewer distinct colours than a
camera photo); the 1 MP ones are 1155 x 866 crops of china.jpg and
flower.jpg at different offsets and scales, noised the same way.

Run: ``python benchmarks/bench_cli.py`` (``--quick`` for 40 small images).
Prints a Markdown table and writes it to benchmarks/results/bench_cli.md.
Timings are the best of ``--repeat`` runs (this machine is shared). Python
bytecode caches are written and used, as for an installed kmseg.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)}
# An installed kmseg has its bytecode compiled; don't time the compiler.
ENV.pop("PYTHONDONTWRITEBYTECODE", None)

FLOOR = r"""
import sys
import numpy as np
from PIL import Image
jpeg, labels, palette, out = sys.argv[1:]
with Image.open(jpeg) as im:
    im.load()                                   # decode the JPEG
im = Image.fromarray(np.load(labels), "L")      # the labels kmseg found
im.putpalette(np.load(palette).tobytes())
im.save(out, "PNG")                             # indexed PNG, Pillow's defaults
"""


def sample(name: str) -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return load_sample_image(name)


def noisy(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    a = np.asarray(im).astype(np.int16) + rng.normal(0, 3, (im.height, im.width, 3)).round().astype(np.int16)
    return Image.fromarray(a.clip(0, 255).astype(np.uint8))


def make_big(path: Path) -> None:
    rng = np.random.default_rng(0)
    noisy(Image.fromarray(sample("china.jpg")).resize((4000, 3000), Image.LANCZOS), rng).save(path, quality=90)


def make_many(folder: Path, n: int, size: tuple[int, int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    photos = [Image.fromarray(sample(name)) for name in ("china.jpg", "flower.jpg")]
    for i in range(n):
        src = photos[i % 2]
        scale = 0.55 + 0.4 * ((i * 7) % 10) / 10
        w, h = int(src.width * scale), int(src.height * scale)
        x, y = (i * 13) % (src.width - w + 1), (i * 29) % (src.height - h + 1)
        crop = src.crop((x, y, x + w, y + h)).resize(size, Image.LANCZOS)
        noisy(crop, rng).save(folder / f"img{i:03d}.jpg", quality=90)


def timed(cmd: list[str], cwd: Path) -> float:
    return timed_cpu(cmd, cwd)[0]


def timed_cpu(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds of a command and the CPU seconds its processes used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def kmseg_cmd(*args: object) -> list[str]:
    return [sys.executable, "-m", "kmseg", *map(str, args)]


def bench_big(work: Path, repeat: int) -> list[tuple[str, str, str]]:
    """One 12 MP JPEG to an indexed PNG at K=16, beside the floor."""
    import kmseg

    big = work / "big.jpg"
    make_big(big)
    # The labels and palette kmseg finds, for the floor to encode.
    seg = kmseg.segment(big, 16, seed=0)
    np.save(work / "labels.npy", seg.labels)
    np.save(work / "palette.npy", seg.palette)
    # Where kmseg's time goes, in this process (no start-up).
    inproc: dict[str, list[float]] = {"load": [], "segment": [], "save": []}
    for _ in range(repeat):
        t0 = time.perf_counter()
        kmseg.load_image(big)
        t1 = time.perf_counter()
        seg = kmseg.segment(big, 16, seed=0)
        t2 = time.perf_counter()
        seg.save(work / "inproc.png")
        t3 = time.perf_counter()
        inproc["load"].append(t1 - t0)
        inproc["segment"].append(t2 - t1)
        inproc["save"].append(t3 - t2)
    del seg

    floor_cmd = [sys.executable, "-c", FLOOR, str(big), str(work / "labels.npy"),
                 str(work / "palette.npy"), str(work / "floor.png")]
    seg_cmd = kmseg_cmd("segment", big, "-k", 16, "--seed", 0, "-o", work / "kmseg.png", "--overwrite", "-q")
    floor_t, kmseg_t = [], []
    for _ in range(repeat):  # interleaved, so both see the same machine load
        floor_t.append(timed(floor_cmd, work))
        kmseg_t.append(timed(seg_cmd, work))
    start_t = min(timed(kmseg_cmd("--version"), work) for _ in range(repeat))
    ratio = min(kmseg_t) / min(floor_t)
    width, height = Image.open(big).size
    return [
        (f"floor: decode {width}x{height} JPEG + encode labels as indexed PNG (process)",
         f"{min(floor_t):.2f} s", f"median {statistics.median(floor_t):.2f} s"),
        ("`kmseg segment big.jpg -k 16 -o out.png` (process)", f"{min(kmseg_t):.2f} s",
         f"median {statistics.median(kmseg_t):.2f} s"),
        ("kmseg / floor (target <= 1.6)", f"{ratio:.2f} x", "PASS" if ratio <= 1.6 else "MISS"),
        ("PNG written: kmseg / floor (Pillow's defaults)",
         f"{(work / 'kmseg.png').stat().st_size / 1024:.0f} KB / {(work / 'floor.png').stat().st_size / 1024:.0f} KB",
         "kmseg: rows unfiltered, 4 bits per pixel, deflate in threads"),
        ("`kmseg --version` (start-up)", f"{start_t:.2f} s", ""),
        ("in-process `kmseg.load_image` (decode)", f"{min(inproc['load']):.2f} s", ""),
        ("in-process `kmseg.segment` (decode + cluster + label)", f"{min(inproc['segment']):.2f} s", ""),
        ("in-process `Segmentation.save` (indexed PNG, atomic)", f"{min(inproc['save']):.2f} s", ""),
    ]


def bench_many(work: Path, n_images: int, size: tuple[int, int]) -> list[tuple[str, str, str]]:
    """Images per second with --jobs 1 and --jobs 2."""
    folder = work / "many"
    make_many(folder, n_images, size)
    rows, rate = [], {}
    for jobs in (1, 2):
        cmd = kmseg_cmd("segment", folder, "-k", 16, "--seed", 0, "-o", work / f"out{jobs}", "--jobs", jobs, "-q")
        t, cpu = timed_cpu(cmd, work)
        rate[jobs] = n_images / t
        rows.append((f"{n_images} images of {size[0] * size[1] / 1e6:.1f} MP, K=16, `--jobs {jobs}`",
                     f"{rate[jobs]:.2f} images/s", f"{t:.1f} s wall, {cpu:.1f} s CPU: {cpu / t:.2f} cores busy"))
    speedup = rate[2] / rate[1]
    rows.append(("`--jobs 2` / `--jobs 1` (target >= 1.8)", f"{speedup:.2f} x", "PASS" if speedup >= 1.8 else "MISS"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs of the 12 MP case (best is kept)")
    ap.add_argument("--images", type=int, default=200, help="images of the throughput case")
    ap.add_argument("--quick", action="store_true", help="40 images of 0.25 MP, 1 repeat")
    ap.add_argument("--part", choices=("all", "big", "many"), default="all",
                    help="only the 12 MP case, or only the many-images case")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_cli.md")
    opts = ap.parse_args()
    load_start = os.getloadavg()[0]
    n_images, size = (40, (577, 433)) if opts.quick else (opts.images, (1155, 866))
    repeat = 1 if opts.quick else opts.repeat
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="kmseg-bench-") as tmp:
        work = Path(tmp)
        # Warm-up: writes the bytecode caches of every module the runs import.
        Image.fromarray(sample("china.jpg")[:64, :64]).save(work / "tiny.jpg")
        timed(kmseg_cmd("segment", work / "tiny.jpg", "-k", 2, "-o", work / "tiny.png", "-q"), work)
        timed(kmseg_cmd("segment", work / "tiny.jpg", work / "tiny.jpg", "-k", 2, "-o", work / "tinies", "-q"), work)
        if opts.part in ("all", "big"):
            rows += bench_big(work, repeat)
        if opts.part in ("all", "many"):
            rows += bench_many(work, n_images, size)

    import kmseg

    load = os.getloadavg()[0]
    head = (f"kmseg {kmseg.__version__}, Python {platform.python_version()}, NumPy {np.__version__}, "
            f"Pillow {Image.__version__}, {os.cpu_count()} CPUs, load average {load_start:.1f} at the start "
            f"and {load:.1f} at the end (other work on the machine), best of {repeat}")
    table = ["| case | result | note |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    text = head + "\n\n" + "\n".join(table) + "\n"
    print(text)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(text)


if __name__ == "__main__":
    main()
