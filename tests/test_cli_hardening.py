"""``kmseg segment`` against hostile or unlucky inputs (issue 14): special files,
hostile palette files, a damaged manifest, escaping output names, colour-key
transparency, large ICC profiles, and a full disk (simulated: see
:func:`full_disk_env`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import kmseg_env, no_traceback, run_kmseg, save_photo
from PIL import Image


def run_guarded(*args: object, cwd: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """:func:`run_kmseg`, but a run that hangs fails the test instead of hanging the suite."""
    try:
        return run_kmseg(*args, cwd=cwd, timeout=timeout, **env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"kmseg {' '.join(map(str, args))} did not finish in {timeout} s (blocked?)")


# ---------------------------------------------------------- special files


def release_readers(fifo: Path) -> None:
    """Let any process stuck opening ``fifo`` for reading go on (a writer appears and leaves)."""
    for _ in range(8):
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # no reader waiting
            return


def test_a_named_pipe_in_a_folder_is_reported_and_the_batch_finishes(tmp_path: Path) -> None:
    save_photo(tmp_path / "in" / "a.jpg", 32, 24)
    save_photo(tmp_path / "in" / "b.png", 32, 24, shift=2)
    os.mkfifo(tmp_path / "in" / "x.jpg")
    try:
        r = run_guarded("segment", "in", "-k", 2, "-o", "out", cwd=tmp_path, timeout=90)
    finally:
        release_readers(tmp_path / "in" / "x.jpg")
    assert r.returncode == 1, r.stderr
    assert "x.jpg" in r.stderr and "named pipe" in r.stderr and no_traceback(r.stderr)
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["a-k2.png", "b-k2.png"]


@pytest.mark.parametrize("kind", ["fifo", "socket", "device"])
def test_a_special_file_as_the_only_input_says_what_it_is(tmp_path: Path, kind: str) -> None:
    if kind == "fifo":
        src = tmp_path / "x.jpg"
        os.mkfifo(src)
        words = "named pipe"
    elif kind == "socket":
        src = tmp_path / "s.png"
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(src))
        words = "socket"
    else:
        src = Path("/dev/urandom")
        words = "device"
    try:
        r = run_guarded("segment", src, "-k", 2, "-o", "o.png", cwd=tmp_path, timeout=60)
    finally:
        if kind == "socket":
            sock.close()
        elif kind == "fifo":
            release_readers(src)
    assert r.returncode == 1, r.stderr
    assert words in r.stderr and "not a regular file" in r.stderr
    assert "is a folder" not in r.stderr and no_traceback(r.stderr)
    assert not (tmp_path / "o.png").exists()


# ---------------------------------------------------------- untrusted text


@pytest.mark.parametrize("text", ["[" * 100_000, '{"colors": [' + "[" * 50_000])
def test_a_deeply_nested_palette_file_is_a_usage_error(tmp_path: Path, text: str) -> None:
    save_photo(tmp_path / "a.jpg", 32, 24)
    (tmp_path / "deep.json").write_text(text)
    r = run_kmseg("segment", "a.jpg", "--palette-from", "deep.json", "-o", "o.png", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "--palette-from" in r.stderr and "nested" in r.stderr
    assert "internal error" not in r.stderr and no_traceback(r.stderr)


def test_binary_bytes_in_the_manifest_are_reported_and_ignored(tmp_path: Path) -> None:
    save_photo(tmp_path / "in" / "a.jpg", 32, 24)
    save_photo(tmp_path / "in" / "b.png", 32, 24, shift=2)
    first = run_kmseg("segment", "in", "-k", 2, "-o", "out", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    manifest = tmp_path / "out" / "kmseg-manifest.jsonl"
    with manifest.open("ab") as f:
        f.write(b"\xff\xfe\x00 binary\n" + b"[" * 100_000 + b"\n" + b'{"input": "x", "output": [1]}\n')
    (tmp_path / "out" / "a-k2.png").unlink()
    for _ in range(2):  # and the run after: the damage is gone
        r = run_kmseg("segment", "in", "-k", 2, "-o", "out", "--json", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "internal error" not in r.stderr and no_traceback(r.stderr)
        status = {Path(i["input"]).name: i["status"] for i in json.loads(r.stdout)["images"]}
        assert status["b.png"] == "skipped" and (tmp_path / "out" / "a-k2.png").is_file()
        if _ == 0:
            assert "3 unreadable lines ignored" in r.stderr and status["a.jpg"] == "done"
    assert "unreadable" not in r.stderr
    for line in manifest.read_bytes().splitlines():
        json.loads(line)


# ---------------------------------------------------------- output names


@pytest.mark.parametrize(
    "pattern",
    ["../../escape-{stem}.png", "ABS/escape-{stem}.png", "{stem.__class__}.png", "{stem[0]}.png",
     "sub/../../escape-{stem}.png"],
)
def test_name_patterns_that_leave_the_folder_or_reach_attributes_are_usage_errors(
        tmp_path: Path, pattern: str) -> None:
    work = tmp_path / "a" / "b"
    save_photo(work / "in" / "p.jpg", 32, 24)
    save_photo(work / "in" / "q.jpg", 32, 24, shift=1)
    pattern = pattern.replace("ABS", str(tmp_path))
    for inputs in (["in"], ["in/p.jpg"]):  # several inputs, and one input with -o a folder
        r = run_kmseg("segment", *inputs, "-k", 2, "-o", "out/", "--name", pattern, cwd=work)
        assert r.returncode == 2, r.stderr
        assert "name pattern" in r.stderr and no_traceback(r.stderr)
    assert list(tmp_path.rglob("escape-*")) == [] and list(tmp_path.rglob("*class*")) == []
    assert not (work / "out").exists()


# ---------------------------------------------------------- odd but valid images


def test_trns_colour_key_survives_the_command_line(tmp_path: Path) -> None:
    values = np.array([[250, 10, 10], [10, 200, 10], [10, 10, 240]], np.uint8)
    index = np.indices((16, 24)).sum(axis=0) % 3
    Image.fromarray(values[index]).save(tmp_path / "key.png", transparency=(250, 10, 10))
    r = run_kmseg("segment", "key.png", "-k", 2, "-o", "out.png", "--seed", 0, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "out.png") as im:
        alpha = np.asarray(im.convert("RGBA"))[:, :, 3]
    assert np.array_equal(alpha == 0, index == 0)


def test_png_with_a_large_icc_profile_is_segmented(tmp_path: Path) -> None:
    im = Image.open(save_photo(tmp_path / "a.png", 32, 24))
    profile = bytes(np.random.default_rng(1).integers(0, 256, 2_000_000, dtype=np.uint8))
    im.save(tmp_path / "icc.png", icc_profile=profile)
    r = run_kmseg("segment", "icc.png", "-k", 2, "-o", "out.png", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.png").is_file() and "corrupt" not in r.stderr


# ---------------------------------------------------------- a full disk

SITECUSTOMIZE = textwrap.dedent('''
    """Test double of a full disk under $KMSEG_TEST_DISK, loaded by every kmseg process
    (workers too) through PYTHONPATH. While the file $KMSEG_TEST_FULL exists, writing a
    file whose name contains $KMSEG_TEST_FULL_FOR (every file when it is "*") fails
    with ENOSPC at fsync, as on a full disk; with "*", opening files there for writing
    fails too, and with $KMSEG_TEST_STATVFS set, statvfs reports no free blocks."""
    import builtins, errno, io, os

    _DISK = os.path.realpath(os.environ["KMSEG_TEST_DISK"]) + os.sep
    _FLAG = os.environ["KMSEG_TEST_FULL"]
    _FOR = os.environ.get("KMSEG_TEST_FULL_FOR", "*")

    def _full(path, every=False):
        try:
            path = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return (path.startswith(_DISK) and os.path.exists(_FLAG)
                and (_FOR == "*" or (not every and _FOR in os.path.basename(path))))

    def _enospc(path):
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fsdecode(path))

    _fsync = os.fsync

    def fsync(fd):
        path = os.readlink(f"/proc/self/fd/{fd}")
        if _full(path):
            raise _enospc(path)
        return _fsync(fd)

    os.fsync = fsync
    _open = builtins.open

    def open_(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and set(mode) & set("wax+") and _full(file, every=True):
            raise _enospc(file)
        return _open(file, mode, *args, **kwargs)

    builtins.open = io.open = open_
    if os.environ.get("KMSEG_TEST_STATVFS"):
        _statvfs = os.statvfs

        def statvfs(path):
            r = _statvfs(path)
            if not _full(os.path.join(path, "x"), every=True):
                return r
            return os.statvfs_result((r.f_bsize, r.f_frsize, r.f_blocks, 0, 0, r.f_files, r.f_ffree,
                                      r.f_favail, r.f_flag, r.f_namemax))

        os.statvfs = statvfs
''')


def full_disk_env(tmp_path: Path, disk: Path, full_for: str = "*", statvfs: bool = False) -> dict[str, str]:
    """Environment of a kmseg run whose output disk ``disk`` is full (see SITECUSTOMIZE)."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    flag = tmp_path / "disk-is-full"
    flag.touch()
    env = {"PYTHONPATH": os.pathsep.join([str(site), kmseg_env()["PYTHONPATH"]]),
           "KMSEG_TEST_DISK": str(disk), "KMSEG_TEST_FULL": str(flag), "KMSEG_TEST_FULL_FOR": full_for}
    if statvfs:
        env["KMSEG_TEST_STATVFS"] = "1"
    return env


def test_disk_full_mid_run_then_freed_the_rerun_writes_every_missing_output(tmp_path: Path) -> None:
    for i in range(4):
        save_photo(tmp_path / "in" / f"early{i}.jpg", 32, 24, shift=i)
        save_photo(tmp_path / "in" / f"late{i}.jpg", 32, 24, shift=i + 4)
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    (tmp_path / "out").mkdir()
    env = full_disk_env(tmp_path, tmp_path / "out", full_for="late")
    first = run_kmseg("segment", "in", "-k", 2, "-o", "out", "--jobs", 2, "--json", cwd=tmp_path, **env)
    assert first.returncode == 1, first.stderr
    assert "No space left on device" in first.stderr and no_traceback(first.stderr)
    images = {Path(i["input"]).name: i for i in json.loads(first.stdout)["images"]}
    assert {n for n, i in images.items() if i["status"] == "failed"} == {f"late{i}.jpg" for i in range(4)} | {
        "broken.png"}
    assert {images[f"late{i}.jpg"]["failure"] for i in range(4)} == {"environment"}
    assert images["broken.png"]["failure"] == "input"
    assert "5 inputs without outputs" in first.stderr and "tried again by the next run" in first.stderr

    (tmp_path / "disk-is-full").unlink()  # space freed
    second = run_kmseg("segment", "in", "-k", 2, "-o", "out", "--json", cwd=tmp_path, **env)
    assert second.returncode == 0, second.stderr
    outputs = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert outputs == sorted([f"early{i}-k2.png" for i in range(4)] + [f"late{i}-k2.png" for i in range(4)])
    assert "1 input without outputs: 1 failed earlier and were not retried: --retry-failed" in second.stderr
    assert json.loads(second.stdout)["without_outputs"]["earlier"] == 1
    third = run_kmseg("segment", "in", "-k", 2, "-o", "out", cwd=tmp_path)
    assert "1 failed earlier and were not retried: --retry-failed" in third.stderr  # always said


@pytest.mark.parametrize("statvfs", [True, False], ids=["statvfs-says-full", "statvfs-says-space"])
def test_a_disk_full_before_the_run_is_a_clear_error(tmp_path: Path, statvfs: bool) -> None:
    save_photo(tmp_path / "in" / "a.jpg", 32, 24)
    save_photo(tmp_path / "in" / "b.jpg", 32, 24, shift=1)
    (tmp_path / "out").mkdir()
    env = full_disk_env(tmp_path, tmp_path / "out", statvfs=statvfs)
    r = run_kmseg("segment", "in", "-k", 2, "-o", "out", cwd=tmp_path, **env)
    assert "internal error" not in r.stderr and no_traceback(r.stderr)
    if statvfs:  # the disk says so: a usage error before anything runs
        assert r.returncode == 2, r.stderr
        assert "no space left" in r.stderr.lower() and "out" in r.stderr
    else:  # a disk that claims space but refuses writes (a quota): every image says why
        assert r.returncode == 1, r.stderr
        assert r.stderr.count("No space left on device") >= 2
        assert "2 inputs without outputs" in r.stderr
    assert list((tmp_path / "out").glob("*.png")) == []
    # the same with one input
    r = run_kmseg("segment", "in/a.jpg", "-k", 2, "-o", "out/a.png", cwd=tmp_path, **env)
    assert r.returncode == (2 if statvfs else 1), r.stderr
    assert "internal error" not in r.stderr and "o space left" in r.stderr and no_traceback(r.stderr)


def test_summary_says_when_every_input_has_its_outputs(tmp_path: Path) -> None:
    save_photo(tmp_path / "in" / "a.jpg", 32, 24)
    save_photo(tmp_path / "in" / "b.jpg", 32, 24, shift=1)
    r = run_kmseg("segment", "in", "-k", 2, "-o", "out", cwd=tmp_path)
    assert r.returncode == 0 and "every input has its outputs" in r.stderr

