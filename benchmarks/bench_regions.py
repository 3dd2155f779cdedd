"""Timings of clean regions (issue 17, item 3) at 12 MP, K=8.

1. ``segment(img, 8)`` plain and with ``min_region=500``: what min_region
   adds, as a ratio of the plain run's time (CPU and wall).
2. The labelling alone on the same K=8 label map: kmseg's
   ``_regions.components`` (multi-label, 4-connectivity) beside OpenCV's
   ``connectedComponentsWithStats`` (binary images only: one call on the
   mask of the most common label, and the K calls a multi-label map needs),
   scikit-image's ``measure.label`` (multi-label) and ``merge_small`` alone.

With ``--src NAME=PATH`` (twice or more, e.g. ``before=/work/main/src
after=src``) every source tree runs in its own worker process (its
``PYTHONPATH``, built extensions in place), and the workers take turns:
each measurement is repeated A, B, A, B, ... so both see the same load.
Without it the installed kmseg is timed alone.

Images: bench_core's 12 MP photo-like picture (china and flower tiled,
upscaled, sensor noise) and china.jpg alone upscaled to the same size with
Lanczos (Pillow), noised the same way.

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_regions.py
(needs the bench extra: opencv-python-headless, scikit-image). Times are the
min and median of ``--repeat`` runs; CPU is the process's CPU time (all its
threads), wall the elapsed time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
IMAGES = ("photo12mp", "china12mp")


def china12mp() -> np.ndarray:
    from _images import PHOTO_SIZE, add_noise, sample
    from PIL import Image

    big = Image.fromarray(sample("china")).resize(PHOTO_SIZE, Image.Resampling.LANCZOS)
    return add_noise(np.asarray(big), np.random.default_rng(0))


# ------------------------------------------------------------------ worker: one kmseg, one process


class Worker:
    """The measurements, in the process of one kmseg source tree."""

    def __init__(self, min_region: int) -> None:
        from _images import photo12mp

        self.min_region = min_region
        self.images = {"photo12mp": photo12mp(), "china12mp": china12mp()}
        self.labels: dict[str, np.ndarray] = {}
        self.cases: dict[tuple[str, str], tuple[Callable[[], object], str]] = {}

    def case(self, what: str, image: str) -> tuple[Callable[[], object], str]:
        """The function to time for one measurement, and a note."""
        import kmseg
        from kmseg.features._regions import components, merge_small

        img = self.images[image]
        if image not in self.labels:
            self.labels[image] = kmseg.segment(img, 8, seed=0).labels
        labels = self.labels[image]
        if what == "plain":
            return lambda: kmseg.segment(img, 8, seed=0), ""
        if what == "merged":
            seg = kmseg.segment(img, 8, seed=0, min_region=self.min_region)
            return (lambda: kmseg.segment(img, 8, seed=0, min_region=self.min_region),
                    f"regions {seg.regions_before} -> {seg.regions}")
        if what == "merge_small":
            return lambda: merge_small(labels, self.min_region), ""
        if what == "components":
            return lambda: components(labels), f"{components(labels)[1]} regions"
        import cv2

        if what == "opencv_one":
            mask = (labels == int(np.bincount(labels.ravel()).argmax())).astype(np.uint8)
            return lambda: cv2.connectedComponentsWithStats(mask, connectivity=4, ltype=cv2.CV_32S), ""
        if what == "opencv_all":
            values = np.unique(labels)

            def every() -> None:
                for v in values:
                    cv2.connectedComponentsWithStats((labels == v).astype(np.uint8), connectivity=4,
                                                     ltype=cv2.CV_32S)

            return every, f"{values.size} masks"
        if what == "skimage":
            from skimage import measure

            signed = labels.astype(np.int32)  # background=-1: every label is labelled
            return lambda: measure.label(signed, connectivity=1, background=-1), ""
        raise ValueError(what)

    def time(self, what: str, image: str) -> dict[str, object]:
        if (what, image) not in self.cases:
            self.cases[(what, image)] = self.case(what, image)
        fn, note = self.cases[(what, image)]
        cpu, wall = time.process_time(), time.perf_counter()
        fn()
        return {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall, "note": note}


def serve(min_region: int) -> None:
    """Worker loop: a JSON request a line on stdin, a JSON answer a line on stdout."""
    import kmseg

    worker = Worker(min_region)
    print(json.dumps({"ready": kmseg.__file__}), flush=True)
    for line in sys.stdin:
        what, image = json.loads(line)
        print(json.dumps(worker.time(what, image)), flush=True)


class Remote:
    """A worker process on one source tree."""

    def __init__(self, name: str, src: str, min_region: int) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(src).resolve()), str(HERE)]))
        self.name = name
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", "--min-region", str(min_region)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.where = json.loads(self._line())["ready"]

    def _line(self) -> str:
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError(f"worker {self.name} stopped")
        return line

    def time(self, what: str, image: str) -> dict[str, object]:
        self.proc.stdin.write(json.dumps([what, image]) + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        return json.loads(self._line())

    def close(self) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.wait()


class Local:
    """The installed kmseg, in this process."""

    def __init__(self, min_region: int) -> None:
        import kmseg

        self.name, self.where, self.worker = "kmseg", kmseg.__file__, Worker(min_region)

    def time(self, what: str, image: str) -> dict[str, object]:
        return self.worker.time(what, image)

    def close(self) -> None:
        pass


# ------------------------------------------------------------------ report


LABELS = {
    "plain": "segment K=8",
    "merged": "segment K=8 min_region={m}",
    "merge_small": "merge_small alone",
    "components": "components (all labels, int64 ids)",
    "opencv_one": "OpenCV connectedComponentsWithStats, one mask",
    "opencv_all": "OpenCV connectedComponentsWithStats, every label's mask",
    "skimage": "skimage measure.label (all labels)",
}


def stats(runs: list[dict[str, object]], key: str) -> tuple[float, float]:
    values = [float(r[key]) for r in runs]  # type: ignore[arg-type]
    return min(values), statistics.median(values)


def header(workers: list) -> None:
    import skimage

    versions = [f"numpy {np.__version__}", f"scikit-image {skimage.__version__}"]
    try:
        import cv2

        versions.append(f"OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads)")
    except ImportError:
        pass
    print(f"{os.cpu_count()} CPUs; {'; '.join(versions)}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    for w in workers:
        print(f"- {w.name}: {Path(w.where).parent.parent}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--min-region", type=int, default=500)
    ap.add_argument("--src", action="append", default=[], metavar="NAME=PATH",
                    help="a kmseg source tree to time (give two or more to compare them)")
    ap.add_argument("--peers", action=argparse.BooleanOptionalAction, default=True,
                    help="time OpenCV and scikit-image too")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(args.min_region)
    workers = [Remote(*spec.split("=", 1), args.min_region) for spec in args.src] or [Local(args.min_region)]
    header(workers)
    # Measured in turns (plain and min_region, version A and B, ...) so that they share the machine's load.
    groups = [("plain", "merged"), ("merge_small",), ("components",)]
    if args.peers:
        groups += [("opencv_one",), ("opencv_all",), ("skimage",)]
    cases = [what for group in groups for what in group]
    load_before = os.getloadavg()
    results: dict[tuple[str, str, str], list[dict[str, object]]] = {}
    for image in IMAGES:
        for group in groups:
            peer = group[0].startswith(("opencv", "skimage"))
            takers = workers[-1:] if peer else workers  # the peers do not depend on kmseg's version
            repeat = max(1, args.repeat // 2) if group[0] in ("opencv_all", "skimage") else args.repeat
            for _ in range(repeat):
                for what in group:
                    for w in takers:
                        results.setdefault((image, what, w.name), []).append(w.time(what, image))
    load_after = os.getloadavg()
    for w in workers:
        w.close()
    print(f"load average (1, 5, 15 min): before {', '.join(f'{v:.1f}' for v in load_before)}; "
          f"after {', '.join(f'{v:.1f}' for v in load_after)}")
    print(f"\n## min_region={args.min_region} at 12 MP, K=8: repeats {args.repeat}, min / median\n")
    print("| image | kmseg | what | CPU s | wall s | note |")
    print("|---|---|---|---|---|---|")
    last = workers[-1].name
    for image in IMAGES:
        for w in workers:
            for what in cases:
                runs = results.get((image, what, w.name))
                if runs is None:
                    continue
                cpu, wall = stats(runs, "cpu"), stats(runs, "wall")
                note = str(runs[0]["note"])
                if what == "merged":
                    plain = results[(image, "plain", w.name)]
                    pc, pw = stats(plain, "cpu"), stats(plain, "wall")
                    print(f"| {image} | {w.name} | {LABELS[what].format(m=args.min_region)} | {cpu[0]:.3f} / "
                          f"{cpu[1]:.3f} | {wall[0]:.3f} / {wall[1]:.3f} | {note} |")
                    print(f"| {image} | {w.name} | **added by min_region** | {cpu[0] - pc[0]:.3f} / "
                          f"{cpu[1] - pc[1]:.3f} | {wall[0] - pw[0]:.3f} / {wall[1] - pw[1]:.3f} | "
                          f"**{(cpu[0] - pc[0]) / pc[0]:.2f}x** the plain run's CPU, "
                          f"{(wall[0] - pw[0]) / pw[0]:.2f}x its wall (min) |")
                    continue
                if what.startswith(("opencv", "skimage")):
                    ours = stats(results[(image, "components", last)], "cpu")
                    ours_wall = stats(results[(image, "components", last)], "wall")
                    note = (f"{note}; " if note else "") + (f"kmseg {last} components / this: "
                                                            f"{ours[0] / cpu[0]:.2f}x CPU, "
                                                            f"{ours_wall[0] / wall[0]:.2f}x wall (min)")
                print(f"| {image} | {'-' if what.startswith(('opencv', 'skimage')) else w.name} | "
                      f"{LABELS[what]} | {cpu[0]:.3f} / {cpu[1]:.3f} | {wall[0]:.3f} / {wall[1]:.3f} | {note} |")


if __name__ == "__main__":
    main()
