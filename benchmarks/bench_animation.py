"""One palette for an animation: flicker of kmseg.segment_frames against
per-frame quantisation (issue 16, item 4).

Two animations, the same on every run (all noise seeded):

- "shapes": 24 frames of 360 x 240, six flat colours (three still bands on
  the left, a pattern sliding on the right) plus Gaussian noise of sigma 12
  drawn afresh for every frame;
- "photo, still pixels equal": 24 frames of 480 x 320 from scikit-learn's
  china.jpg (with Gaussian noise of sigma 2, drawn once), with a 120 x 80
  crop of flower.jpg sliding across it: the still pixels are the same in
  every frame, as in most GIF, APNG and WebP animations (drawings, screen
  recordings, stickers);
- "photo, sensor noise": the same, but the noise is drawn afresh for every
  frame (a camera's sensor noise, as in a video cut into a GIF): the still
  pixels change a little from frame to frame themselves.

Each is quantised to K colours by

- kmseg ``segment_frames`` (one histogram over all frames, one fit, one palette);
- kmseg ``segment`` frame by frame (a palette per frame, same seed);
- Pillow ``Image.quantize(K)`` frame by frame (median cut, no dithering),
  as a GIF encoder does when it is given RGB frames.

Figures: flicker = the mean colour change (Euclidean distance in RGB,
0-255 levels) of the still pixels (those the moving part never covers) from
one frame to the next; the share of still pixel steps whose colour changes
at all; PSNR over all frames against the input; time (min and median of
``--repeat`` runs, the whole animation).

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_animation.py
Writes results/bench_animation.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

import kmseg

FRAMES = 24
SHAPE_COLOURS = np.array([(230, 40, 40), (40, 200, 60), (40, 60, 220), (240, 220, 40), (30, 210, 220),
                          (200, 50, 210)], dtype=np.uint8)


def shapes() -> tuple[np.ndarray, np.ndarray]:
    """(F, H, W, 3) frames and the (H, W) mask of still pixels."""
    h, w = 240, 360
    rng = np.random.default_rng(0)
    index = np.empty((FRAMES, h, w), dtype=np.int64)
    for f in range(FRAMES):
        index[f, :, : w // 2] = (np.arange(h)[:, None] // (h // 3)) % 3
        index[f, :, w // 2:] = 3 + (np.arange(w - w // 2)[None, :] // 20 + f) % 3
    rgb = SHAPE_COLOURS[index] + np.rint(rng.normal(0, 12.0, index.shape + (3,)))
    still = np.zeros((h, w), bool)
    still[:, : w // 2] = True
    return np.clip(rgb, 0, 255).astype(np.uint8), still


def photo(fresh_noise: bool) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_sample_image

    h, w, sh, sw = 320, 480, 80, 120
    china = np.asarray(Image.fromarray(load_sample_image("china.jpg")).resize((w, h), Image.LANCZOS))
    flower = np.asarray(Image.fromarray(load_sample_image("flower.jpg")).resize((sw, sh), Image.LANCZOS))
    rng = np.random.default_rng(1)
    frames = np.empty((FRAMES, h, w, 3), dtype=np.uint8)
    still = np.ones((h, w), bool)
    top = (h - sh) // 2
    noise = rng.normal(0, 2.0, (h, w, 3))
    for f in range(FRAMES):
        left = f * (w - sw) // (FRAMES - 1)
        frame = china.astype(np.float64).copy()
        frame[top:top + sh, left:left + sw] = flower
        still[top:top + sh, left:left + sw] = False
        if fresh_noise:
            noise = rng.normal(0, 2.0, frame.shape)
        frames[f] = np.clip(np.rint(frame + noise), 0, 255).astype(np.uint8)
    return frames, still


def kmseg_whole(frames: np.ndarray, k: int) -> np.ndarray:
    anim = kmseg.segment_frames(kmseg.Frames(frames, None, (100,) * len(frames)), k, seed=0)
    return anim.palette[anim.labels]


def kmseg_per_frame(frames: np.ndarray, k: int) -> np.ndarray:
    out = []
    for f in frames:
        seg = kmseg.segment(f, k, seed=0)
        out.append(seg.palette[seg.labels])
    return np.stack(out)


def pillow_per_frame(frames: np.ndarray, k: int) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(f).quantize(k, dither=Image.Dither.NONE).convert("RGB"))
                     for f in frames])


METHODS = (("kmseg segment_frames (one palette)", kmseg_whole), ("kmseg segment per frame", kmseg_per_frame),
           ("Pillow quantize per frame", pillow_per_frame))


def flicker(out: np.ndarray, still: np.ndarray) -> tuple[float, float]:
    """(mean colour change of still pixels between frames, share of still pixel steps that change)."""
    steps = np.diff(out.astype(np.float64), axis=0)[:, still]
    dist = np.sqrt((steps ** 2).sum(-1))
    return float(dist.mean()), float((dist > 0).mean())


def psnr(out: np.ndarray, frames: np.ndarray) -> float:
    mse = float(((out.astype(np.float64) - frames) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def timed(fn, repeat: int) -> tuple[float, float, np.ndarray]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_animation.md"))
    args = parser.parse_args()
    rows = []
    cases = (("shapes", shapes, 6), ("photo, still pixels equal", lambda: photo(False), 16),
             ("photo, still pixels equal", lambda: photo(False), 64), ("photo, sensor noise", lambda: photo(True), 16))
    for name, make, k in cases:
        frames, still = make()
        label = f"{name} {frames.shape[0]} x {frames.shape[2]}x{frames.shape[1]} K={k}"
        print(label, flush=True)
        for method, fn in METHODS:
            best, median, out = timed(lambda fn=fn: fn(frames, k), args.repeat)
            mean, share = flicker(out, still)
            rows.append((label, method, mean, share, psnr(out, frames), best, median))
            print(f"  {method}: flicker {mean:.3f} ({share:.2%} steps change), PSNR {rows[-1][4]:.2f} dB, "
                  f"{best:.3f} / {median:.3f} s", flush=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# bench_animation.py (min and median of {args.repeat}, {stamp}, 2-core machine shared with "
             "other jobs: times are noisy)", "",
             "Flicker: mean RGB colour change of the still pixels (never covered by the moving part) from one "
             "frame to the next, 0-255 levels; still steps changing: the share of (pixel, frame step) pairs "
             "whose output colour changes. In \"shapes\" and \"sensor noise\" the input's still pixels "
             "themselves change from frame to frame (noise drawn afresh).", "",
             "| animation | method | flicker | still steps changing | PSNR dB | s (min) | s (median) |",
             "|---|---|---|---|---|---|---|"]
    for label, method, mean, share, p, best, median in rows:
        lines.append(f"| {label} | {method} | {mean:.3f} | {share:.2%} | {p:.2f} | {best:.3f} | {median:.3f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
