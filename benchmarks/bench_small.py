"""Small images and low K, where fixed costs decide: kmseg against one OpenCV run.

For every image and K, ``kmseg.segment(img, k, seed=0)`` and ``cv2.kmeans``
as in ``bench_core.py`` (float32, ``KMEANS_PP_CENTERS``, attempts=1,
criteria EPS + MAX_ITER (300, 1e-4), ``cv2.setRNGSeed(0)``) cluster and
label the same (H, W, 3) uint8 pixels. The images:

==============  ============================================================
graphic128      128 x 128 flat colours (four areas) with noise of 0-2 levels
china_0.07mp    china.jpg, every other row and column (320 x 214)
flower_0.14mp   flower.jpg resized (Lanczos) to 452 x 302
china_0.27mp    china.jpg itself (640 x 427)
==============  ============================================================

Each source tree (this working tree, and with ``--before SRC`` another
one's ``src``, e.g. main's) runs in its own worker process; the parent asks
them in turn, one run of each per round, so load changes hit both alike.
Per cell: the best (and median) wall time of ``--repeat`` rounds of kmseg
and of OpenCV in the same worker, CPU time (``time.process_time``, all
threads) and the ratio OpenCV / kmseg (above 1: kmseg faster). The labels,
palette and inertia of the two trees are hashed: "same" means identical bytes.

Besides the table: ``kmseg segment`` from the command line on the graphic
as a PNG at K=4 (a fresh process, imports included), with each tree.

Run ``python benchmarks/bench_small.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

DEFAULT_KS = (2, 4, 8, 16, 64, 256)
IMAGES = ("graphic128", "china_0.07mp", "flower_0.14mp", "china_0.27mp")


def graphic(size: int = 128, seed: int = 0) -> np.ndarray:
    """Four flat colours and a bar, with noise of 0-2 levels: few distinct colours."""
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size, 3), np.uint8)
    half = size // 2
    image[:half] = (200, 30, 30)
    image[half:, :half] = (20, 200, 40)
    image[half:, half:] = (10, 10, 220)
    image[size * 30 // 128 : size * 40 // 128, size * 30 // 128 : size * 90 // 128] = (250, 250, 0)
    return image + rng.integers(0, 3, image.shape).astype(np.uint8)


def make_image(name: str) -> np.ndarray:
    """One of ``IMAGES`` as a C-contiguous (H, W, 3) uint8 array."""
    from _images import sample

    if name == "graphic128":
        return graphic()
    if name == "china_0.07mp":
        return np.ascontiguousarray(sample("china")[::2, ::2])
    if name == "flower_0.14mp":
        return np.asarray(Image.fromarray(sample("flower")).resize((452, 302), Image.Resampling.LANCZOS))
    if name == "china_0.27mp":
        return np.array(sample("china"))
    raise ValueError(f"unknown image {name!r}; choose from {list(IMAGES)}")


# --------------------------------------------------------------------------
# Worker: one source tree, timing one run of each method per request


def _timed(fn: Any) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def worker(src: str) -> None:
    """Answer requests ``{"image", "k"}`` (JSON lines on stdin) with one timed
    run of kmseg and one of OpenCV, and kmseg's output hash."""
    sys.path.insert(0, src)
    import cv2
    import kmseg

    assert Path(kmseg.__file__).resolve().is_relative_to(Path(src).resolve()), kmseg.__file__
    images: dict[str, np.ndarray] = {}
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 300, 1e-4)

    def opencv(image: np.ndarray, k: int) -> Any:
        cv2.setRNGSeed(0)
        return cv2.kmeans(image.reshape(-1, 3).astype(np.float32), k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)

    for line in sys.stdin:
        ask = json.loads(line)
        image = images.setdefault(ask["image"], make_image(ask["image"]))
        k = ask["k"]
        km_wall, km_cpu, seg = _timed(lambda: kmseg.segment(image, k, seed=0))
        cv_wall, cv_cpu, _ = _timed(lambda: opencv(image, k))
        digest = hashlib.sha256(seg.labels.tobytes() + seg.palette.tobytes()
                                + np.float64(seg.inertia).tobytes()).hexdigest()[:12]
        print(json.dumps({"km_wall": km_wall, "km_cpu": km_cpu, "cv_wall": cv_wall, "cv_cpu": cv_cpu,
                          "hash": digest, "inertia": seg.inertia}), flush=True)


class Worker:
    """A worker process for one source tree."""

    def __init__(self, src: Path) -> None:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        self.src = src
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", str(src)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)

    def run(self, image: str, k: int) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"image": image, "k": k}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker for {self.src} died")
        return json.loads(line)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


# --------------------------------------------------------------------------
# CLI start to finish


def cli_seconds(src: Path, png: Path, out_dir: Path, repeat: int) -> float:
    """Best wall time of ``kmseg segment PNG -k 4 --seed 0`` in a fresh process using ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src), "OPENBLAS_NUM_THREADS": "1"}
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kmseg", "segment", str(png), "-k", "4", "--seed", "0",
                        "-o", str(out_dir / "out.png"), "--overwrite"], env=env, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


# --------------------------------------------------------------------------
# Report


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    km, cv = [r["km_wall"] for r in runs], [r["cv_wall"] for r in runs]
    return {"km_min": min(km), "km_med": statistics.median(km), "km_cpu": min(r["km_cpu"] for r in runs),
            "cv_min": min(cv), "cv_med": statistics.median(cv), "cv_cpu": min(r["cv_cpu"] for r in runs),
            "ratio": min(cv) / min(km), "hash": runs[0]["hash"], "inertia": runs[0]["inertia"],
            "cpu_ratio": min(r["cv_cpu"] for r in runs) / min(r["km_cpu"] for r in runs)}


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def markdown(results: dict[str, dict[str, Any]], trees: list[str], cli: dict[str, float],
             header: list[str]) -> str:
    lines = ["# bench_small: small images and low K against one OpenCV run", "", *header, ""]
    lines += ["Times in ms: best of the rounds (median in brackets); cpu = process CPU time, all threads;",
              "ratio = OpenCV / kmseg best wall time (above 1: kmseg faster); cpu ratio = the same for the",
              "best CPU times (on a loaded machine the steadier of the two).", ""]
    cols = ["image", "K", "OpenCV", "cpu OpenCV"]
    for tree in trees:
        cols += [f"kmseg {tree}", f"cpu {tree}", f"ratio {tree}", f"cpu ratio {tree}"]
    if len(trees) == 2:
        cols += ["speed-up", "same bytes"]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for case, by_tree in results.items():
        image, k = case.split("/")
        last = by_tree[trees[-1]]
        row = [image, k, f"{ms(last['cv_min'])} ({ms(last['cv_med'])})", ms(last["cv_cpu"])]
        for tree in trees:
            s = by_tree[tree]
            cpu_ratio = s.get("cpu_ratio", s["cv_cpu"] / s["km_cpu"])  # older JSON: from the best CPU times
            row += [f"{ms(s['km_min'])} ({ms(s['km_med'])})", ms(s["km_cpu"]), f"{s['ratio']:.2f}", f"{cpu_ratio:.2f}"]
        if len(trees) == 2:
            a, b = by_tree[trees[0]], by_tree[trees[1]]
            row += [f"{a['km_min'] / b['km_min']:.1f}x", "yes" if a["hash"] == b["hash"] else "NO"]
        lines.append("| " + " | ".join(row) + " |")
    worst = {tree: min(by_tree[tree]["ratio"] for by_tree in results.values()) for tree in trees}
    lines += ["", "Lowest ratio OpenCV / kmseg: " + ", ".join(f"{t} {w:.2f}" for t, w in worst.items())]
    below = {tree: [case for case, by_tree in results.items()
                    if by_tree[tree].get("cpu_ratio", by_tree[tree]["cv_cpu"] / by_tree[tree]["km_cpu"]) < 1]
             for tree in trees}
    lines += ["", "Cells below 1 by CPU time: " + "; ".join(f"{t}: {', '.join(c) or 'none'}" for t, c in below.items())]
    if cli:
        lines += ["", "`kmseg segment graphic128.png -k 4 --seed 0 -o out.png` in a fresh process (best wall time): "
                  + ", ".join(f"{t} {ms(s)} ms" for t, s in cli.items())]
    return "\n".join(lines) + "\n"


def write(out: Path | None, results: dict[str, dict[str, Any]], trees: dict[str, Path], cli: dict[str, float],
          repeat: int, load: str | None = None) -> str:
    """The report (Markdown), also written to OUT.md and OUT.json when ``out`` is given."""
    import cv2

    load = load or " ".join(f"{x:.2f}" for x in os.getloadavg())
    header = [f"Machine: {os.cpu_count()} CPUs, load average {load} "
              f"when written; Python {platform.python_version()}, NumPy {np.__version__}, OpenCV {cv2.__version__}.",
              "Trees: " + ", ".join(f"{n} = {src}" for n, src in trees.items()) + f"; {repeat} rounds a cell."]
    text = markdown(results, list(trees), cli, header)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".md").write_text(text)
        out.with_suffix(".json").write_text(json.dumps({"results": results, "cli": cli, "load": load,
                                                        "trees": {n: str(s) for n, s in trees.items()}}, indent=1))
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--before", type=Path, help="another tree's src directory to time beside this one")
    parser.add_argument("--images", default=",".join(IMAGES), help="comma-separated, from: " + ", ".join(IMAGES))
    parser.add_argument("--ks", default=",".join(map(str, DEFAULT_KS)))
    parser.add_argument("--repeat", type=int, default=9, help="rounds per cell (default 9)")
    parser.add_argument("--cli-repeat", type=int, default=5, help="CLI runs per tree (0: none)")
    parser.add_argument("--out", type=Path, help="write OUT.md and OUT.json")
    parser.add_argument("--render", type=Path, help="only write OUT.md again from the figures in this JSON")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    if args.render:
        saved = json.loads(args.render.read_text())
        print(write(args.out, saved["results"], {n: Path(s) for n, s in saved["trees"].items()}, saved["cli"],
                    args.repeat, saved.get("load")))
        return 0
    trees = {"after": ROOT / "src"} if args.before is None else {"before": args.before, "after": ROOT / "src"}
    images, ks = args.images.split(","), [int(k) for k in args.ks.split(",")]
    cli: dict[str, float] = {}
    if args.cli_repeat:
        with tempfile.TemporaryDirectory() as tmp:
            png = Path(tmp) / "graphic128.png"
            Image.fromarray(graphic()).save(png)
            for name, src in trees.items():
                cli[name] = cli_seconds(src, png, Path(tmp) / name, args.cli_repeat)
    workers = {name: Worker(src) for name, src in trees.items()}
    results: dict[str, dict[str, Any]] = {}
    try:
        for k in ks:  # the small K first: there fixed costs decide
            for image in images:
                for w in workers.values():
                    w.run(image, k)  # warm-up
                runs: dict[str, list[dict[str, Any]]] = {name: [] for name in workers}
                for _ in range(args.repeat):
                    for name, w in workers.items():
                        runs[name].append(w.run(image, k))
                results[f"{image}/{k}"] = {name: summary(r) for name, r in runs.items()}
                print(image, k, {n: f"{s['km_min'] * 1e3:.1f}ms ratio {s['ratio']:.2f}"
                                 for n, s in results[f'{image}/{k}'].items()}, flush=True)
                write(args.out, results, trees, cli, args.repeat)  # so far, in case the run is cut short
    finally:
        for w in workers.values():
            w.close()
    print(write(args.out, results, trees, cli, args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
