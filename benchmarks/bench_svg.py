"""The segmentation as SVG: kmseg's ``to_svg`` against vtracer (issue 16).

Each image is segmented once by kmseg (K colours, ``min_region``); then both
tracers draw that same K-colour picture:

- kmseg ``Segmentation.to_svg`` at tolerance 0 (exact pixel edges) and at
  the default tolerance (1 px);
- vtracer (PyPI ``vtracer``) on the segmented picture, in its default
  "stacked" mode (shapes painted over each other) and in "cutout" mode
  (shapes side by side, like kmseg's), both as polygons and with its default
  splines.

Figures: time to make the SVG (min and median of ``--repeat`` runs,
``--vtracer-repeat`` for vtracer, and
the least CPU time of the process, which other jobs on the machine disturb
less than the clock), SVG
size in bytes, number of paths, fidelity (fraction of pixels whose rendered
colour is exactly the label's palette colour; in brackets, whose nearest
palette colour is the label's, which forgives vtracer's rounded colours) and
the pixels where the background shows through (they differ between renders
over magenta and over green). SVGs are rendered with resvg (resvg-py) at the
image's size with its default anti-aliasing; kmseg's simplified drawings ask
for crisp edges themselves.

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_svg.py
[--repeat 3 --vtracer-repeat 1] (needs the bench extra: vtracer, resvg-py);
vtracer is left out on maps of more than ``--vtracer-max-regions`` regions
(the 12 MP map with no ``min_region`` has about 322,000).
Writes results/bench_svg.md.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

import kmseg
from _images import benchmark_images

MAGENTA, GREEN = "#ff00ff", "#00ff01"
# (image, K, min_region); the last, with no min_region (about 322,000 regions), is bench_paint's map.
CASES = (("china", 8, 50), ("china", 16, 50), ("flower", 8, 50), ("photo12mp", 16, 500), ("photo12mp", 16, 0))


def render(svg: str, w: int, h: int, background: str) -> np.ndarray:
    import resvg_py

    png = resvg_py.svg_to_bytes(svg_string=svg, width=w, height=h, background=background)
    with Image.open(io.BytesIO(bytes(png))) as im:
        return np.asarray(im.convert("RGB"))


def score(svg: str, labels: np.ndarray, palette: np.ndarray) -> tuple[float, float, int]:
    """(exact fidelity, nearest-colour fidelity, background pixels showing)."""
    h, w = labels.shape
    a, b = render(svg, w, h, MAGENTA), render(svg, w, h, GREEN)
    exact = float((a == palette[labels]).all(axis=2).mean())
    nearest = np.empty(labels.shape, dtype=np.int64)
    for top in range(0, h, 256):  # in bands: (rows, W, K) distances
        band = a[top:top + 256].astype(np.int32)
        d = ((band[:, :, None, :] - palette[None, None].astype(np.int32)) ** 2).sum(axis=3)
        nearest[top:top + 256] = d.argmin(axis=2)
    return exact, float((nearest == labels).mean()), int((a != b).any(axis=2).sum())


def timed(fn, repeat: int):
    """Min and median wall-clock seconds, min CPU seconds of this process, last result."""
    times, cpu, out = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(times), statistics.median(times), min(cpu), out


def vtracer_svg(picture: np.ndarray, hierarchical: str, mode: str) -> str:
    import vtracer

    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG", compress_level=1)
    # color_precision 8 and layer_difference 0: keep every one of the K colours apart.
    return vtracer.convert_raw_image_to_svg(buf.getvalue(), img_format="png", colormode="color",
                                            hierarchical=hierarchical, mode=mode, filter_speckle=0,
                                            color_precision=8, layer_difference=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--images", nargs="*", default=None, help="china flower photo12mp (default all)")
    parser.add_argument("--no-vtracer", action="store_true")
    parser.add_argument("--vtracer-max-regions", type=int, default=100_000,
                        help="leave vtracer out on maps with more regions (it takes many minutes there)")
    parser.add_argument("--vtracer-repeat", type=int, default=None,
                        help="repeats of each vtracer run (default --repeat; it takes minutes at 12 MP)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_svg.md"))
    args = parser.parse_args()
    names = args.images or ["china", "flower", "photo12mp"]
    images = benchmark_images(names)
    rows = []
    for name, k, min_region in CASES:
        if name not in images:
            continue
        seg = kmseg.segment(images[name], k, seed=0, min_region=min_region)
        picture = seg.palette[seg.labels]
        palette = seg.palette.astype(np.uint8)
        h, w = seg.labels.shape
        regions = seg.regions if min_region else kmseg.merge_small_regions(seg.labels, 1).regions
        label = f"{name} {w}x{h} K={k} min_region={min_region} ({regions} regions)"
        print(label, flush=True)
        tracers = [("kmseg tolerance 0", lambda: seg.to_svg(tolerance=0)),
                   ("kmseg tolerance 1 (default)", lambda: seg.to_svg())]
        if not args.no_vtracer and regions <= args.vtracer_max_regions:
            tracers += [(f"vtracer {hier} {mode}", lambda hier=hier, mode=mode: vtracer_svg(picture, hier, mode))
                        for hier in ("stacked", "cutout") for mode in ("polygon", "spline")]
        for tracer, fn in tracers:
            repeat = args.repeat if tracer.startswith("kmseg") else args.vtracer_repeat or args.repeat
            best, median, cpu, svg = timed(fn, repeat)
            exact, nearest, through = score(svg, seg.labels, palette)
            paths = len(re.findall(r"<path\b", svg))
            rows.append((label, tracer, best, median, cpu, len(svg.encode()), paths, exact, nearest, through))
            print(f"  {tracer}: {best:.3f} / {median:.3f} s (CPU {cpu:.3f} s), {len(svg.encode())} B, {paths} paths, "
                  f"fidelity {exact:.4%} ({nearest:.4%}), background {through}", flush=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    vt = args.vtracer_repeat or args.repeat
    lines = [f"# bench_svg.py (min and median of {args.repeat}" + (f", vtracer of {vt}" if vt != args.repeat else "")
             + f", {stamp}, 2-core machine shared with other jobs: times are noisy)", "",
             "The same K-colour segmentation traced by kmseg and by vtracer; rendered with resvg at the image's size.",
             "", "| image | tracer | s (min) | s (median) | CPU s (min) | SVG bytes | paths | fidelity exact "
             "| fidelity nearest colour | background pixels |", "|---|---|---|---|---|---|---|---|---|---|"]
    for label, tracer, best, median, cpu, size, paths, exact, nearest, through in rows:
        lines.append(f"| {label} | {tracer} | {best:.3f} | {median:.3f} | {cpu:.3f} | {size:,} | {paths:,} | {exact:.4%} "
                     f"| {nearest:.4%} | {through:,} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
