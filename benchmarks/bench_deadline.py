"""How soon does work stop once its deadline expires?

For each heavy case of issue 14 on the 12 MP benchmark image, two figures:

* the longest gap between two deadline checks during a full run (the start
  and the end of the run count as checks): the worst time a cancel can wait,
  in wall time and in CPU time of one thread (the work between two checks
  of a thread; on a busy machine the wall time is longer by the load);
* the measured delay from ``Deadline.cancel()`` to ``DeadlineExceeded``
  for cancels at a few points of the run.

Cases: ``k=256 max_iter=10000``; ``k=256 spatial_weight=10 fit_size=2048
max_iter=10000``; ``k=16 min_region=1000000``; ``k=auto target_psnr=60``;
and ``k=16`` for reference.

Run: ``.venv/bin/python benchmarks/bench_deadline.py [--cases NAME ...]``.
"""

from __future__ import annotations

import argparse
import threading
import time

import kmseg
from kmseg.engine import _deadline

from _images import photo12mp

CASES: dict[str, dict] = {
    "k16": {"k": 16},
    "k256": {"k": 256, "max_iter": 10_000},
    "spatial": {"k": 256, "spatial_weight": 10, "fit_size": 2048, "max_iter": 10_000},
    "min_region": {"k": 16, "min_region": 1_000_000},
    "auto60": {"k": "auto", "target_psnr": 60},
}


def longest_gap(image, options: dict, limit: float) -> tuple[float, float, float, int]:
    """(longest wall gap between checks, longest CPU gap of one thread, whole run, checks)
    for one run (stopped at ``limit`` s), seconds."""
    stamps: list[float] = []
    cpu: dict[int, list[float]] = {}
    lock = threading.Lock()
    real = _deadline.check

    def traced() -> None:
        now, used = time.monotonic(), time.thread_time()
        with lock:
            stamps.append(now)
            cpu.setdefault(threading.get_ident(), []).append(used)
        real()

    _deadline.check = traced
    try:
        start, start_cpu = time.monotonic(), time.thread_time()
        try:
            kmseg.segment(image, seed=0, deadline=kmseg.Deadline(limit), **options)
        except kmseg.DeadlineExceeded:
            pass
        end, end_cpu = time.monotonic(), time.thread_time()
    finally:
        _deadline.check = real
    points = sorted([start, *stamps, end])
    gaps = [b - a for a, b in zip(points, points[1:])]
    main = cpu.setdefault(threading.get_ident(), [])
    main[:0], main[len(main):] = [start_cpu], [end_cpu]
    cpu_gaps = [b - a for times in cpu.values() for a, b in zip(times, times[1:])]
    return max(gaps), max(cpu_gaps), end - start, len(stamps)


def cancel_delay(image, options: dict, after: float) -> float | None:
    """Seconds from cancel (``after`` s into the run) to the error; None if the run ended first."""
    deadline = kmseg.Deadline()
    cancelled_at: list[float] = []

    def cancel() -> None:
        cancelled_at.append(time.monotonic())
        deadline.cancel()

    timer = threading.Timer(after, cancel)
    timer.start()
    try:
        kmseg.segment(image, seed=0, deadline=deadline, **options)
    except kmseg.DeadlineExceeded:
        return time.monotonic() - cancelled_at[0]
    finally:
        timer.cancel()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--cancel-at", nargs="*", type=float, default=[0.5, 2.0, 5.0])
    parser.add_argument("--limit", type=float, default=120.0, help="stop each run after this many seconds")
    args = parser.parse_args()
    image = photo12mp()
    for name in args.cases:
        gap, cpu_gap, whole, checks = longest_gap(image, CASES[name], args.limit)
        delays = [cancel_delay(image, CASES[name], t) for t in args.cancel_at if t < whole]
        shown = ", ".join(f"{d * 1000:.0f} ms" for d in delays if d is not None)
        print(f"{name:11s} run {whole:7.2f} s  checks {checks:6d}  longest gap {gap * 1000:6.0f} ms wall, "
              f"{cpu_gap * 1000:5.0f} ms CPU  cancel -> stop: {shown or '-'}", flush=True)


if __name__ == "__main__":
    main()
