"""Paint-by-number and SVG at every size (issue 17, "fast at every option"):
``labels_to_paint_by_number`` (and writing the sheet as SVG) and
``labels_to_svg`` on the label maps of china (640 x 427) and the 12-megapixel
photo, K=16, seed 0, default options (no ``min_region``: the 12 MP map has
about 322,000 regions), timed for two source trees in one run.

The label maps are made once, by the kmseg imported here, and handed to
both trees, so both draw the same map. Each measurement runs in a fresh
process (``PYTHONPATH`` set to the tree's ``src``) and the two trees take
turns, repeat after repeat, so that the machine's load falls on both alike.
Figures: wall-clock seconds (min and median) and CPU seconds of the process
for the call (min and median; other jobs on the machine disturb them less),
and a digest of the output, which says whether the trees draw the same.

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_paint.py
--before /path/to/other/checkout/src [--repeat 3] [--images photo12mp]
[--tasks paint-by-number]. Writes results/bench_paint.md (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import kmseg
from _images import photo12mp, sample

HERE = Path(__file__).resolve().parent
AFTER = HERE.parent / "src"
CASES = (("china", 16), ("photo12mp", 16))
TASKS = ("paint-by-number", "sheet to_svg", "labels_to_svg")

CHILD = r"""
import hashlib, json, sys, time
import numpy as np
import kmseg
maps = np.load(sys.argv[1])
labels, palette, task = maps["labels"], maps["palette"], sys.argv[2]
if task == "sheet to_svg":
    sheet = kmseg.labels_to_paint_by_number(labels, palette)
t, c = time.perf_counter(), time.process_time()
if task == "paint-by-number":
    out = kmseg.labels_to_paint_by_number(labels, palette)
    digest = out.numbers.tobytes() + repr([o.tolist() for o in out.outlines]).encode()
else:
    out = sheet.to_svg() if task == "sheet to_svg" else kmseg.labels_to_svg(labels, palette)
    digest = out.encode()
wall, cpu = time.perf_counter() - t, time.process_time() - c
extra = f"{len(out.numbers)} numbers, {out.unlabelled} unlabelled" if task == "paint-by-number" else f"{len(out):,} bytes"
print(json.dumps({"wall": wall, "cpu": cpu, "digest": hashlib.sha1(digest).hexdigest()[:12], "extra": extra}))
"""


def measure(src: Path, maps: Path, task: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(maps), task], env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the src folder of the tree to compare with")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--images", nargs="*", default=[name for name, _ in CASES], help="china photo12mp")
    parser.add_argument("--tasks", nargs="*", default=list(TASKS), help=", ".join(TASKS))
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench_paint.md")
    args = parser.parse_args()
    rows = []
    started = datetime.now(timezone.utc)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for name, k in CASES:
            if name not in args.images:
                continue
            seg = kmseg.segment(photo12mp() if name == "photo12mp" else sample(name), k, seed=0)
            maps = Path(tmp) / f"{name}.npz"
            np.savez(maps, labels=seg.labels, palette=seg.palette)
            for task in (t for t in TASKS if t in args.tasks):
                runs: dict[str, list[dict]] = {"before": [], "after": []}
                for _ in range(args.repeat):
                    for side, src in (("before", args.before), ("after", AFTER)):
                        runs[side].append(measure(src, maps, task))
                for side in ("before", "after"):
                    r = runs[side]
                    wall, cpu = [x["wall"] for x in r], [x["cpu"] for x in r]
                    rows.append((f"{name} {seg.labels.shape[1]}x{seg.labels.shape[0]} K={k}", task, side,
                                 min(wall), statistics.median(wall), min(cpu), statistics.median(cpu),
                                 r[-1]["digest"], r[-1]["extra"]))
                    print(*rows[-1], flush=True)
    load_after = os.getloadavg()
    lines = [f"# bench_paint: paint-by-number and SVG, before ({args.before}) and after (this tree)", "",
             f"{started:%Y-%m-%d %H:%M} UTC, min and median of {args.repeat}, the two trees taking turns; "
             f"load average {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end (2 cores).", "",
             "| image | task | tree | wall min (s) | wall median (s) | CPU min (s) | CPU median (s) | output digest | output |",
             "|---|---|---|---:|---:|---:|---:|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d:.2f} | {e:.2f} | {f:.2f} | {g:.2f} | {h} | {i} |" for a, b, c, d, e, f, g, h, i in rows]
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
