"""The fuzz target run for a bounded time, and the regression cases of what it found.

``test_fuzz_decode_finds_nothing`` runs ``fuzz_decode.py`` (atheris/libFuzzer,
or the hypothesis fallback) in its own process, seeded with the bad-input
corpus and valid images of every format: 60 s when ``CI=true``, 10 s
otherwise, ``KMSEG_FUZZ_SECONDS`` to run longer. It fails on any crash and
prints the number of executions.
"""

from __future__ import annotations

import io
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fuzz_decode import MAX_PIXELS, one_input
from fuzz_seeds import write_seeds
from PIL import Image

import kmseg

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"


def _seconds() -> int:
    if os.environ.get("KMSEG_FUZZ_SECONDS"):
        return int(os.environ["KMSEG_FUZZ_SECONDS"])
    return 60 if os.environ.get("CI") == "true" else 10


def _executions(log: str) -> int | None:
    for pattern in (r"stat::number_of_executed_units:\s*(\d+)", r"Done (\d+) runs", r"#(\d+)\s+DONE"):
        found = re.findall(pattern, log)
        if found:
            return int(found[-1])
    return None


@pytest.mark.slow
def test_fuzz_decode_finds_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeds, work, artifacts = tmp_path / "seeds", tmp_path / "work", tmp_path / "artifacts"
    work.mkdir()
    artifacts.mkdir()
    counts = write_seeds(seeds)
    seconds = _seconds()
    cmd = [sys.executable, str(HERE / "fuzz_decode.py"), f"-max_total_time={seconds}", "-rss_limit_mb=2048",
           "-timeout=30", "-max_len=100000", "-print_final_stats=1", f"-artifact_prefix={artifacts}/",
           str(work), str(seeds)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    env.pop("KMSEG_FUZZ_FINDINGS", None)
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=seconds + 180,
                       stdin=subprocess.DEVNULL)
    log = r.stdout + r.stderr
    crashes = sorted(artifacts.iterdir())
    runs = _executions(log)
    engine = "hypothesis fallback" if "hypothesis fallback" in log else "atheris/libFuzzer"
    with capsys.disabled():
        print(f"\nfuzz_decode ({engine}): {runs} executions in {seconds} s, "
              f"seeds: {counts['corpus']} corpus cases + {counts['pillow']} valid images")
    if r.returncode != 0 or crashes or "Uncaught Python exception" in log:
        found = "\n".join(f"{c.name}: {c.read_bytes()[:400]!r}" for c in crashes)
        pytest.fail(f"the fuzz target found a bug (exit {r.returncode}); reproduce with "
                    f"`python tests/fuzz/fuzz_decode.py CRASHFILE`\n{found}\n--- log tail ---\n{log[-4000:]}")
    assert runs, f"no execution count in the fuzzer's output:\n{log[-2000:]}"


def test_hypothesis_fallback_runs_where_atheris_is_missing(tmp_path: Path) -> None:
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "atheris.py").write_text('raise ImportError("No module named \'atheris\'")\n')
    seeds = tmp_path / "seeds"
    write_seeds(seeds)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(SRC)])}
    env.pop("KMSEG_FUZZ_FINDINGS", None)
    r = subprocess.run([sys.executable, str(HERE / "fuzz_decode.py"), "-max_total_time=2", str(seeds)],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "hypothesis fallback" in r.stderr
    assert (_executions(r.stderr) or 0) > 0


# ------------------------------------------------------------- findings


def _two_frame_gif() -> bytes:
    a = np.zeros((16, 24, 3), np.uint8)
    a[:, :12] = (200, 30, 30)
    b = np.zeros((16, 24, 3), np.uint8)
    b[8:] = (30, 200, 30)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "GIF", save_all=True, append_images=[Image.fromarray(b)], duration=50)
    return buf.getvalue()


def gif_with_broken_second_frame(tail: bytes) -> bytes:
    """A good first frame; the second frame's blocks end in ``tail``."""
    data = _two_frame_gif()
    first_gce = data.index(b"\x21\xf9")
    second = data.index(b"\x21\xf9", first_gce + 1)  # the second frame's graphic control block
    return data[:second + 8] + tail


def tiff_with_bad_second_ifd(tag: int, *, new_tag: int | None = None, new_value: int | None = None) -> bytes:
    """A two-page TIFF whose second page's ``tag`` is renamed or given another value."""
    buf = io.BytesIO()
    page = Image.fromarray(np.full((8, 12, 3), 90, np.uint8))
    page.save(buf, "TIFF", save_all=True, append_images=[page])
    data = bytearray(buf.getvalue())
    first = struct.unpack_from("<I", data, 4)[0]
    second = struct.unpack_from("<I", data, first + 2 + 12 * struct.unpack_from("<H", data, first)[0])[0]
    for i in range(struct.unpack_from("<H", data, second)[0]):
        entry = second + 2 + 12 * i
        found, kind = struct.unpack_from("<HH", data, entry)
        if found == tag:
            if new_tag is not None:
                struct.pack_into("<H", data, entry, new_tag)
            if new_value is not None:
                struct.pack_into("<H" if kind == 3 else "<I", data, entry + 8, new_value)
            return bytes(data)
    raise AssertionError(f"tag {tag} not in the second IFD")


def tiff_with_retyped_tag(tag: int, new_type: int) -> bytes:
    """A one-page TIFF whose ``tag`` entry claims another value type (e.g. float)."""
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 12, 3), 90, np.uint8)).save(buf, "TIFF")
    data = bytearray(buf.getvalue())
    first = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, first)[0]):
        entry = first + 2 + 12 * i
        if struct.unpack_from("<H", data, entry)[0] == tag:
            struct.pack_into("<H", data, entry + 2, new_type)
            return bytes(data)
    raise AssertionError(f"tag {tag} not in the IFD")


# Uncaught exceptions out of Pillow, found by fuzz_decode.py. The first five
# came while kmseg counted the frames (``n_frames`` walks every frame), the
# last while decoding (``load()`` seeks to a strip offset that is a float).
FINDINGS = {
    "tiff-float-strip-offset-type-error": lambda: tiff_with_retyped_tag(273, 11),
    "gif-frame-truncated-struct-error": lambda: gif_with_broken_second_frame(b","),
    "gif-frame-truncated-index-error": lambda: gif_with_broken_second_frame(
        b",\x00\x00\x00\x00\x18\x00\x10\x00\x81"),
    "tiff-page-without-width-type-error": lambda: tiff_with_bad_second_ifd(256, new_tag=0x9999),
    "tiff-page-unknown-mode-syntax-error": lambda: tiff_with_bad_second_ifd(258, new_value=0),
    "tiff-page-unknown-compression-key-error": lambda: tiff_with_bad_second_ifd(259, new_value=12345),
}


@pytest.mark.parametrize("name", sorted(FINDINGS))
def test_fuzz_finding_is_a_documented_error(name: str) -> None:
    data = FINDINGS[name]()
    with pytest.raises(kmseg.ImageDecodeError, match="corrupt image"):
        kmseg.load_image(data, max_pixels=MAX_PIXELS)
    assert one_input(data) == "ImageDecodeError"


def test_fuzz_target_accepts_the_valid_seeds(tmp_path: Path) -> None:
    """The seeds are real images: the target segments them (so it can fail on real work)."""
    write_seeds(tmp_path)
    outcomes = {f.name: one_input(f.read_bytes()) for f in tmp_path.iterdir() if not f.name.startswith("corpus-")}
    assert outcomes and all(v == "ok" for v in outcomes.values()), outcomes
