"""Timings of the segmentation features (issue 7).

1. Automatic K: ``segment(img, "auto")`` (elbow over K = 1..16) and
   ``segment(img, "auto", target_psnr=30)`` as a multiple of one run, both
   at K = 8 and at the K chosen.
2. Spatial segmentation against scikit-image's SLIC on the same pixels:
   time, segments (labels) and connected regions, and the PSNR of the
   picture painted with every segment's colour (kmseg: its palette; SLIC:
   the segment means).

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_features.py
(needs the bench extra: scikit-image). Times are the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_sample_image

import kmseg
from kmseg.features._regions import components


def best_time(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def psnr(img: np.ndarray, painted: np.ndarray) -> float:
    mse = float(((img.astype(float) - painted.astype(float)) ** 2).mean())
    return 10 * np.log10(255**2 / mse)


def auto_k(images: dict, repeat: int) -> None:
    print("\n## Automatic K (time as a multiple of one run)\n")
    print("| image | mode | K chosen | auto s | one run K=8 s | x K=8 run | one run at chosen K s | x chosen-K run |")
    print("|---|---|---|---|---|---|---|---|")
    for name, img in images.items():
        t8, _ = best_time(lambda: kmseg.segment(img, 8, seed=0), repeat)
        for mode, kw in (("elbow", {}), ("target 30 dB", {"target_psnr": 30.0})):
            ta, seg = best_time(lambda: kmseg.segment(img, "auto", seed=0, **kw), repeat)
            tk, _ = best_time(lambda: kmseg.segment(img, seg.k, seed=0), repeat)
            print(f"| {name} | {mode} | {seg.k} | {ta:.3f} | {t8:.3f} | {ta / t8:.1f} | {tk:.3f} | {ta / tk:.1f} |")


def spatial_vs_slic(images: dict, repeat: int, ks: tuple[int, ...]) -> None:
    from skimage.segmentation import slic

    print("\n## Spatial segmentation vs scikit-image SLIC\n")
    print("| image | method | segments asked | labels | connected regions | PSNR dB | s |")
    print("|---|---|---|---|---|---|---|")
    for name, img in images.items():
        for k in ks:
            for w, mr in ((1.0, 0), (2.0, 0), (2.0, 64)):
                t, seg = best_time(lambda: kmseg.segment(img, k, seed=0, spatial_weight=w, min_region=mr), repeat)
                regions = seg.regions if mr else components(seg.labels)[1]
                label = f"kmseg spatial_weight={w:g}" + (f", min_region={mr}" if mr else "")
                print(f"| {name} | {label} | {k} | {seg.k} | {regions} | {seg.psnr:.2f} | {t:.3f} |")
            t, lab = best_time(lambda: slic(img, n_segments=k, compactness=10, start_label=0), repeat)
            n = int(lab.max()) + 1
            means = np.stack([np.bincount(lab.ravel(), weights=img[..., c].ravel(), minlength=n)
                              / np.maximum(np.bincount(lab.ravel(), minlength=n), 1) for c in range(3)], 1)
            painted = np.clip(np.rint(means), 0, 255)[lab]
            print(f"| {name} | skimage SLIC compactness=10 | {k} | {len(np.unique(lab))} | "
                  f"{components(lab)[1]} | {psnr(img, painted):.2f} | {t:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    images = {n.split(".")[0]: load_sample_image(n) for n in ("china.jpg", "flower.jpg")}
    auto_k(images, args.repeat)
    spatial_vs_slic(images, args.repeat, (100, 250))


if __name__ == "__main__":
    main()
