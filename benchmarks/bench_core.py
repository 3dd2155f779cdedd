"""kmseg's clustering against its peers, in one run, on the same pixels.

For every image and K, each method clusters the same (H, W, 3) uint8 pixels
and labels every one of them:

========  ================================================================
kmseg     ``kmseg.segment(img, k, seed=0)`` (default settings)
sklearn   scikit-learn ``KMeans(n_clusters=k, n_init=1, random_state=0)``
          fitted on all pixels (float64), labels = ``labels_``
sklearn4  the same with ``n_init=4``
recipe    scikit-learn's colour-quantisation example: ``shuffle`` 1000
          pixels (``random_state=0``), ``KMeans(k, random_state=0).fit``
          on them, ``predict`` every pixel
opencv    ``cv2.kmeans`` on float32, ``KMEANS_PP_CENTERS``, attempts=1,
          criteria EPS + MAX_ITER (300, 1e-4), ``cv2.setRNGSeed(0)``
faiss     ``faiss.Kmeans(3, k, niter=25, seed=0).train``, labels from
          ``index.search(x, 1)`` (float32)
pillow    ``Image.quantize(k, method=Image.Quantize.MEDIANCUT)``, labels =
          the indexed image, palette from ``getpalette()``
========  ================================================================

The time is that of the clustering and labelling, from the uint8 pixels in
memory to labels and centres (a peer's conversion to float is included;
decoding and encoding are not); the best of ``--repeat`` runs (kmseg's, the
denominator of every ratio, of ``--kmseg-repeat`` runs). The error is
that of the picture users get: the centres rounded to 8 bits (clipped to
0..255) painted by the labels, SSE = sum over the pixels of the squared RGB
difference, printed per pixel. Ratios are peer / kmseg, for both.

Besides the table: the peak RSS of a fresh process running kmseg alone on
the 12 MP image (given as a JPEG path, so decoding counts) at K=16; the
cold start, a fresh ``python -c "import kmseg; kmseg.segment(small, 8)"``
with no bytecode cache at all (every module compiled from source, an upper
bound for a fresh install) and then with the caches warm; and a check of
the issue's targets.

Combinations that would take too long are skipped, with "skipped" in their
cells: ``--skip-slow`` drops sklearn4 on images over 4 MP, and any run whose
estimated time (scaled from the method's largest earlier run in this
process, as pixels x K, or from a prior rate) exceeds ``--max-seconds``.

Run ``python benchmarks/bench_core.py --help`` for the options;
``--images china,flower --ks 4,16`` is a quick check.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # benchmark the working tree
sys.path.insert(0, str(Path(__file__).resolve().parent))

import kmseg  # noqa: E402
from _images import IMAGE_NAMES, benchmark_images, sample, write_jpeg  # noqa: E402

DEFAULT_KS = (4, 16, 64, 256)
#: Images over this many pixels count as large for ``--skip-slow``.
LARGE_PIXELS = 4_000_000
#: Targets from the issue.
TARGET_SECONDS_12MP_K16 = 0.25
TARGET_SPEEDUP_OPENCV = 40.0
TARGET_QUALITY_MAX_K = 64
TARGET_SKLEARN4_SLACK = 0.005
TARGET_PEAK_MB = 400.0
TARGET_COLD_FIRST_S = 3.0
TARGET_COLD_LATER_S = 0.5


# --------------------------------------------------------------------------
# Methods


@dataclass
class Fit:
    """What a method found: centres (float, any scale of 0..255) or an
    8-bit palette, one label per pixel, and notes on the run."""

    centers: np.ndarray
    labels: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    """A clustering method under test.

    Attributes
    ----------
    key : str
        Short name used on the command line and in the tables.
    label : str
        What the tables call it.
    run : callable
        ``run(image, k) -> Fit`` on an (H, W, 3) uint8 image; timed whole.
    rate : float or None
        Prior seconds per unit of work on a 2-core machine, for skipping
        runs before any has been timed (None: never skipped).
    module : str or None
        Package the method needs beyond NumPy and Pillow.
    per_k : bool
        Work is pixels x K (True) or pixels alone (False).
    """

    key: str
    label: str
    run: Callable[[np.ndarray, int], Fit]
    rate: float | None
    module: str | None = None
    per_k: bool = True

    def work(self, n_pixels: int, k: int) -> float:
        """Units of work of one run (for the time estimate)."""
        return float(n_pixels) * (k if self.per_k else 1)


def _pixels(image: np.ndarray, dtype: type) -> np.ndarray:
    return image.reshape(-1, 3).astype(dtype)


def _caught(record: list[warnings.WarningMessage]) -> dict[str, Any]:
    messages = sorted({str(w.message).split("\n")[0][:120] for w in record})
    return {"warnings": messages} if messages else {}


def run_kmseg(image: np.ndarray, k: int) -> Fit:
    """kmseg with its default settings and seed 0."""
    seg = kmseg.segment(image, k, seed=0)
    n = image.shape[0] * image.shape[1]
    info = {"inertia_px": seg.inertia / n, "n_iter": seg.n_iter, "n_init": seg.params.get("n_init"),
            "converged": seg.converged, "segment_seconds": seg.seconds}
    return Fit(seg.palette, seg.labels.reshape(-1), info)


def _sklearn(n_init: int) -> Callable[[np.ndarray, int], Fit]:
    def run(image: np.ndarray, k: int) -> Fit:
        from sklearn.cluster import KMeans

        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            km = KMeans(n_clusters=k, n_init=n_init, random_state=0).fit(_pixels(image, np.float64))
        info = {"n_iter": int(km.n_iter_), "inertia_px": float(km.inertia_) / (image.size // 3), **_caught(record)}
        return Fit(km.cluster_centers_, km.labels_, info)

    run.__doc__ = f"scikit-learn KMeans(n_init={n_init}) on all pixels."
    return run


def run_recipe(image: np.ndarray, k: int) -> Fit:
    """scikit-learn's colour-quantisation example: fit on 1000 random pixels, predict all."""
    from sklearn.cluster import KMeans
    from sklearn.utils import shuffle

    x = _pixels(image, np.float64)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        km = KMeans(n_clusters=k, random_state=0).fit(shuffle(x, random_state=0, n_samples=1_000))
        labels = km.predict(x)
    return Fit(km.cluster_centers_, labels, {"n_iter": int(km.n_iter_), **_caught(record)})


def run_opencv(image: np.ndarray, k: int) -> Fit:
    """OpenCV cv2.kmeans with k-means++ centres, one attempt."""
    import cv2

    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 300, 1e-4)
    compactness, labels, centers = cv2.kmeans(
        _pixels(image, np.float32), k, None, criteria, 1, cv2.KMEANS_PP_CENTERS
    )
    return Fit(centers, labels.reshape(-1), {"inertia_px": float(compactness) / (image.size // 3)})


def run_faiss(image: np.ndarray, k: int) -> Fit:
    """faiss.Kmeans (25 iterations, its default subsample), then a search for labels."""
    import faiss

    x = _pixels(image, np.float32)
    km = faiss.Kmeans(3, k, niter=25, seed=0, verbose=False)
    km.train(x)
    _, labels = km.index.search(x, 1)
    return Fit(km.centroids, labels.reshape(-1))


def run_pillow(image: np.ndarray, k: int) -> Fit:
    """Pillow median cut: Image.quantize(k, method=MEDIANCUT)."""
    q = Image.fromarray(image, "RGB").quantize(colors=k, method=Image.Quantize.MEDIANCUT)
    palette = np.asarray(q.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
    return Fit(palette, np.asarray(q).reshape(-1))


# Prior rates: seconds per pixel x K, from the 12 MP, K=16 figures.
_PX_K_12MP_16 = 12.1e6 * 16
METHODS: dict[str, Method] = {
    m.key: m
    for m in (
        Method("kmseg", "kmseg", run_kmseg, None),
        Method("sklearn", "scikit-learn KMeans n_init=1", _sklearn(1), 11.5 / _PX_K_12MP_16, "sklearn"),
        Method("sklearn4", "scikit-learn KMeans n_init=4", _sklearn(4), 4 * 11.5 / _PX_K_12MP_16, "sklearn"),
        Method("recipe", "scikit-learn recipe (fit 1000 px)", run_recipe, 0.55 / _PX_K_12MP_16, "sklearn"),
        Method("opencv", "OpenCV cv2.kmeans (k-means++)", run_opencv, 9.6 / _PX_K_12MP_16, "cv2"),
        Method("faiss", "faiss Kmeans", run_faiss, 7.5 / _PX_K_12MP_16, "faiss"),
        Method("pillow", "Pillow quantize (median cut)", run_pillow, 1e-7, per_k=False),
    )
}
PEERS: tuple[str, ...] = tuple(key for key in METHODS if key != "kmseg")


def palette_of(centers: np.ndarray) -> np.ndarray:
    """Centres as the 8-bit palette users get (rounded, clipped to 0..255)."""
    if centers.dtype == np.uint8:
        return centers
    return np.clip(np.rint(np.asarray(centers, dtype=np.float64)), 0, 255).astype(np.uint8)


def picture_sse(image: np.ndarray, palette: np.ndarray, labels: np.ndarray, chunk: int = 1 << 20) -> int:
    """Sum over the pixels of the squared RGB difference between the image
    and ``palette[labels]`` (exact, in integers, chunk by chunk).

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
    palette : (m, 3) uint8 ndarray
    labels : (H*W,) integer ndarray, values < m
    chunk : int
        Pixels per step (bounds the temporary memory).

    Returns
    -------
    int
    """
    x = image.reshape(-1, 3)
    labels = np.asarray(labels).reshape(-1)
    if labels.shape[0] != x.shape[0]:
        raise ValueError(f"{labels.shape[0]} labels for {x.shape[0]} pixels")
    if labels.size and (labels.min() < 0 or labels.max() >= len(palette)):
        raise ValueError(f"labels outside 0..{len(palette) - 1}")
    pal = palette.astype(np.int32)
    total = 0
    for start in range(0, x.shape[0], chunk):
        diff = x[start : start + chunk].astype(np.int32) - pal[labels[start : start + chunk]]
        total += int(np.einsum("ij,ij->", diff, diff, dtype=np.int64))
    return total


# --------------------------------------------------------------------------
# Running the grid


@dataclass
class Cell:
    """One method on one image at one K."""

    image: str
    k: int
    method: str
    status: str  # "ok", "skipped", "error", "unavailable"
    seconds: float | None = None
    runs: int = 0
    sse: int | None = None
    sse_px: float | None = None
    colors_used: int | None = None
    reason: str = ""
    info: dict[str, Any] = field(default_factory=dict)


class Estimator:
    """Estimates a run's time from the method's largest run timed so far
    (scaled by work), or from its prior rate."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[float, float]] = {}  # key -> (work, seconds)

    def record(self, method: Method, work: float, seconds: float) -> None:
        """Remember a timed run if it is the method's largest so far."""
        if work >= self._seen.get(method.key, (0.0, 0.0))[0]:
            self._seen[method.key] = (work, seconds)

    def estimate(self, method: Method, work: float) -> float | None:
        """Seconds expected for ``work`` units, or None if never to be skipped."""
        if method.rate is None:
            return None
        if method.key in self._seen:
            seen_work, seconds = self._seen[method.key]
            return seconds * work / seen_work
        return method.rate * work


def is_available(method: Method) -> str:
    """Empty if the method's package imports, else the reason it does not."""
    if method.module is None:
        return ""
    try:
        __import__(method.module)
    except ImportError as exc:
        return f"not installed ({exc})"
    return ""


def first_calls(methods: Iterable[Method]) -> None:
    """One untimed run of every method on a tiny image (first-call costs:
    imports, thread pools, lazy initialisation)."""
    rng = np.random.default_rng(0)
    tiny = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for method in methods:
        try:
            method.run(tiny, 4)
        except Exception as exc:  # noqa: BLE001 - reported when the real run fails too
            print(f"  warm-up of {method.key} failed: {exc!r}", file=sys.stderr)


def time_runs(method: Method, image: np.ndarray, k: int, repeat: int, budget: float) -> tuple[float, int, Fit]:
    """Best time of up to ``repeat`` runs (no more runs once ``budget``
    seconds are spent); returns (best seconds, runs, fit of the best run)."""
    best, best_fit, spent, runs = float("inf"), None, 0.0, 0
    while runs < max(1, repeat) and (runs == 0 or spent + best <= budget):
        start = time.perf_counter()
        fit = method.run(image, k)
        seconds = time.perf_counter() - start
        spent, runs = spent + seconds, runs + 1
        if seconds < best:
            best, best_fit = seconds, fit
        del fit
    assert best_fit is not None
    return best, runs, best_fit


def skip_reason(method: Method, image: np.ndarray, k: int, opts: argparse.Namespace, estimator: Estimator) -> str:
    """Why this run is skipped, or an empty string."""
    n = image.shape[0] * image.shape[1]
    if opts.skip_slow and method.key == "sklearn4" and n > LARGE_PIXELS:
        return "--skip-slow"
    estimate = estimator.estimate(method, method.work(n, k))
    if estimate is not None and estimate > opts.max_seconds:
        return f"est. {estimate:.0f} s > --max-seconds {opts.max_seconds:g}"
    return ""


def run_cell(method: Method, name: str, image: np.ndarray, k: int, opts: argparse.Namespace,
             estimator: Estimator) -> Cell:
    """Time one method on one image at one K and measure its picture's error."""
    cell = Cell(name, k, method.key, "ok")
    missing = is_available(method)
    reason = missing or skip_reason(method, image, k, opts, estimator)
    if reason:
        cell.status, cell.reason = ("unavailable" if missing else "skipped"), reason
        return cell
    try:
        repeat = opts.kmseg_repeat if method.key == "kmseg" else opts.repeat
        seconds, runs, fit = time_runs(method, image, k, repeat, opts.max_seconds)
        palette = palette_of(fit.centers)
        cell.sse = picture_sse(image, palette, fit.labels)
    except Exception as exc:  # noqa: BLE001 - one failing peer must not end the run
        cell.status, cell.reason = "error", f"{type(exc).__name__}: {exc}"
        return cell
    n = image.shape[0] * image.shape[1]
    estimator.record(method, method.work(n, k), seconds)
    cell.seconds, cell.runs, cell.sse_px, cell.info = seconds, runs, cell.sse / n, fit.info
    cell.colors_used = int(np.unique(fit.labels).size)
    return cell


def run_grid(images: dict[str, np.ndarray], ks: Sequence[int], methods: Sequence[Method],
             opts: argparse.Namespace) -> list[Cell]:
    """Every method on every image at every K, smallest images and K first
    (so that the time estimates of the large runs rest on measured ones)."""
    estimator, cells = Estimator(), []
    order = sorted(images, key=lambda name: images[name].shape[0] * images[name].shape[1])
    for k in sorted(ks):
        for name in order:
            for method in methods:
                cell = run_cell(method, name, images[name], k, opts, estimator)
                cells.append(cell)
                progress(cell)
    return cells


def progress(cell: Cell) -> None:
    """One line on stderr per finished cell."""
    if cell.status == "ok":
        text = f"{cell.seconds:8.3f} s  SSE/px {cell.sse_px:9.2f}"
    else:
        text = f"{cell.status}: {cell.reason}"
    print(f"  {cell.image:>10} K={cell.k:<3} {cell.method:<8} {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Fresh processes: peak memory and cold start

_PEAK_CHILD = r"""
import json, resource, sys, time
scale = 1 if sys.platform == "darwin" else 1024   # ru_maxrss: bytes on macOS, KiB on Linux
def hwm():  # the kernel's own high-water mark of this process's memory (Linux), MiB
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None
import kmseg
after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
start = time.perf_counter()
seg = kmseg.segment(sys.argv[1], int(sys.argv[2]), seed=0)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
print(json.dumps({"peak_mb": peak / 2**20, "vmhwm_mb": hwm(), "after_import_mb": after_import / 2**20,
                  "segment_seconds": seconds, "width": seg.width, "height": seg.height, "k": seg.k}))
"""

# On Linux a process's ru_maxrss keeps, across exec, the peak of the process
# it was forked from; this small launcher makes sure that is a small one
# (not this benchmark, which holds the images), so the child's figure is its own.
_LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"

_COLD_CHILD = r"""
import json, sys, time
start = time.perf_counter()
import kmseg
imported = time.perf_counter()
kmseg.segment(sys.argv[1], 8)
done = time.perf_counter()
print(json.dumps({"import_seconds": imported - start, "segment_seconds": done - imported}))
"""


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh child process: this one's, with src/ on
    the path so that the working tree is measured."""
    path = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def run_child(code: str, args: Sequence[str], env: dict[str, str], launcher: bool = False
              ) -> tuple[float, dict[str, Any]]:
    """Run ``python -c code args`` in a fresh process (through ``_LAUNCHER``
    if ``launcher``); (wall seconds, the JSON it printed last)."""
    cmd = [sys.executable, "-c", code, *args]
    if launcher:
        cmd = [sys.executable, "-c", _LAUNCHER, *cmd]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=600)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"child failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def peak_memory(image: np.ndarray, k: int, work: Path) -> dict[str, Any]:
    """Peak RSS of a fresh process that segments ``image`` (as a JPEG path) at K."""
    jpeg = write_jpeg(work / "peak.jpg", image)
    wall, report = run_child(_PEAK_CHILD, [str(jpeg), str(k)], child_env(), launcher=True)
    return {"input": f"JPEG path, {image.shape[1]}x{image.shape[0]}", "k": k, "wall_seconds": wall, **report}


def cold_start(work: Path, later_runs: int) -> dict[str, Any]:
    """Wall time of fresh ``import kmseg; kmseg.segment(small, 8)`` processes:
    the first with an empty bytecode cache, then ``later_runs`` warm ones."""
    small = write_jpeg(work / "small.jpg", sample("china"))
    first_wall, first = run_child(_COLD_CHILD, [str(small)], child_env(PYTHONPYCACHEPREFIX=str(work / "pycache")))
    later = [run_child(_COLD_CHILD, [str(small)], child_env()) for _ in range(max(1, later_runs))]
    walls = [wall for wall, _ in later]
    return {
        "image": "china.jpg as JPEG, 640x427, K=8",
        "first_wall_seconds": first_wall,
        "first": first,
        "later_wall_seconds": walls,
        "later_best_seconds": min(walls),
        "later_median_seconds": statistics.median(walls),
        "later_median_import_seconds": statistics.median(r["import_seconds"] for _, r in later),
        "later_median_segment_seconds": statistics.median(r["segment_seconds"] for _, r in later),
    }


# --------------------------------------------------------------------------
# Reporting


def header() -> dict[str, Any]:
    """Machine and package versions."""
    versions = {"python": platform.python_version(), "numpy": np.__version__, "pillow": Image.__version__,
                "kmseg": kmseg.__version__}
    for key, module, attr in (("scikit-learn", "sklearn", "__version__"), ("opencv", "cv2", "__version__"),
                              ("faiss", "faiss", "__version__")):
        try:
            versions[key] = getattr(__import__(module), attr)
        except ImportError:
            versions[key] = "not installed"
    threads = {name: os.environ[name] for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
               if name in os.environ}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpu_count": os.cpu_count(), "platform": platform.platform(), "machine": platform.machine(),
            "versions": versions, "thread_env": threads, "load_average_1min": load,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z")}


def render(rows: list[list[str]], markdown: bool) -> str:
    """A table as Markdown or aligned plain text; the first row is the head."""
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" for _ in rows[0]) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows[1:]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def line(row: list[str]) -> str:  # words left, figures right
        last = len(row) - 1
        cells = (c.ljust(w) if i < 2 or i == last else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        return "  ".join(cells).rstrip()

    return "\n".join([line(rows[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in rows[1:]])


def _find(cells: list[Cell], image: str, k: int, method: str) -> Cell | None:
    return next((c for c in cells if (c.image, c.k, c.method) == (image, k, method)), None)


def _note(cell: Cell) -> str:
    parts = []
    if "inertia_px" in cell.info and cell.method == "kmseg":
        parts.append(f"inertia/px {cell.info['inertia_px']:.1f}")
    if "n_iter" in cell.info:
        parts.append(f"{cell.info['n_iter']} it")
    if cell.info.get("n_init"):
        parts.append(f"n_init {cell.info['n_init']}")
    if cell.colors_used is not None and cell.colors_used < cell.k:
        parts.append(f"{cell.colors_used} colours used")
    parts += [f"warning: {w}" for w in cell.info.get("warnings", [])]
    return "; ".join(parts)


def result_rows(cells: list[Cell], image: str, ks: Sequence[int], methods: Sequence[Method]) -> list[list[str]]:
    """Table rows of one image: K, method, time, time ratio, SSE/px, SSE ratio, notes."""
    rows = [["K", "method", "seconds", "t / kmseg", "SSE/px", "SSE / kmseg", "notes"]]
    for k in ks:
        base = _find(cells, image, k, "kmseg")
        for method in methods:
            cell = _find(cells, image, k, method.key)
            if cell is None:
                continue
            if cell.status != "ok":
                rows.append([str(k), method.label, cell.status, "", "", "", cell.reason])
                continue
            t_ratio = s_ratio = ""
            if base is not None and base.status == "ok" and method.key != "kmseg":
                t_ratio = ratio_text(cell.seconds / base.seconds) if base.seconds else ""
                s_ratio = f"{cell.sse / base.sse:.4f}" if base.sse else ""
            rows.append([str(k), method.label, f"{cell.seconds:.3f}", t_ratio, f"{cell.sse_px:.2f}", s_ratio,
                         _note(cell)])
    return rows


def ratio_text(ratio: float) -> str:
    """A time ratio with two significant figures below 10, e.g. 0.071x, 3.4x, 45x."""
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:#.2g}x"


def _verdict(ok: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[ok]


def quality_targets(cells: list[Cell], images: Iterable[str], ks: Sequence[int]) -> list[dict[str, Any]]:
    """Per image and K: kmseg's SSE against min(sklearn n_init=1, OpenCV)
    (K <= 64) and against sklearn n_init=4 + 0.5 % (every K)."""
    checks = []
    for image in images:
        for k in ks:
            base = _find(cells, image, k, "kmseg")
            if base is None or base.status != "ok":
                continue
            peers = [c for m in ("sklearn", "opencv") if (c := _find(cells, image, k, m)) and c.status == "ok"]
            best = min(peers, key=lambda c: c.sse, default=None)
            four = _find(cells, image, k, "sklearn4")
            four = four if four is not None and four.status == "ok" else None
            checks.append({
                "image": image, "k": k, "kmseg_sse_px": base.sse_px,
                "compared": [c.method for c in peers],
                "best_method": None if best is None else best.method,
                "best_sse_px": None if best is None else best.sse_px,
                "le_best": None if best is None or k > TARGET_QUALITY_MAX_K else base.sse <= best.sse,
                "sklearn4_sse_px": None if four is None else four.sse_px,
                "within_sklearn4": None if four is None else base.sse <= (1 + TARGET_SKLEARN4_SLACK) * four.sse,
            })
    return checks


def speed_target(cells: list[Cell]) -> dict[str, Any] | None:
    """kmseg on the 12 MP image at K=16: seconds and OpenCV's time ratio."""
    base = _find(cells, "photo12mp", 16, "kmseg")
    if base is None or base.status != "ok":
        return None
    cv = _find(cells, "photo12mp", 16, "opencv")
    speedup = cv.seconds / base.seconds if cv is not None and cv.status == "ok" else None
    return {"kmseg_seconds": base.seconds, "le_seconds": base.seconds <= TARGET_SECONDS_12MP_K16,
            "opencv_speedup": speedup, "ge_speedup": None if speedup is None else speedup >= TARGET_SPEEDUP_OPENCV}


def target_rows(report: dict[str, Any]) -> list[list[str]]:
    """The target check as table rows."""
    rows = [["target", "case", "measured", "goal", "verdict"]]
    speed = report["targets"].get("speed")
    if speed:
        rows.append(["speed", "photo12mp K=16", f"{speed['kmseg_seconds']:.3f} s",
                     f"<= {TARGET_SECONDS_12MP_K16} s", _verdict(speed["le_seconds"])])
        measured = "" if speed["opencv_speedup"] is None else ratio_text(speed["opencv_speedup"])
        rows.append(["speed", "photo12mp K=16, OpenCV / kmseg", measured or "not run",
                     f">= {TARGET_SPEEDUP_OPENCV:g}x", _verdict(speed["ge_speedup"])])
    for q in report["targets"]["quality"]:
        case = f"{q['image']} K={q['k']}"
        if q["k"] <= TARGET_QUALITY_MAX_K:
            best = "not run" if q["best_sse_px"] is None else f"{q['best_sse_px']:.2f} ({q['best_method']})"
            rows.append(["SSE <= min(sklearn, OpenCV)", case, f"{q['kmseg_sse_px']:.2f} vs {best}", "<=",
                         _verdict(q["le_best"])])
        four = "not run" if q["sklearn4_sse_px"] is None else f"{q['sklearn4_sse_px']:.2f}"
        rows.append(["SSE within 0.5% of sklearn n_init=4", case, f"{q['kmseg_sse_px']:.2f} vs {four}",
                     "<= 1.005x", _verdict(q["within_sklearn4"])])
    mem = report.get("memory")
    if mem and "peak_mb" in mem:
        rows.append(["peak RSS", f"{mem['input']}, K={mem['k']}", f"{mem['peak_mb']:.0f} MB",
                     f"<= {TARGET_PEAK_MB:g} MB", _verdict(mem["peak_mb"] <= TARGET_PEAK_MB)])
    cold = report.get("cold_start")
    if cold and "first_wall_seconds" in cold:
        rows.append(["cold start, first process", "no bytecode cache", f"{cold['first_wall_seconds']:.2f} s",
                     f"<= {TARGET_COLD_FIRST_S:g} s", _verdict(cold["first_wall_seconds"] <= TARGET_COLD_FIRST_S)])
        rows.append(["cold start, later processes", f"best / median of {len(cold['later_wall_seconds'])}",
                     f"{cold['later_best_seconds']:.2f} / {cold['later_median_seconds']:.2f} s",
                     f"<= {TARGET_COLD_LATER_S:g} s", _verdict(cold["later_median_seconds"] <= TARGET_COLD_LATER_S)])
    return rows


def print_report(report: dict[str, Any], cells: list[Cell], ks: Sequence[int], methods: Sequence[Method],
                 markdown: bool) -> None:
    """Everything on stdout: header, one table per image, memory, cold start, targets."""
    head = report["header"]
    v = head["versions"]
    print(f"kmseg core benchmark, {head['date']}: {head['cpu_count']} CPUs ({head['machine']}), "
          f"load average {head['load_average_1min']}, thread env {head['thread_env'] or 'default'}")
    print("versions: " + ", ".join(f"{name} {ver}" for name, ver in v.items()))
    print(f"time: best of --repeat {report['options']['repeat']} (kmseg: --kmseg-repeat "
          f"{report['options']['kmseg_repeat']}); clustering + labelling from uint8 pixels "
          "in memory. SSE/px: picture with the palette rounded to 8 bits.")
    for name, shape in report["images"].items():
        print(f"\n{'### ' if markdown else ''}{name} ({shape[1]}x{shape[0]}, {shape[0] * shape[1] / 1e6:.2f} MP)\n")
        print(render(result_rows(cells, name, ks, methods), markdown))
    mem, cold = report.get("memory"), report.get("cold_start")
    if mem:
        print(f"\n{'### ' if markdown else ''}Peak memory (fresh process, kmseg alone)\n")
        if "error" in mem:
            print(f"error: {mem['error']}")
        else:
            hwm = "" if mem.get("vmhwm_mb") is None else f", VmHWM {mem['vmhwm_mb']:.0f} MB"
            print(f"{mem['input']}, K={mem['k']}: peak RSS (ru_maxrss) {mem['peak_mb']:.0f} MB{hwm} "
                  f"(after `import kmseg`: {mem['after_import_mb']:.0f} MB); "
                  f"segment {mem['segment_seconds']:.2f} s incl. JPEG decode")
    if cold:
        print(f"\n{'### ' if markdown else ''}Cold start (`python -c \"import kmseg; kmseg.segment(small, 8)\"`)\n")
        if "error" in cold:
            print(f"error: {cold['error']}")
        else:
            f = cold["first"]
            print(f"{cold['image']}. First process, empty bytecode cache: {cold['first_wall_seconds']:.2f} s wall "
                  f"(import {f['import_seconds']:.2f} s, segment {f['segment_seconds']:.2f} s). Later processes: "
                  f"best {cold['later_best_seconds']:.2f} s, median {cold['later_median_seconds']:.2f} s wall "
                  f"({', '.join(f'{w:.2f}' for w in cold['later_wall_seconds'])}; median import "
                  f"{cold['later_median_import_seconds']:.2f} s, "
                  f"segment {cold['later_median_segment_seconds']:.2f} s).")
    print(f"\n{'### ' if markdown else ''}Target check\n")
    print(render(target_rows(report), markdown))


# --------------------------------------------------------------------------
# Command line


def csv_list(text: str) -> list[str]:
    """Comma-separated words."""
    return [w.strip() for w in text.split(",") if w.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command-line options."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="methods: " + ", ".join(f"{m.key} = {m.label}" for m in METHODS.values()))
    ap.add_argument("--images", type=csv_list, default=list(IMAGE_NAMES),
                    help=f"comma-separated, from {','.join(IMAGE_NAMES)} (default: all)")
    ap.add_argument("--ks", type=lambda s: [int(w) for w in csv_list(s)], default=list(DEFAULT_KS),
                    help="comma-separated K values (default: 4,16,64,256)")
    ap.add_argument("--peers", type=csv_list, default=list(PEERS),
                    help=f"comma-separated peers to run beside kmseg (default: {','.join(PEERS)})")
    ap.add_argument("--repeat", type=int, default=1, help="runs per cell; the best time is kept (default 1)")
    ap.add_argument("--kmseg-repeat", type=int, default=3,
                    help="runs per cell for kmseg, the denominator of every ratio (default 3)")
    ap.add_argument("--skip-slow", action="store_true", help="skip sklearn n_init=4 on images over 4 MP")
    ap.add_argument("--max-seconds", type=float, default=120.0,
                    help="skip a run whose estimated time is longer (default 120); also caps repeats")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory process")
    ap.add_argument("--no-cold-start", action="store_true", help="skip the cold-start processes")
    ap.add_argument("--cold-runs", type=int, default=5, help="warm cold-start processes after the first (default 5)")
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    ap.add_argument("--out", type=Path, help="also write every figure to this JSON file")
    opts = ap.parse_args(argv)
    unknown = sorted(set(opts.peers) - set(PEERS))
    if unknown:
        ap.error(f"unknown peer(s) {unknown}; choose from {','.join(PEERS)}")
    bad = [k for k in opts.ks if not 1 <= k <= 256]
    if bad or not opts.ks:
        ap.error(f"--ks: every K must be from 1 to 256, got {opts.ks}")
    if set(opts.images) - set(IMAGE_NAMES) or not opts.images:
        ap.error(f"--images: choose from {','.join(IMAGE_NAMES)}, got {opts.images}")
    return opts


def subprocess_section(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a fresh-process measurement; a failure becomes {"error": ...}."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - reported, the rest of the report stands
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the report; 0 on completion."""
    opts = parse_args(argv)
    methods = [METHODS["kmseg"]] + [METHODS[key] for key in PEERS if key in opts.peers]
    ks = sorted(set(opts.ks))
    print("making images ...", file=sys.stderr, flush=True)
    images = benchmark_images(opts.images)
    first_calls(m for m in methods if not is_available(m))
    cells = run_grid(images, ks, methods, opts)
    report: dict[str, Any] = {
        "header": header(),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(opts).items()},
        "images": {name: list(img.shape) for name, img in images.items()},
    }
    with tempfile.TemporaryDirectory(prefix="kmseg-bench-core-") as tmp:
        work = Path(tmp)
        if not opts.no_memory:
            print("peak memory (fresh process) ...", file=sys.stderr, flush=True)
            big = images.get("photo12mp")
            report["memory"] = subprocess_section(
                lambda: peak_memory(big if big is not None else benchmark_images(["photo12mp"])["photo12mp"], 16, work))
        if not opts.no_cold_start:
            print("cold start (fresh processes) ...", file=sys.stderr, flush=True)
            report["cold_start"] = subprocess_section(lambda: cold_start(work, opts.cold_runs))
    report["cells"] = [asdict(c) for c in cells]
    report["targets"] = {"speed": speed_target(cells), "quality": quality_targets(cells, images, ks)}
    print_report(report, cells, ks, methods, opts.markdown)
    if opts.out:
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        opts.out.write_text(json.dumps(report, indent=1, default=float) + "\n")
        print(f"\nwrote {opts.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
