"""How soon does work stop once its deadline expires?

For each heavy case of issue 14 on the 12 MP benchmark image, two figures:

* the longest gap between two deadline checks during a full run (the start
  and the end of the run count as checks): the worst time a cancel can wait;
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


def longest_gap(image, options: dict) -> tuple[float, float, int]:
    """(longest gap between checks, whole run, checks) for one run, seconds."""
    stamps: list[float] = []
    lock = threading.Lock()
    real = _deadline.check

    def traced() -> None:
        with lock:
            stamps.append(time.monotonic())
        real()

    _deadline.check = traced
    try:
        start = time.monotonic()
        kmseg.segment(image, seed=0, deadline=kmseg.Deadline(3600), **options)
        end = time.monotonic()
    finally:
        _deadline.check = real
    points = sorted([start, *stamps, end])
    gaps = [b - a for a, b in zip(points, points[1:])]
    return max(gaps), end - start, len(stamps)


def cancel_delay(image, options: dict, after: float) -> float | None:
    """Seconds from cancel (``after`` s into the run) to the error; None if the run ended first."""
    deadline = kmseg.Deadline()
    timer = threading.Timer(after, deadline.cancel)
    cancelled_at: list[float] = []
    timer.start()
    threading.Timer(after, lambda: cancelled_at.append(time.monotonic())).start()
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
    args = parser.parse_args()
    image = photo12mp()
    for name in args.cases:
        gap, whole, checks = longest_gap(image, CASES[name])
        delays = [cancel_delay(image, CASES[name], t) for t in args.cancel_at if t < whole]
        shown = ", ".join(f"{d * 1000:.0f} ms" for d in delays if d is not None)
        print(f"{name:11s} run {whole:7.2f} s  checks {checks:6d}  longest gap {gap * 1000:6.0f} ms  "
              f"cancel -> stop: {shown or '-'}", flush=True)


if __name__ == "__main__":
    main()
