"""Batch throughput: the local process pool against a Dask LocalCluster.

1. ``--n`` images of about 1 MP (1224 x 816 JPEGs, ``_images.one_mp_images``)
   segmented at K=8 (seed 0) by :func:`kmseg.batch.segment_many` into a
   fresh folder: images per second with the local pool of 1 and 2 processes
   and with a 2-worker ``LocalCluster`` (single-threaded worker processes)
   through ``client.get_executor()`` as ``kmseg segment --dask local`` makes
   it (:func:`kmseg.batch.dask.dask_executor`), and the ratios.
2. Per-task overhead: ``--tasks`` calls of a no-op through each executor
   (wall time / tasks), and ``--tasks`` 8 x 8 images through
   :func:`kmseg.batch.process_item` (the whole per-image path with almost no
   clustering), so the fixed cost of one image can be read off.

Start-up of the pool or cluster is timed separately and not counted in the
throughput. Run: ``python benchmarks/bench_batch.py [--n 500]``; prints a
Markdown table and writes it to benchmarks/results/bench_batch.md. The
machine has 2 cores shared with other work: figures are the best of
``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from _images import one_mp_images, write_jpeg  # noqa: E402

from kmseg import batch  # noqa: E402


def noop(x: int) -> int:
    return x


def make_images(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, n, 50):  # in chunks, to keep memory small
        for i, a in enumerate(one_mp_images(min(50, n - start), seed=start)):
            write_jpeg(folder / f"img{start + i:04d}.jpg", a)


def make_tiny(folder: Path, n: int) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (8, 8), (i % 256, 40, 200)).save(folder / f"t{i:04d}.png")


def best_of(repeat: int, fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(repeat))


def time_batch(src: Path, executor: Executor | None, jobs: int | None, k: int) -> float:
    out = Path(tempfile.mkdtemp(prefix="kmseg-bench-out-"))
    try:
        t = time.perf_counter()
        results = batch.segment_many([src], out, k, seed=0, executor=executor, jobs=jobs, manifest=True)
        seconds = time.perf_counter() - t
        bad = [r for r in results if r.status != "done"]
        assert not bad, bad[:3]
        return seconds
    finally:
        shutil.rmtree(out, ignore_errors=True)


def time_noops(executor: Executor, tasks: int) -> float:
    t = time.perf_counter()
    wait([executor.submit(noop, i) for i in range(tasks)])
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="1 MP images (default 500)")
    ap.add_argument("--tasks", type=int, default=500, help="tasks of the overhead runs (default 500)")
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--out", default=str(HERE / "results" / "bench_batch.md"))
    args = ap.parse_args(argv)

    import distributed

    work = Path(tempfile.mkdtemp(prefix="kmseg-bench-"))
    rows: list[tuple[str, Any, Any, Any]] = []
    try:
        t = time.perf_counter()
        make_images(work / "mp", args.n)
        make_tiny(work / "tiny", args.tasks)
        print(f"made {args.n} 1 MP images and {args.tasks} tiny ones in {time.perf_counter() - t:.1f} s",
              file=sys.stderr)

        figures: dict[str, float] = {}
        for jobs in (1, 2):
            s = best_of(args.repeat, lambda: time_batch(work / "mp", None, jobs, args.k))
            figures[f"pool{jobs}"] = args.n / s
            print(f"local pool, {jobs} process(es): {args.n / s:.2f} images/s", file=sys.stderr)
            st = best_of(args.repeat, lambda: time_batch(work / "tiny", None, jobs, 2))
            figures[f"pool{jobs}_tiny"] = st / args.tasks
        with ProcessPoolExecutor(2) as pool:
            wait([pool.submit(noop, i) for i in range(4)])  # started
            figures["pool_noop"] = best_of(args.repeat, lambda: time_noops(pool, args.tasks)) / args.tasks

        t = time.perf_counter()
        from kmseg.batch.dask import dask_executor  # what `kmseg segment --dask local` uses

        with dask_executor("local", workers=2) as (ex, _):
            figures["dask_startup"] = time.perf_counter() - t
            s = best_of(args.repeat, lambda: time_batch(work / "mp", ex, None, args.k))
            figures["dask2"] = args.n / s
            print(f"Dask LocalCluster, 2 workers: {args.n / s:.2f} images/s", file=sys.stderr)
            figures["dask_noop"] = best_of(args.repeat, lambda: time_noops(ex, args.tasks)) / args.tasks
            figures["dask2_tiny"] = best_of(args.repeat, lambda: time_batch(work / "tiny", ex, None, 2)) / args.tasks
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = [
        ("local pool, 1 process", f"{figures['pool1']:.2f}", "1.00", f"{figures['pool1_tiny'] * 1e3:.1f}"),
        ("local pool, 2 processes", f"{figures['pool2']:.2f}", f"{figures['pool2'] / figures['pool1']:.2f}",
         f"{figures['pool2_tiny'] * 1e3:.1f}"),
        ("Dask LocalCluster, 2 workers", f"{figures['dask2']:.2f}", f"{figures['dask2'] / figures['pool1']:.2f}",
         f"{figures['dask2_tiny'] * 1e3:.1f}"),
    ]
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    lines = [
        f"# bench_batch: {args.n} images of 1224 x 816 (1.0 MP) at K={args.k}",
        "",
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load[0]:.2f} at the end, "
        f"distributed {distributed.__version__}; best of {args.repeat}.",
        "",
        "| executor | images/s | vs 1 process | wall ms per 8x8 image (fixed cost) |",
        "|---|---:|---:|---:|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
        f"Dask 2 workers / local pool 2 processes: {figures['dask2'] / figures['pool2']:.2f}.",
        "",
        f"No-op task, wall time per task with {args.tasks} submitted at once: process pool (2) "
        f"{figures['pool_noop'] * 1e3:.2f} ms, Dask LocalCluster (2) {figures['dask_noop'] * 1e3:.2f} ms. "
        f"LocalCluster start-up: {figures['dask_startup']:.1f} s (not counted above).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
