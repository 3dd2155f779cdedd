"""Spatial segmentation against scikit-image's SLIC at the same number of
segments (issue 17, item 4).

kmseg is asked for K segments (``spatial_weight`` 1 and 2); every cluster
ends as one connected region, so it gives K. SLIC (compactness 10, its
connectivity enforcement on) gives fewer segments than asked, so it is
asked again with ``n_segments`` scaled until its count is nearest K.
Columns: segments (labels), connected regions (4-connectivity), PSNR of the
picture painted with every segment's colour (kmseg: its palette, the
cluster centres, and also the segment means; SLIC: the segment means), and
time (min and median of ``--repeat`` runs).

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_spatial.py
(needs the bench extra: scikit-image).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
from _images import sample

import kmseg
from kmseg.features._regions import components


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times), out


def psnr(img: np.ndarray, painted: np.ndarray) -> float:
    mse = float(((img.astype(float) - painted.astype(float)) ** 2).mean())
    return 10 * np.log10(255**2 / mse)


def mean_painted(img: np.ndarray, lab: np.ndarray) -> np.ndarray:
    n = int(lab.max()) + 1
    counts = np.maximum(np.bincount(lab.ravel(), minlength=n), 1)
    means = np.stack([np.bincount(lab.ravel(), weights=img[..., c].ravel(), minlength=n) / counts
                      for c in range(3)], 1)
    return np.clip(np.rint(means), 0, 255)[lab]


def slic_near(img: np.ndarray, k: int) -> int:
    """The n_segments that makes SLIC give the number of segments nearest k."""
    from skimage.segmentation import slic

    asked, best = k, (None, k)
    for _ in range(4):
        got = len(np.unique(slic(img, n_segments=asked, compactness=10, start_label=0)))
        if best[0] is None or abs(got - k) < abs(best[0] - k):
            best = (got, asked)
        if got == k:
            break
        asked = max(1, round(asked * k / max(got, 1)))
    return best[1]


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
    from skimage.segmentation import slic

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--k", type=int, nargs="+", default=[100, 250])
    args = ap.parse_args()
    header()
    print("\n| image | method | segments asked | segments | connected regions | PSNR dB (palette) "
          "| PSNR dB (segment means) | min s | median s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in ("china", "flower"):
        img = np.array(sample(name))
        for k in args.k:
            for w in (1.0, 2.0):
                t0, t1, seg = timed(lambda: kmseg.segment(img, k, seed=0, spatial_weight=w), args.repeat)
                print(f"| {name} | kmseg spatial_weight={w:g} | {k} | {len(np.unique(seg.labels))} | "
                      f"{components(seg.labels)[1]} | {seg.psnr:.2f} | {psnr(img, mean_painted(img, seg.labels)):.2f} "
                      f"| {t0:.3f} | {t1:.3f} |")
            for asked in dict.fromkeys((k, slic_near(img, k))):
                t0, t1, lab = timed(lambda: slic(img, n_segments=asked, compactness=10, start_label=0), args.repeat)
                print(f"| {name} | skimage SLIC compactness=10 | {asked} | {len(np.unique(lab))} | "
                      f"{components(lab)[1]} | | {psnr(img, mean_painted(img, lab)):.2f} | {t0:.3f} | {t1:.3f} |")


if __name__ == "__main__":
    main()
