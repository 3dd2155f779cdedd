"""Timings of clean regions (issue 17, item 3) at 12 MP, K=8.

1. ``segment(img, 8)`` plain and with ``min_region=500``: what min_region
   adds, against the plain run's time.
2. The labelling alone on the same K=8 label map: kmseg's
   ``_regions.components`` (multi-label, 4-connectivity) beside OpenCV's
   ``connectedComponentsWithStats`` (binary images only: one call on the
   mask of the most common label, and the K calls a multi-label map needs),
   scikit-image's ``measure.label`` (multi-label) and ``merge_small`` alone.

Images: bench_core's 12 MP photo-like picture (china and flower tiled,
upscaled, sensor noise) and china.jpg alone upscaled to the same size with
Lanczos (Pillow), noised the same way.

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_regions.py
(needs the bench extra: opencv-python-headless, scikit-image). Times are the
min and median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
from _images import PHOTO_SIZE, add_noise, photo12mp, sample
from PIL import Image

import kmseg
from kmseg.features._regions import components, merge_small


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(min, median) seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def china12mp() -> np.ndarray:
    big = Image.fromarray(sample("china")).resize(PHOTO_SIZE, Image.Resampling.LANCZOS)
    return add_noise(np.asarray(big), np.random.default_rng(0))


def row(name: str, what: str, t: tuple[float, float], note: str = "") -> None:
    print(f"| {name} | {what} | {t[0]:.3f} | {t[1]:.3f} | {note} |")


def header() -> None:
    """CPU count, versions and load: the context of the figures."""
    import skimage

    versions = [f"kmseg {kmseg.__version__}", f"numpy {np.__version__}", f"scikit-image {skimage.__version__}"]
    try:
        import cv2

        versions.append(f"OpenCV {cv2.__version__}")
    except ImportError:
        pass
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{os.cpu_count()} CPUs; {'; '.join(versions)}; load average {load}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--min-region", type=int, default=500)
    args = ap.parse_args()
    header()
    import cv2
    from skimage import measure

    images = {"photo12mp": photo12mp(), "china12mp": china12mp()}
    print(f"\n## min_region={args.min_region} at 12 MP, K=8 (OpenCV threads: {cv2.getNumThreads()})\n")
    print("| image | what | min s | median s | note |")
    print("|---|---|---|---|---|")
    for name, img in images.items():
        plain_t = timed(lambda: kmseg.segment(img, 8, seed=0), args.repeat)
        row(name, "segment K=8", plain_t)
        merged_t = timed(lambda: kmseg.segment(img, 8, seed=0, min_region=args.min_region), args.repeat)
        seg = kmseg.segment(img, 8, seed=0, min_region=args.min_region)
        added = (merged_t[0] - plain_t[0], merged_t[1] - plain_t[1])
        row(name, f"segment K=8 min_region={args.min_region}", merged_t,
            f"regions {seg.regions_before} -> {seg.regions}")
        row(name, "added by min_region", added, f"{added[0] / plain_t[0]:.2f}x the plain run (min)")
        labels = kmseg.segment(img, 8, seed=0).labels
        row(name, "kmseg merge_small alone", timed(lambda: merge_small(labels, args.min_region), args.repeat))
        ours = timed(lambda: components(labels), args.repeat)
        row(name, "kmseg components (all labels, int64 ids)", ours, f"{components(labels)[1]} regions")
        common = int(np.bincount(labels.ravel()).argmax())
        mask = (labels == common).astype(np.uint8)
        one = timed(lambda: cv2.connectedComponentsWithStats(mask, connectivity=4, ltype=cv2.CV_32S), args.repeat)
        row(name, "OpenCV connectedComponentsWithStats, one mask", one,
            f"kmseg / OpenCV {ours[0] / one[0]:.2f}x (min)")

        def opencv_all() -> None:
            for v in np.unique(labels):
                cv2.connectedComponentsWithStats((labels == v).astype(np.uint8), connectivity=4, ltype=cv2.CV_32S)

        every = timed(opencv_all, args.repeat)
        row(name, f"OpenCV connectedComponentsWithStats, {len(np.unique(labels))} masks", every,
            f"kmseg / OpenCV {ours[0] / every[0]:.2f}x (min)")
        signed = labels.astype(np.int32)  # background=-1: every label is labelled
        sk = timed(lambda: measure.label(signed, connectivity=1, background=-1), max(1, args.repeat // 2))
        row(name, "skimage measure.label (all labels)", sk, f"kmseg / skimage {ours[0] / sk[0]:.2f}x (min)")


if __name__ == "__main__":
    main()
