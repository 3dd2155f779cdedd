"""Spatial segmentation against scikit-image's SLIC at the same number of
segments (issue 17, item 4).

kmseg is asked for K segments (``spatial_weight`` 1 and 2); every cluster
ends as one connected region, so it gives K. SLIC (compactness 10, its
connectivity enforcement on) gives fewer segments than asked, so it is
asked again with ``n_segments`` scaled until its count is nearest K (on
images above 2 MP the search runs on a copy downscaled to about 1.3 MP, and
the count SLIC then gives on the full image is reported).
Columns: segments (labels), connected regions (4-connectivity), PSNR of the
picture painted with every segment's colour (kmseg: its palette, the
cluster centres, and also the segment means; SLIC: the segment means),
time (wall clock, min and median of the repeats; CPU time, min) and, for
kmseg, its time over SLIC's at the count nearest K (wall: min over min and
median over median; CPU: min over min). The runs of one image and K are interleaved (one of each per
repeat), so a change in the machine's load hits them alike.

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_spatial.py
(needs the bench extra: scikit-image). ``--images china flower photo12mp``
(the 12 MP picture of benchmarks/_images.py), ``--k 100 250``,
``--repeat 5`` (``--repeat-large 2`` above 2 MP).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
from _images import IMAGE_NAMES, benchmark_images

import kmseg
from kmseg.features._regions import components

#: Pixels above which an image counts as large (fewer repeats, SLIC's count searched on a copy).
LARGE = 2_000_000


def interleaved(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, tuple[float, float, float, object]]:
    """Each function run ``repeat`` times, one run of each in turn: (min
    wall s, median wall s, min CPU s, last output) by name."""
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    out: dict[str, object] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            t, c = time.perf_counter(), time.process_time()
            out[name] = fn()
            cpu[name].append(time.process_time() - c)
            wall[name].append(time.perf_counter() - t)
    return {name: (min(wall[name]), statistics.median(wall[name]), min(cpu[name]), out[name]) for name in fns}


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
    """The n_segments that makes SLIC give the number of segments nearest k
    (searched on a copy of about 1.3 MP when the image is larger)."""
    from PIL import Image
    from skimage.segmentation import slic

    h, w = img.shape[:2]
    if h * w > LARGE:
        f = (1.3e6 / (h * w)) ** 0.5
        img = np.asarray(Image.fromarray(img).resize((round(w * f), round(h * f)), Image.Resampling.BOX))
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
    ap.add_argument("--repeat-large", type=int, default=2, help="repeats for images above 2 MP")
    ap.add_argument("--k", type=int, nargs="+", default=[100, 250])
    ap.add_argument("--images", nargs="+", default=list(IMAGE_NAMES), choices=IMAGE_NAMES)
    args = ap.parse_args()
    header()
    print("\n| image | method | segments asked | segments | connected regions | PSNR dB (palette) "
          "| PSNR dB (segment means) | min s | median s | CPU s | time / SLIC (min, median) | CPU / SLIC |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, img in benchmark_images(args.images).items():
        repeat = args.repeat if img.shape[0] * img.shape[1] <= LARGE else args.repeat_large
        for k in args.k:
            asked = list(dict.fromkeys((k, slic_near(img, k))))
            fns: dict[str, Callable[[], object]] = {
                f"kmseg spatial_weight={w:g}": (lambda w=w: kmseg.segment(img, k, seed=0, spatial_weight=w))
                for w in (1.0, 2.0)}
            fns.update({f"skimage SLIC compactness=10, asked {a}": (
                lambda a=a: slic(img, n_segments=a, compactness=10, start_label=0)) for a in asked})
            runs = interleaved(fns, repeat)
            ref = runs[f"skimage SLIC compactness=10, asked {asked[-1]}"]
            for method, (t0, t1, cpu, out) in runs.items():
                if method.startswith("kmseg"):
                    seg = out
                    labels, palette_psnr = seg.labels, f"{seg.psnr:.2f}"
                    ratio = f"{t0 / ref[0]:.2f}, {t1 / ref[1]:.2f} | {cpu / ref[2]:.2f}"
                    label, shown_asked = method, k
                else:
                    labels, palette_psnr, ratio = out, "", " |"
                    label, shown_asked = method.split(", asked")[0], int(method.rsplit(" ", 1)[1])
                print(f"| {name} | {label} | {shown_asked} | {len(np.unique(labels))} | {components(labels)[1]} "
                      f"| {palette_psnr} | {psnr(img, mean_painted(img, labels)):.2f} | {t0:.3f} | {t1:.3f} "
                      f"| {cpu:.3f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
