"""kmseg at large K: the time against K=16, against one OpenCV and one
scikit-learn run, and against pngquant, on the same pixels, in one run.

For every image (``--images``, default the 0.27 MP china photo and the
12 MP photo of ``_images.py``) and K (``--ks``, default 16, 64, 256):

=========  ===============================================================
kmseg      ``kmseg.segment(img, k, seed=0)``; wall and process CPU time,
           min and median of ``--repeat`` runs; ratios to K=16 from the
           same run
opencv     ``cv2.kmeans`` (k-means++, one attempt, as bench_core), one run
sklearn    scikit-learn ``KMeans(k, n_init=1, random_state=0)``, one run
pngquant   the Debian ``pngquant`` command, 256 colours (K=256 only),
           ``--nofs`` (no dithering) and default (dithered), on a PNG of
           the image; min and median of ``--repeat`` runs
=========  ===============================================================

Every error is that of the picture users get: SSE/px = the sum over the
pixels of the squared RGB difference between the image and the output, per
pixel. The indexed PNG size is kmseg's ``Segmentation.save`` and pngquant's
own output. A run whose time, scaled from the method's earlier runs in this
process (pixels x K), would exceed ``--max-seconds`` is skipped and says so.

``--profile`` adds where kmseg's time goes at the largest image and K (the
histogram and labels, k-means++ seeding, Lloyd on cubes for the restarts,
the trial and the jumps, Lloyd on the finer cubes that lead into the exact
passes, and the exact passes over the colours; CPU seconds of
the thread that ran each step, or of the process for the passes over a tree
in parts, which run alone in threads of their own; CPU time does not depend
on the machine's load as wall time does). ``--src`` benchmarks another checkout's ``src`` (for a
before/after pair in one session).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _preload(argv: list[str]) -> None:
    """Import kmseg from ``--src`` before bench_core puts this tree first."""
    if "--src" in argv:
        src = argv[argv.index("--src") + 1]
        sys.path.insert(0, str(Path(src).resolve()))
        import kmseg  # noqa: F401


_preload(sys.argv)
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import kmseg  # noqa: E402
from _images import benchmark_images  # noqa: E402
from bench_core import _sklearn, header, palette_of, picture_sse, render, run_opencv  # noqa: E402


def timed(fn, repeat: int) -> tuple[list[float], list[float], Any]:
    """Wall and process CPU seconds of ``repeat`` calls, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(max(1, repeat)):
        c, t = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return walls, cpus, out


def summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values)}


def run_kmseg(image: np.ndarray, k: int, repeat: int, work: Path) -> dict[str, Any]:
    walls, cpus, seg = timed(lambda: kmseg.segment(image, k, seed=0), repeat)
    n = image.shape[0] * image.shape[1]
    path = seg.save(work / f"kmseg-{k}.png")
    return {"wall": summary(walls), "cpu": summary(cpus), "sse_px": picture_sse(image, seg.palette, seg.labels) / n,
            "inertia_px": seg.inertia / n, "png_bytes": path.stat().st_size, "n_iter": seg.n_iter}


def run_peer(fn, image: np.ndarray, k: int) -> dict[str, Any]:
    walls, cpus, fit = timed(lambda: fn(image, k), 1)
    n = image.shape[0] * image.shape[1]
    return {"wall": summary(walls), "cpu": summary(cpus),
            "sse_px": picture_sse(image, palette_of(fit.centers), fit.labels) / n}


def run_pngquant(image: np.ndarray, dither: bool, repeat: int, work: Path) -> dict[str, Any]:
    exe = shutil.which("pngquant")
    if exe is None:
        return {"status": "not installed (Debian: apt-get install pngquant)"}
    src = work / "in.png"
    if not src.exists():
        Image.fromarray(image).save(src, compress_level=1)
    out = work / ("pq-fs.png" if dither else "pq-nofs.png")
    cmd = [exe, "256", "--force", "--output", str(out), *([] if dither else ["--nofs"]), str(src)]
    walls, cpus = [], []
    for _ in range(max(1, repeat)):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, check=True)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    result = np.asarray(Image.open(out).convert("RGB"))
    diff = image.astype(np.int32) - result.astype(np.int32)
    n = image.shape[0] * image.shape[1]
    return {"wall": summary(walls), "cpu": summary(cpus),
            "sse_px": float(np.einsum("ijk,ijk->", diff, diff, dtype=np.int64)) / n,
            "png_bytes": out.stat().st_size}


def profile(image: np.ndarray, k: int) -> dict[str, float]:
    """CPU seconds by step of one ``segment`` (each step's thread), and wall."""
    from kmseg.engine import _colorfit, _kernels, _kmeans

    spent: dict[str, float] = {}
    saved = {}

    def wrap(module, name, key, classify=None):
        fn = getattr(module, name)
        saved[(module, name)] = fn

        def inner(*args, **kwargs):
            # A tree in parts has its passes in threads of their own, and runs
            # alone: the process's CPU is its steps'. Otherwise the calling thread's.
            clock = time.process_time if getattr(args[0], "parts", None) is not None else time.thread_time
            c = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                label = classify(args) if classify else key
                spent[label] = spent.get(label, 0.0) + clock() - c
        setattr(module, name, inner)

    def refine_kind(args) -> str:
        tree = args[0]
        if tree.compiled.n_nodes and tree.npts == n_colours[0]:
            return "exact passes (colours)"
        return "Lloyd on finer cubes, before the exact passes" if finer[0] else "Lloyd on cubes"

    finer = [False]
    through = getattr(_colorfit, "_through_finer_cubes", None)
    if through is not None:  # absent before the change that added it (--src of an older checkout)
        def through_finer(*args, **kwargs):
            finer[0] = True
            try:
                return through(*args, **kwargs)
            finally:
                finer[0] = False
        saved[(_colorfit, "_through_finer_cubes")] = through
        _colorfit._through_finer_cubes = through_finer

    n_colours = [0]
    build = _colorfit._build_levels

    def levels(codes, Y, w):
        n_colours[0] = Y.shape[0]
        return build(codes, Y, w)
    _colorfit._build_levels = levels
    wrap(_kernels, "seed_plusplus", "k-means++ seeding")  # per run, in the run's thread
    wrap(_kernels, "seed_plusplus_steps", "k-means++ seeding")  # a few centres a call, in the run's thread
    wrap(_kmeans, "refine", "", refine_kind)
    try:
        c, t = time.process_time(), time.perf_counter()
        kmseg.segment(image, k, seed=0)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    finally:
        _colorfit._build_levels = build
        for (module, name), fn in saved.items():
            setattr(module, name, fn)
    out = {key: round(v, 3) for key, v in sorted(spent.items())}
    out["the rest (histogram, cube levels, labels, palette)"] = round(cpu - sum(spent.values()), 3)
    out["process CPU, all"] = round(cpu, 3)
    out["wall"] = round(wall, 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", default="china,photo12mp")
    ap.add_argument("--ks", default="16,64,256")
    ap.add_argument("--repeat", type=int, default=3, help="kmseg and pngquant runs (min and median)")
    ap.add_argument("--peers", default="opencv,sklearn,pngquant")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="skip a peer run estimated to take longer")
    ap.add_argument("--profile", action="store_true", help="where kmseg's time goes at the largest image and K")
    ap.add_argument("--src", help="import kmseg from this src folder (another checkout)")
    ap.add_argument("--out", type=Path, help="write every figure to this JSON file")
    opts = ap.parse_args(argv)
    ks = sorted({int(k) for k in opts.ks.split(",")})
    peers = [p for p in opts.peers.split(",") if p]
    images = benchmark_images(opts.images.split(","))
    kmseg.segment(images[next(iter(images))][:64, :64], 4, seed=0)  # first-call costs
    report: dict[str, Any] = {"header": header(), "kmseg_file": kmseg.__file__, "results": {}}
    rates: dict[str, float] = {"opencv": 9.6 / (12.1e6 * 16), "sklearn": 11.5 / (12.1e6 * 16)}
    peer_fns = {"opencv": run_opencv, "sklearn": _sklearn(1)}
    with tempfile.TemporaryDirectory(prefix="kmseg-bench-largek-") as tmp:
        work = Path(tmp)
        for name, image in images.items():
            n = image.shape[0] * image.shape[1]
            rows = report["results"][name] = {}
            for k in ks:
                print(f"{name} K={k} kmseg ...", file=sys.stderr, flush=True)
                rows[f"kmseg K={k}"] = run_kmseg(image, k, opts.repeat, work)
                for peer in peers:
                    if peer in peer_fns:
                        estimate = rates[peer] * n * k
                        if estimate > opts.max_seconds:
                            rows[f"{peer} K={k}"] = {"status": f"skipped: est. {estimate:.0f} s > {opts.max_seconds:g} s"}
                            continue
                        try:
                            print(f"{name} K={k} {peer} ...", file=sys.stderr, flush=True)
                            rows[f"{peer} K={k}"] = cell = run_peer(peer_fns[peer], image, k)
                            rates[peer] = max(rates[peer] * 0.5, cell["wall"]["min"] / (n * k))
                        except ImportError as exc:
                            rows[f"{peer} K={k}"] = {"status": f"not installed ({exc})"}
                if k == 256 and "pngquant" in peers:
                    for dither in (False, True):
                        label = "pngquant 256 " + ("default (dithered)" if dither else "--nofs")
                        print(f"{name} {label} ...", file=sys.stderr, flush=True)
                        rows[label] = run_pngquant(image, dither, opts.repeat, work)
            for f in work.glob("in.png"):
                f.unlink()
        if opts.profile:
            name = list(images)[-1]
            print(f"profile {name} K={ks[-1]} ...", file=sys.stderr, flush=True)
            report["profile"] = {"image": name, "k": ks[-1], "cpu_seconds": profile(images[name], ks[-1])}
    print_report(report, ks)
    if opts.out:
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        opts.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def print_report(report: dict[str, Any], ks: list[int]) -> None:
    h = report["header"]
    print(f"kmseg large-K benchmark, {h['date']}: {h['cpu_count']} CPUs, load average {h['load_average_1min']:.1f}; "
          f"kmseg from {report['kmseg_file']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in h["versions"].items()))
    for name, rows in report["results"].items():
        base = rows.get(f"kmseg K={ks[0]}")
        table = [["run", "wall min s", "wall median s", "CPU min s", "wall / kmseg K=" + str(ks[0]),
                  "CPU / kmseg K=" + str(ks[0]), "wall / kmseg same K", "SSE/px", "PNG bytes"]]
        for label, r in rows.items():
            if "wall" not in r:
                table.append([label, r.get("status", "?"), "", "", "", "", "", "", ""])
                continue
            k = label.split("K=")[-1] if "K=" in label else "256"
            same = rows.get(f"kmseg K={k}")
            table.append([label, f"{r['wall']['min']:.3f}", f"{r['wall']['median']:.3f}",
                          f"{r['cpu']['min']:.3f}" if "cpu" in r else "",
                          f"{r['wall']['min'] / base['wall']['min']:.2f}x" if base else "",
                          f"{r['cpu']['min'] / base['cpu']['min']:.2f}x" if base and "cpu" in r else "",
                          f"{r['wall']['min'] / same['wall']['min']:.2f}x" if same else "",
                          f"{r['sse_px']:.2f}", str(r.get("png_bytes", ""))])
        print(f"\n### {name}\n")
        print(render(table, True))
    if "profile" in report:
        p = report["profile"]
        print(f"\n### Where the time goes: {p['image']} K={p['k']} (CPU seconds of each step's thread)\n")
        print(render([["step", "CPU s"]] + [[k, f"{v:.3f}"] for k, v in p["cpu_seconds"].items()], True))


if __name__ == "__main__":
    sys.exit(main())
