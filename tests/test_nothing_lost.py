"""Nothing lost: kill the ``kmseg`` command (SIGKILL and SIGINT) at random
moments of a 100-image batch, again and again.

After every kill: each output file there is complete and valid (PNGs decode
fully, palettes parse, an image's segmented picture only exists once all its
other outputs do), no input changed, and no temporary file is left by an
orderly stop (SIGINT). A SIGKILL may leave kmseg's hidden ``.NAME.*.tmp``
files of the writes it cut short, never a partial file under an output name;
the next run removes them. At the end one more run finishes the rest, and
every output is byte for byte what one uninterrupted run (fixed seed) gives,
with one manifest row per input.

The number of kills is ``KMSEG_KILL_ROUNDS`` (default 8: two batches killed
four times each, then finished; the test takes about half a minute). Each
kill lands at a point drawn from a seeded RNG: after a random number of
images are finished (or during start-up), plus a few random milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import kmseg_command, kmseg_env, like_a_terminal, save_photo
from PIL import Image

N_IMAGES = 100
K = 4
ROUNDS = int(os.environ.get("KMSEG_KILL_ROUNDS", "8"))
#: Kills of one batch before a final run completes it and the outputs are compared.
KILLS_PER_CAMPAIGN = 4
MANIFEST = "kmseg-manifest.jsonl"


def _args(out: Path) -> list[object]:
    return ["segment", "in", "-k", K, "--seed", 11, "-i", 30, "-o", out, "--labels", out / "labels",
            "--palette", out / "palettes", "--masks", out / "masks", "--jobs", 2, "-q"]


def _run(cwd: Path, out: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(kmseg_command(*_args(out)), cwd=cwd, env=kmseg_env(), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _hashes(folder: Path) -> dict[str, str]:
    return {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*")) if f.is_file()}


def _outputs(out: Path) -> dict[str, bytes]:
    """Every output file but the manifest (timings differ from run to run)."""
    return {str(f.relative_to(out)): f.read_bytes() for f in sorted(out.rglob("*"))
            if f.is_file() and f.name != MANIFEST and not f.name.endswith(".tmp")}


def _temporaries(out: Path) -> list[Path]:
    return sorted(f for f in out.rglob("*") if f.is_file() and f.name.endswith(".tmp"))


def _check_valid(out: Path, stems: list[str]) -> int:
    """Every output there is whole; returns how many images are finished."""
    for f in out.rglob("*"):
        if not f.is_file() or f.name.endswith(".tmp") or f.name == MANIFEST:
            continue
        if f.suffix == ".png":
            with Image.open(f) as im:
                assert im.format == "PNG", f
                im.load()  # raises on a truncated or corrupt file
        elif f.suffix == ".json":
            doc = json.loads(f.read_text())
            assert doc, f
        else:
            raise AssertionError(f"unexpected output file {f}")
    finished = 0
    for stem in stems:
        base = f"{stem}-k{K}"
        if (out / f"{base}.png").is_file():  # the picture is written last: all the rest is there
            finished += 1
            assert (out / "labels" / f"{base}-labels.png").is_file(), base
            assert (out / "palettes" / f"{base}-palette.json").is_file(), base
            assert (out / "masks" / f"{base}-mask-0.png").is_file(), base
    manifest = out / MANIFEST
    if manifest.is_file():
        lines = manifest.read_text().splitlines()
        for line in lines[:-1]:  # only the last line may be cut short by SIGKILL
            json.loads(line)
    return finished


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nothing-lost")
    for i in range(N_IMAGES):
        ext = ("jpg", "png")[i % 2]
        save_photo(root / "in" / f"img{i:03d}.{ext}", 64, 48, name=("china.jpg", "flower.jpg")[i % 3 == 0],
                   shift=i)
    return root


def _finished(out: Path) -> int:
    return len(list(out.glob(f"*-k{K}.png"))) if out.is_dir() else 0


def _kill_during_run(root: Path, out: Path, rng: random.Random, sig: signal.Signals) -> tuple[str, int]:
    """Start the batch, kill its process group at a random point; returns (when, exit status).

    The point is drawn from ``rng``: after a random number of further images
    are finished (0: during start-up, after a random delay), plus a random
    few milliseconds, so kills land in every phase of the writes.
    """
    done = _finished(out)
    target = done + rng.randint(0, max((N_IMAGES - done) * 2 // 3, 1))
    p = subprocess.Popen(kmseg_command(*_args(out)), cwd=root, env=kmseg_env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=like_a_terminal)
    if target == done:
        time.sleep(rng.uniform(0.0, 1.5))
        when = "during start-up"
    else:
        deadline = time.monotonic() + 60
        while _finished(out) < target and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.003)
        time.sleep(rng.uniform(0.0, 0.05))
        when = f"after image {target}"
    try:
        os.killpg(p.pid, sig)  # the whole process group: the command and its workers
    except ProcessLookupError:
        pass  # it had already finished
    _, err = p.communicate(timeout=60)
    if sig == signal.SIGINT and p.returncode not in (0, 130, -signal.SIGINT):
        pytest.fail(f"exit {p.returncode} after SIGINT:\n{err}")
    return when, p.returncode


@pytest.mark.slow
def test_killed_batches_lose_nothing_and_resume_to_the_same_bytes(inputs: Path) -> None:
    root = inputs
    stems = sorted(p.stem for p in (root / "in").iterdir())
    before = _hashes(root / "in")
    ref = _run(root, root / "ref")
    assert ref.returncode == 0, ref.stderr
    reference = _outputs(root / "ref")
    assert len([n for n in reference if "/" not in n]) == N_IMAGES

    rng = random.Random(20261122)
    log = []
    round_no = 0
    for campaign in range(-(-ROUNDS // KILLS_PER_CAMPAIGN)):
        out = root / f"out{campaign}"
        for _ in range(min(KILLS_PER_CAMPAIGN, ROUNDS - round_no)):
            sig = rng.choice((signal.SIGKILL, signal.SIGINT))
            when, status = _kill_during_run(root, out, rng, sig)
            finished = _check_valid(out, stems) if out.exists() else 0
            temps = _temporaries(out) if out.exists() else []
            if sig == signal.SIGINT and status == 130:
                assert temps == [], f"round {round_no}: SIGINT left temporary files {temps}"
            assert _hashes(root / "in") == before, f"round {round_no}: an input changed"
            log.append(f"round {round_no}: {sig.name} {when}, exit {status}, "
                       f"{finished}/{N_IMAGES} finished, {len(temps)} temporary files")
            round_no += 1
        final = _run(root, out)
        assert final.returncode == 0, final.stderr
        assert _temporaries(out) == [], "the run after the kills left temporary files"
        assert _hashes(root / "in") == before
        got = _outputs(out)
        assert sorted(got) == sorted(reference)
        differ = [name for name in reference if got[name] != reference[name]]
        assert differ == [], f"outputs differ from an uninterrupted run: {differ[:5]}"
        rows = [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()]
        assert sorted(Path(r["input"]).stem for r in rows) == stems  # one row per input
        assert {r["status"] for r in rows} <= {"done", "skipped"}
        log.append(f"campaign {campaign}: final run complete, {len(got)} files identical to the reference")
    print("\n".join(log))


def test_a_rerun_sweeps_temporaries_a_sigkill_left(inputs: Path, tmp_path: Path) -> None:
    """SIGKILL in the middle of atomic writes leaves ``.NAME.*.tmp`` beside
    the outputs (of unfinished and of finished images) and of the manifest;
    the next run removes them all and leaves other files alone."""
    work = tmp_path
    (work / "in").mkdir()
    for name in sorted(os.listdir(inputs / "in"))[:3]:
        (work / "in" / name).write_bytes((inputs / "in" / name).read_bytes())
    out = work / "out"
    first = _run(work, out)
    assert first.returncode == 0, first.stderr
    stems = sorted(p.stem for p in (work / "in").iterdir())
    (out / f"{stems[0]}-k{K}.png").unlink()  # as if killed before the picture was renamed into place
    stale = [out / f".{stems[0]}-k{K}.png.a1b2c3.tmp",  # unfinished image
             out / "labels" / f".{stems[1]}-k{K}-labels.png.d4e5f6.tmp",  # finished image
             out / "masks" / f".{stems[2]}-k{K}-mask-1.png.g7h8i9.tmp",
             out / f".{MANIFEST}.j0k1l2.tmp"]
    for f in stale:
        f.write_bytes(b"partial")
    keep = out / ".not-ours.tmp"
    keep.write_bytes(b"someone else's")
    second = _run(work, out)
    assert second.returncode == 0, second.stderr
    assert [f for f in stale if f.exists()] == []
    assert keep.exists()
    assert (out / f"{stems[0]}-k{K}.png").is_file()
    assert np.asarray(Image.open(out / f"{stems[0]}-k{K}.png")).size > 0
