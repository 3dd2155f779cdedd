"""Seed inputs for the fuzz target: the shared bad-input corpus, plus valid images.

The corpus (``tests/corpus/make_corpus.py``, a module with ``CASES``, each
with ``make() -> bytes``) is used when it is there; valid images of every
format kmseg opens (PNG 8/16-bit, palette with transparency, grey + alpha,
JPEG RGB/grey/CMYK, GIF, WebP, BMP, TIFF, PPM) are always added, made here
with Pillow, so the fuzzer starts from files that reach deep into each
decoder.

Run as a script to write them: ``python tests/fuzz/fuzz_seeds.py OUTDIR``.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

CORPUS_SCRIPT = Path(__file__).resolve().parents[1] / "corpus" / "make_corpus.py"
#: Seeds larger than this are left out (libFuzzer would cut them to -max_len anyway).
MAX_SEED_BYTES = 4 * 2**20


def _pattern(w: int, h: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 127 // max(w + h - 2, 1)], -1)
    return np.clip(base + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)


def _save(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def pillow_seeds() -> Iterator[tuple[str, bytes]]:
    """Small valid images of every input format and the odd modes."""
    rgb = Image.fromarray(_pattern(24, 16, 1), "RGB")
    grey = rgb.convert("L")
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray(_pattern(24, 16, 2)[:, :, 0]))
    pal = rgb.quantize(8)
    pal.info["transparency"] = 0
    yield "rgb.png", _save(rgb, "PNG")
    yield "rgba.png", _save(rgba, "PNG")
    yield "grey-alpha.png", _save(rgba.convert("LA"), "PNG")
    yield "palette-transparent.png", _save(pal, "PNG", transparency=0)
    yield "grey16.png", _save(Image.fromarray((_pattern(24, 16, 3)[:, :, 0].astype(np.uint16) * 257)), "PNG")
    # 16-bit RGB PNG, written by hand (Pillow cannot write 48-bit PNGs).
    yield "rgb16.png", _png16(_pattern(12, 8, 4).astype(np.uint16) * 257)
    yield "bilevel.png", _save(grey.convert("1"), "PNG")
    yield "rgb.jpg", _save(rgb, "JPEG", quality=80)
    yield "grey.jpg", _save(grey, "JPEG")
    yield "cmyk.jpg", _save(rgb.convert("CMYK"), "JPEG")
    yield "progressive.jpg", _save(rgb, "JPEG", progressive=True)
    exif = Image.Exif()
    exif[0x0112] = 6
    yield "exif-rotated.jpg", _save(rgb, "JPEG", exif=exif.tobytes())
    yield "anim.gif", _save(pal, "GIF", save_all=True, append_images=[rgb.quantize(4)], duration=50)
    yield "rgb.webp", _save(rgb, "WEBP", quality=60)
    yield "rgba-lossless.webp", _save(rgba, "WEBP", lossless=True)
    yield "rgb.bmp", _save(rgb, "BMP")
    yield "palette.bmp", _save(pal.convert("P"), "BMP")
    yield "rgb.tiff", _save(rgb, "TIFF")
    yield "cmyk-lzw.tiff", _save(rgb.convert("CMYK"), "TIFF", compression="tiff_lzw")
    yield "grey16.tiff", _save(Image.fromarray(_pattern(24, 16, 5)[:, :, 1].astype(np.uint16) * 257), "TIFF")
    yield "float.tiff", _save(Image.fromarray(_pattern(24, 16, 6)[:, :, 2].astype(np.float32) / 255), "TIFF")
    yield "rgb.ppm", _save(rgb, "PPM")
    yield "grey.pgm", _save(grey, "PPM")


def _png16(a: np.ndarray) -> bytes:
    import struct
    import zlib

    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def corpus_seeds() -> Iterator[tuple[str, bytes]]:
    """The cases of the shared corpus script, if it is there (none otherwise)."""
    if not CORPUS_SCRIPT.is_file():
        return
    tests_dir = str(CORPUS_SCRIPT.parents[1])
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    try:
        module = importlib.import_module("corpus.make_corpus")
        cases = list(getattr(module, "CASES"))
    except Exception as exc:  # noqa: BLE001 - the corpus is being written by someone else
        print(f"fuzz_seeds: cannot use {CORPUS_SCRIPT}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return
    for n, case in enumerate(cases):
        make: Callable[[], bytes] | None = getattr(case, "make", None)
        if make is None and isinstance(case, dict):
            make = case.get("make")
        if make is None:
            continue
        name = str(getattr(case, "name", None) or getattr(case, "id", None) or f"case{n:02d}")
        try:
            data = make()
        except Exception as exc:  # noqa: BLE001
            print(f"fuzz_seeds: corpus case {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        if isinstance(data, (bytes, bytearray)) and len(data) <= MAX_SEED_BYTES:
            yield f"corpus-{name}", bytes(data)


def write_seeds(outdir: str | Path) -> dict[str, int]:
    """Write every seed into ``outdir``; returns how many came from where."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    counts = {"corpus": 0, "pillow": 0}
    seen: set[str] = set()
    for kind, seeds in (("corpus", corpus_seeds()), ("pillow", pillow_seeds())):
        for name, data in seeds:
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]
            digest = hashlib.sha1(data).hexdigest()[:8]
            if digest in seen:  # several corpus cases share a file (bad parameters)
                continue
            seen.add(digest)
            (out / f"{safe}-{digest}").write_bytes(data)
            counts[kind] += 1
    return counts


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/fuzz/fuzz_seeds.py OUTDIR")
    print(write_seeds(sys.argv[1]))
