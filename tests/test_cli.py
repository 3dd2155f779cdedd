"""The ``kmseg`` command, run for real in a subprocess on real image files."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import colours, kmseg_command, kmseg_env, like_a_terminal, no_traceback, run_kmseg, save_photo
from PIL import Image

import kmseg


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """good images (jpg, png, webp, one in a sub-folder), a truncated JPEG,
    a text file named .png, and a text file named .txt."""
    root = tmp_path_factory.mktemp("inputs") / "photos"
    save_photo(root / "a.jpg", 96, 64, shift=0)
    save_photo(root / "b.png", 80, 60, name="flower.jpg", shift=1)
    save_photo(root / "c.webp", 72, 48, shift=2)
    save_photo(root / "sub" / "d.jpg", 64, 64, name="flower.jpg", shift=3)
    good = (root / "a.jpg").read_bytes()
    (root / "broken.jpg").write_bytes(good[: len(good) // 2])
    (root / "readme.png").write_text("this is not an image\n")
    (root / "notes.txt").write_text("neither is this\n")
    return root


def image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


# ---------------------------------------------------------------- one image


def test_one_image_default_name_is_indexed_png_with_at_most_k_colours(tmp_path: Path) -> None:
    src = save_photo(tmp_path / "photo.jpg", 96, 64)
    r = run_kmseg("segment", "photo.jpg", "-k", 5, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "photo-k5.png"
    with Image.open(out) as im:
        assert im.format == "PNG" and im.mode == "P"
        assert im.size == image_size(src)
    assert 1 <= len(colours(out)) <= 5
    assert r.stdout == ""
    assert "photo-k5.png" in r.stderr and "seed" in r.stderr


def test_one_image_every_output_checked_for_content(tmp_path: Path) -> None:
    src = save_photo(tmp_path / "in.jpg", 90, 60)
    k = 6
    r = run_kmseg("segment", src, "-k", k, "-o", "seg.png", "--labels", "lab.png", "--palette", "pal.json",
                  "--masks", "masks", "--seed", 7, "--json", "-i", 50, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["status"] == "ok" and doc["done"] == 1 and doc["failed"] == 0
    (item,) = doc["images"]
    for key in ("k_requested", "k", "inertia", "psnr", "delta_e_mean", "delta_e_p95", "n_iter",
                "converged", "seconds"):
        assert key in item, key
    assert item["k_requested"] == k and 1 <= item["k"] <= k and item["seed"] == 7
    assert item["n_iter"] <= 50

    seg_colours = colours(tmp_path / "seg.png")
    assert len(seg_colours) <= k

    with Image.open(tmp_path / "lab.png") as im:
        assert im.size == image_size(src)
        labels = np.asarray(im)
    assert labels.max() < item["k"]

    pal = json.loads((tmp_path / "pal.json").read_text())["colors"]
    assert len(pal) == item["k"]
    assert sum(c["share"] for c in pal) == pytest.approx(1.0)
    assert {c["hex"] for c in pal} == {"#%02x%02x%02x" % c for c in seg_colours}
    assert [c["count"] for c in pal] == np.bincount(labels.ravel(), minlength=item["k"]).tolist()

    masks = sorted((tmp_path / "masks").iterdir())
    assert [m.name for m in masks] == [f"in-k6-mask-{i}.png" for i in range(item["k"])]
    stack = np.stack([np.asarray(Image.open(m).convert("L")) > 0 for m in masks])
    assert stack.shape[1:] == labels.shape
    assert (stack.sum(axis=0) == 1).all()  # every pixel in exactly one mask
    for i, m in enumerate(stack):
        assert (m == (labels == i)).all()
    assert item["outputs"]["image"].endswith("seg.png") and len(item["outputs"]["masks"]) == item["k"]


@pytest.mark.parametrize("ext, check", [
    (".gpl", lambda b: b.startswith(b"GIMP Palette")),
    (".css", lambda b: b"--" in b and b"#" in b),
    (".txt", lambda b: all(re.fullmatch(rb"#[0-9a-f]{6}", ln) for ln in b.splitlines())),
    (".ase", lambda b: b.startswith(b"ASEF")),
])
def test_palette_formats_by_extension(tmp_path: Path, ext: str, check) -> None:
    src = save_photo(tmp_path / "in.png", 48, 32)
    r = run_kmseg("segment", src, "-k", 3, "--seed", 1, "-o", "out.png", "--palette", f"p{ext}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    data = (tmp_path / f"p{ext}").read_bytes()
    assert check(data), data[:200]
    if ext != ".ase":
        for c in colours(tmp_path / "out.png"):
            assert ("%02x%02x%02x" % c).encode() in data.lower()


def test_lossy_formats_from_name_or_option(tmp_path: Path) -> None:
    src = save_photo(tmp_path / "in.png", 64, 48)
    r = run_kmseg("segment", src, "-k", 4, "-o", "a.jpg", "--quality", 80, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_kmseg("segment", src, "-k", 4, "-o", "b.img", "--format", "webp", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "a.jpg") as a, Image.open(tmp_path / "b.img") as b:
        assert (a.format, b.format) == ("JPEG", "WEBP")
        assert a.size == b.size == (64, 48)


# ------------------------------------------------------------- many images


def test_folder_with_corrupt_and_non_image_reports_each_and_does_the_rest(folder: Path, tmp_path: Path) -> None:
    r = run_kmseg("segment", folder, "-k", 4, "-o", tmp_path / "out", "--jobs", 2, "--json", cwd=tmp_path)
    assert r.returncode == 1
    assert no_traceback(r.stderr)
    failed = [ln for ln in r.stderr.splitlines() if "failed:" in ln]
    assert len(failed) == 2, r.stderr
    assert any("broken.jpg" in ln for ln in failed) and any("readme.png" in ln for ln in failed)
    assert all(len(ln.split(": ", 2)[-1]) > 5 for ln in failed)  # a reason follows the path
    assert "notes.txt" not in r.stderr  # not an image name: not taken from a folder
    doc = json.loads(r.stdout)
    assert (doc["done"], doc["failed"]) == (3, 2)
    for stem in ("a", "b", "c"):
        out = tmp_path / "out" / f"{stem}-k4.png"
        assert len(colours(out)) <= 4
    assert image_size(tmp_path / "out" / "a-k4.png") == image_size(folder / "a.jpg")
    assert not (tmp_path / "out" / "sub").exists()  # not recursive


def test_recursive_mirrors_subfolders_and_writes_extras_per_image(folder: Path, tmp_path: Path) -> None:
    r = run_kmseg("segment", folder / "sub", folder / "a.jpg", "-r", "-k", 3, "-o", "out", "--labels", "lab",
                  "--palette", "pal", "--palette-format", "gpl", "--jobs", 2, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "d-k3.png").is_file()  # d.jpg is directly in the folder argument
    assert (tmp_path / "out" / "a-k3.png").is_file()
    assert (tmp_path / "pal" / "a-k3-palette.gpl").read_text().startswith("GIMP Palette")
    with Image.open(tmp_path / "lab" / "d-k3-labels.png") as im:
        assert im.size == (64, 64) and np.asarray(im).max() < 3

    r = run_kmseg("segment", folder, "-r", "-k", 2, "-o", "tree", "--jobs", 2, cwd=tmp_path)
    assert r.returncode == 1  # broken.jpg and readme.png
    assert (tmp_path / "tree" / "sub" / "d-k2.png").is_file()


def test_glob_pattern_and_name_pattern(folder: Path, tmp_path: Path) -> None:
    pattern = str(folder / "*.jpg")
    r = run_kmseg("segment", pattern, "-k", 3, "-o", "out", "--name", "{stem}_{k}.{ext}", "--format", "webp",
                  "--json", cwd=tmp_path)
    assert r.returncode == 1  # broken.jpg matches too
    doc = json.loads(r.stdout)
    assert {Path(i["input"]).name: i["status"] for i in doc["images"]} == {"a.jpg": "done", "broken.jpg": "failed"}
    with Image.open(tmp_path / "out" / "a_3.webp") as im:
        assert im.format == "WEBP"

    r = run_kmseg("segment", str(folder / "*.nothing"), "-k", 3, "-o", "out", cwd=tmp_path)
    assert r.returncode == 1 and "matches no files" in r.stderr


def test_skip_existing_then_overwrite(folder: Path, tmp_path: Path) -> None:
    args = ("segment", folder / "a.jpg", folder / "b.png", "-k", 3, "-o", "out", "--palette", "pal", "--json")
    first = run_kmseg(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    out = tmp_path / "out" / "a-k3.png"
    stamp = out.stat().st_mtime_ns
    second = run_kmseg(*args, cwd=tmp_path)
    assert second.returncode == 0
    assert [i["status"] for i in json.loads(second.stdout)["images"]] == ["skipped", "skipped"]
    assert out.stat().st_mtime_ns == stamp
    (tmp_path / "pal" / "b-k3-palette.json").unlink()  # a missing output: only that image is redone
    third = run_kmseg(*args, cwd=tmp_path)
    assert [i["status"] for i in json.loads(third.stdout)["images"]] == ["skipped", "done"]
    fourth = run_kmseg(*args, "--overwrite", cwd=tmp_path)
    assert [i["status"] for i in json.loads(fourth.stdout)["images"]] == ["done", "done"]
    assert out.stat().st_mtime_ns != stamp


def test_outputs_from_an_earlier_run_are_not_taken_as_inputs(tmp_path: Path) -> None:
    save_photo(tmp_path / "p" / "x.png", 40, 30)
    for _ in range(2):
        r = run_kmseg("segment", "p", "-k", 2, "-o", "p", "--json", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    assert sorted(f.name for f in (tmp_path / "p").iterdir()) == ["kmseg-manifest.jsonl", "x-k2.png", "x.png"]
    assert [i["status"] for i in json.loads(r.stdout)["images"]] == ["skipped"]


def test_never_overwrites_an_input(tmp_path: Path) -> None:
    src = save_photo(tmp_path / "x.png", 40, 30)
    before = src.read_bytes()
    r = run_kmseg("segment", "x.png", "-k", 2, "-o", "x.png", cwd=tmp_path)
    assert r.returncode == 1 and "overwrite an input" in r.stderr and no_traceback(r.stderr)
    r = run_kmseg("segment", ".", "-k", 2, "-o", ".", "--name", "{name}", cwd=tmp_path)
    assert r.returncode == 1 and "overwrite an input" in r.stderr
    assert src.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["kmseg-manifest.jsonl", "x.png"]  # the failure is recorded
    (row,) = map(json.loads, (tmp_path / "kmseg-manifest.jsonl").read_text().splitlines())
    assert row["status"] == "failed" and "overwrite an input" in row["reason"]


# --------------------------------------------------------------- usage errors


USAGE_ERRORS = [
    ("segment", "x.png", "-k", "0"),
    ("segment", "x.png", "-k", "257"),
    ("segment", "x.png", "-k", "many"),
    ("segment", "x.png"),
    ("segment", "x.png", "-k", "3", "--tol", "-1"),
    ("segment", "x.png", "-k", "3", "--colour-space", "lab"),
    ("segment", "x.png", "-k", "3", "--color-space", "hsv"),
    ("segment", "x.png", "-k", "3", "-o", "x.bmp"),
    ("segment", "x.png", "-k", "3", "--palette", "p.pdf"),
    ("segment", "x.png", "-k", "3", "--quality", "80"),
    ("segment", "x.png", "-k", "3", "-o", "file.txt/out.png"),
    ("segment", "x.png", "-k", "3", "--name", "{nope}.png", "-o", "dir/"),
    ("segment", ".", "-k", "3", "-o", "out.png"),
    ("segment", ".", "-k", "3", "-o", "out", "--palette", "p.gpl"),
    ("info",),
    ("serve", "--port", "70000"),
    ("frobnicate",),
    (),
]


@pytest.fixture()
def usage_dir(tmp_path: Path) -> Path:
    save_photo(tmp_path / "x.png", 20, 20)
    (tmp_path / "file.txt").write_text("a file, not a folder")
    return tmp_path


@pytest.mark.parametrize("args", USAGE_ERRORS)
def test_usage_errors_return_2_and_write_nothing(usage_dir: Path, args: tuple[str, ...],
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from kmseg.cli import main

    monkeypatch.chdir(usage_dir)
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    assert "error:" in err or "usage:" in err
    assert sorted(os.listdir(usage_dir)) == ["file.txt", "x.png"]


@pytest.mark.parametrize("args", [USAGE_ERRORS[0], USAGE_ERRORS[5], USAGE_ERRORS[10], USAGE_ERRORS[-1]])
def test_usage_errors_exit_2_without_traceback_as_a_process(usage_dir: Path, args: tuple[str, ...]) -> None:
    r = run_kmseg(*args, cwd=usage_dir)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert no_traceback(r.stderr) and "usage:" in r.stderr
    assert sorted(os.listdir(usage_dir)) == ["file.txt", "x.png"]


def test_missing_input_is_an_input_failure_not_a_usage_error(tmp_path: Path) -> None:
    save_photo(tmp_path / "x.png", 20, 20)
    r = run_kmseg("segment", "x.png", "gone.jpg", "-k", 2, "-o", "out", cwd=tmp_path)
    assert r.returncode == 1
    assert re.search(r"gone\.jpg: no such file", r.stderr) and no_traceback(r.stderr)
    assert (tmp_path / "out" / "x-k2.png").is_file()


def test_version_help_and_examples(tmp_path: Path) -> None:
    r = run_kmseg("--version", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == f"kmseg {kmseg.__version__}"
    r = run_kmseg("segment", "--help", cwd=tmp_path)
    assert r.returncode == 0
    for text in ("examples:", "--max-iter", "--color-space", "--jobs", "--overwrite", "{stem}"):
        assert text in r.stdout


def test_console_script_is_installed(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("kmseg")
    if not script.exists():
        pytest.skip(f"{script} missing: kmseg is not pip-installed in this environment")
    r = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60, env=kmseg_env())
    assert r.returncode == 0 and kmseg.__version__ in r.stdout


# ------------------------------------------------------- reproducibility, info


def test_info_prints_a_command_that_makes_the_same_bytes(tmp_path: Path) -> None:
    save_photo(tmp_path / "in.jpg", 80, 60)
    r = run_kmseg("segment", "in.jpg", "-k", 5, "--color-space", "lab", "-o", "first.png", "--labels", "l.png",
                  cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    info = run_kmseg("info", "first.png", "l.png", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert kmseg.__version__ in info.stdout and '"seed"' in info.stdout
    commands = [ln.split("again: ", 1)[1] for ln in info.stdout.splitlines() if "again: " in ln]
    assert len(commands) == 2 and "--labels l.png" in commands[1]
    argv = shlex.split(commands[0])
    assert argv[:3] == ["kmseg", "segment", "INPUT"] and "--seed" in argv
    argv[2] = "in.jpg"
    argv[argv.index("-o") + 1] = "again.png"
    again = run_kmseg(*argv[1:], cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "first.png").read_bytes()

    doc = json.loads(run_kmseg("info", "again.png", "--json", cwd=tmp_path).stdout)
    assert json.loads(doc[0]["metadata"]["kmseg-params"])["color_space"] == "lab"

    bad = run_kmseg("info", "in.jpg", "nothere.png", cwd=tmp_path)
    assert bad.returncode == 1 and "in.jpg" in bad.stderr and "nothere.png" in bad.stderr
    assert no_traceback(bad.stderr)


# ------------------------------------------------------- progress, Ctrl-C


def test_progress_bar_only_on_a_terminal(folder: Path, tmp_path: Path) -> None:
    args = ("segment", folder / "a.jpg", folder / "b.png", folder / "c.webp", "-k", 2, "--jobs", 2)
    piped = run_kmseg(*args, "-o", "o1", cwd=tmp_path)
    assert piped.returncode == 0 and "\r" not in piped.stderr and "3 done" in piped.stderr
    quiet = run_kmseg(*args, "-o", "o2", "--quiet", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == ""

    import pty

    leader, follower = pty.openpty()
    p = subprocess.Popen(kmseg_command(*args, "-o", "o3"), cwd=tmp_path, env=kmseg_env(),
                         stdout=subprocess.DEVNULL, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    p.wait(timeout=120)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    tty = b"".join(chunks).decode()
    assert p.returncode == 0
    assert "3/3" in tty and "[" in tty and "3 done" in tty


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_ctrl_c_mid_batch_leaves_no_partial_file_and_resumes(tmp_path: Path, sig: signal.Signals) -> None:
    n = 12
    for i in range(n):
        save_photo(tmp_path / "in" / f"p{i:02d}.jpg", 240, 180, name=("china.jpg", "flower.jpg")[i % 2], shift=i)
    out = tmp_path / "out"
    cmd = kmseg_command("segment", "in", "-k", 6, "-o", out, "--masks", out / "masks", "--jobs", 2)
    p = subprocess.Popen(cmd, cwd=tmp_path, env=kmseg_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True, preexec_fn=like_a_terminal)
    deadline = time.monotonic() + 60
    while not (out.is_dir() and any(f.suffix == ".png" for f in out.iterdir())):
        assert p.poll() is None and time.monotonic() < deadline, "no output appeared"
        time.sleep(0.01)
    os.killpg(p.pid, sig)  # like Ctrl-C in a terminal: the whole process group
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert no_traceback(err) and "interrupted" in err
    leftovers = [f for f in out.rglob("*") if f.is_file() and not f.name.endswith(".png")]
    assert leftovers == [out / "kmseg-manifest.jsonl"]  # no temporary files
    done = sorted(out.glob("*.png"))
    assert 1 <= len(done) < n
    for f in done:  # every image there is complete, with all its masks
        with Image.open(f) as im:
            im.load()
        assert (out / "masks" / f"{f.stem}-mask-0.png").is_file()
    if sig != signal.SIGINT:
        return
    r = run_kmseg("segment", "in", "-k", 6, "-o", out, "--masks", out / "masks", "--jobs", 2, "--json",
                  cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["skipped"] == len(done) and doc["done"] == n - len(done)
    assert len(list(out.glob("*.png"))) == n
    rows = [json.loads(line) for line in (out / "kmseg-manifest.jsonl").read_text().splitlines()]
    assert len(rows) == n and {r["status"] for r in rows} == {"done", "skipped"}


def test_serve_without_the_api_extra_says_how_to_install_it(tmp_path: Path) -> None:
    blocker = tmp_path / "block"
    blocker.mkdir()
    for name in ("fastapi", "uvicorn", "starlette"):
        (blocker / f"{name}.py").write_text(f'raise ImportError("No module named {name!r}")\n')
    env = {"PYTHONPATH": os.pathsep.join([str(blocker), str(Path(kmseg.__file__).parents[1])])}
    r = run_kmseg("serve", "--port", 1, cwd=tmp_path, timeout=60, **env)
    assert r.returncode == 2, r.stderr
    assert "pip install 'kmseg[api]'" in r.stderr and no_traceback(r.stderr)


# ------------------------------------------------------- manifest, Dask


def test_manifest_rerun_and_retry_failed(folder: Path, tmp_path: Path) -> None:
    work = tmp_path / "in"
    work.mkdir()
    for name in ("a.jpg", "b.png", "broken.jpg"):
        (work / name).write_bytes((folder / name).read_bytes())
    first = run_kmseg("segment", "in", "-k", 3, "-o", "out", "--json", cwd=tmp_path)
    assert first.returncode == 1
    rows = {Path(r["input"]).name: r for r in map(json.loads, (tmp_path / "out" / "kmseg-manifest.jsonl")
                                                   .read_text().splitlines())}
    assert {n: r["status"] for n, r in rows.items()} == {"a.jpg": "done", "b.png": "done", "broken.jpg": "failed"}
    second = run_kmseg("segment", "in", "-k", 3, "-o", "out", "--json", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert [i["status"] for i in json.loads(second.stdout)["images"]] == ["skipped"] * 3
    (work / "broken.jpg").write_bytes((folder / "c.webp").read_bytes())  # repaired
    third = run_kmseg("segment", "in", "-k", 3, "-o", "out", "--json", "--retry-failed", cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert [i["status"] for i in json.loads(third.stdout)["images"]] == ["skipped", "skipped", "done"]
    assert (tmp_path / "out" / "broken-k3.png").is_file()


def test_dask_without_the_dask_extra_says_how_to_install_it(folder: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "distributed.py").write_text('raise ImportError("No module named \'distributed\'")\n')
    env = {"PYTHONPATH": os.pathsep.join([str(blocker), str(Path(kmseg.__file__).parents[1])])}
    r = run_kmseg("segment", folder / "a.jpg", folder / "b.png", "-k", 2, "-o", "out", "--dask", "local",
                  cwd=tmp_path, timeout=60, **env)
    assert r.returncode == 2, r.stderr
    assert "pip install 'kmseg[dask]'" in r.stderr and no_traceback(r.stderr)
    assert not list((tmp_path / "out").glob("*.png"))


def test_core_and_batch_do_not_import_dask(tmp_path: Path) -> None:
    code = ("import sys, kmseg, kmseg.batch, kmseg.cli, kmseg.batch.manifest; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'fsspec')))")
    r = subprocess.run([sys.executable, "-c", code], env=kmseg_env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_file_urls_on_the_command_line(folder: Path, tmp_path: Path) -> None:
    r = run_kmseg("segment", (folder / "a.jpg").as_uri(), (folder / "b.png").as_uri(), "-k", 2,
                  "-o", (tmp_path / "out").as_uri(), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a-k2.png", "b-k2.png", "kmseg-manifest.jsonl"]
    assert not (tmp_path / "file:").exists()


@pytest.mark.parametrize("broken", [False, True])
def test_output_and_status_arrive_with_a_failed_image(tmp_path: Path, broken: bool) -> None:
    # Everything printed must arrive, with the right exit status.
    good = save_photo(tmp_path / "in" / "a.jpg")
    if broken:
        (tmp_path / "in" / "b.jpg").write_bytes(b"not an image")
    r = run_kmseg("segment", tmp_path / "in", "-k", 3, "--seed", 1, "-o", tmp_path / "out", "--json",
                  cwd=tmp_path)
    assert r.returncode == (1 if broken else 0), r.stderr
    doc = json.loads(r.stdout)
    assert doc["done"] == 1 and doc["failed"] == int(broken)
    assert (tmp_path / "out" / "a-k3.png").is_file() and good.is_file()
    if broken:
        assert "b.jpg" in r.stderr
    single = run_kmseg("segment", good, "-k", 3, "--seed", 1, "-o", tmp_path / "one.png", cwd=tmp_path)
    assert single.returncode == 0 and "K 3 of 3" in single.stderr
    with Image.open(tmp_path / "one.png") as im:
        im.load()


def test_version_and_help_start_without_numpy_or_pillow() -> None:
    # Import time counts: light commands must not pay for the heavy imports.
    code = ("import sys, contextlib, io\n"
            "from kmseg import cli\n"
            "for argv in (['--version'], ['segment', '--help']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        assert cli.main(argv) == 0\n"
            "print(sorted(m for m in ('numpy', 'PIL', 'kmseg.engine._kernels') if m in sys.modules))\n"
            "import kmseg\n"
            "print(kmseg.segment.__module__, 'numpy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=kmseg_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "kmseg._segment True"]
