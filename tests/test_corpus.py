"""The bad-input corpus (tests/corpus/make_corpus.py) through the library,
the ``kmseg`` command and the web app's upload handler.

Every case must give the documented error of each face (library exception
class, CLI exit status and one-line message, a message in the web page) or
the right picture; the decompression bombs must be refused in bounded memory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest
from cli_helpers import SRC, kmseg_env, no_traceback, run_kmseg
from corpus.make_corpus import CASES, DEFAULT_K, LIMIT, Case, by_name, to_rgba, write_corpus

from streamlit.testing.v1 import AppTest

import kmseg
from kmseg.app import SCRIPT, _cache
from kmseg.app._compute import downloads
from kmseg.app._state import ENV_MAX_PIXELS, ENV_MAX_UPLOAD_MB, digest, failure_message, shown_name

KINDS = {
    "decode": kmseg.ImageDecodeError,
    "unsupported": kmseg.UnsupportedFormatError,
    "too_large": kmseg.ImageTooLargeError,
    "param": kmseg.InvalidParameterError,
}
FILE_CASES = [c for c in CASES if c.expect != "param"]
PARAM_CASES = [c for c in CASES if c.expect == "param"]
MEMORY_CASES = [c for c in CASES if c.memory]
CLI_FLAGS = {"k": "-k", "max_iter": "--max-iter"}
#: Peak-RSS growth allowed while refusing a bomb; decoding the smallest one
#: (20000 x 20000 greyscale) would take 400 MB, the JPEG one 12 GB.
MEMORY_BOUND_MB = 64


def ids(case: Case) -> str:
    return case.name


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The corpus written by the script, {case name: file}."""
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def check_result(case: Case, picture: bytes, k_found: int | None, notes: list[str] | tuple[str, ...]) -> None:
    """The face-neutral checks of an "ok" case."""
    case.check(to_rgba(picture))
    if case.expect_k is not None:
        assert k_found == case.expect_k, f"found {k_found} clusters, expected {case.expect_k}"
    if case.note is not None:
        assert any(case.note in n for n in notes), f"no note containing {case.note!r} in {notes}"


def check_error(case: Case, exc: BaseException) -> None:
    """The exception is the documented class for the case (exactly, for "decode")."""
    assert isinstance(exc, KINDS[case.expect]), f"{type(exc).__name__}: {exc}"
    if case.expect == "decode":
        assert not isinstance(exc, kmseg.UnsupportedFormatError), f"{type(exc).__name__}: {exc}"
    if case.param is not None:
        assert exc.param == case.param
    message = str(exc)
    assert message and "\n" not in message


# ----------------------------------------------------------------- (a) library


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_library(case: Case) -> None:
    data = case.make()
    if case.expect != "ok":
        with pytest.raises(kmseg.KmsegError) as info:
            kmseg.segment(data, seed=0, max_pixels=case.max_pixels, **case.params)
        check_error(case, info.value)
        return
    seg = kmseg.segment(data, seed=0, max_pixels=case.max_pixels, **case.params)
    assert seg.k_requested == case.params["k"] and seg.k <= seg.k_requested
    if seg.k < seg.k_requested:
        assert any(f"found {seg.k}" in n for n in seg.notes), seg.notes
    check_result(case, seg.to_bytes("png"), seg.k, seg.notes)


@pytest.mark.parametrize("case", [c for c in FILE_CASES if c.expect == "ok" and c.name != "png_big_ztxt"],
                         ids=ids)
def test_library_from_pil_image(case: Case) -> None:
    """An image the caller opened with Pillow gives the same picture (CMYK,
    orientation and transparency are handled for PIL images too). Pillow
    itself refuses the big text chunk at open, so that case is left out."""
    import io
    import warnings

    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pillow's own "Corrupt EXIF data" at open
        im = Image.open(io.BytesIO(case.make()))
    with im:
        seg = kmseg.segment(im, seed=0, max_pixels=case.max_pixels, **case.params)
    case.check(to_rgba(seg.to_bytes("png")))


@pytest.mark.parametrize("case", [c for c in FILE_CASES if c.expect != "ok"], ids=ids)
def test_library_from_path(case: Case, corpus: dict[str, Path]) -> None:
    """A path gives the same error class, and the message names the file."""
    path = corpus[case.name]
    with pytest.raises(kmseg.KmsegError) as info:
        kmseg.load_image(path, max_pixels=case.max_pixels)
    check_error(case, info.value)
    assert str(path) in str(info.value) or case.expect == "too_large"


MEMORY_PROBE = textwrap.dedent("""
    import json, sys
    sys.path[:0] = [{tests!r}, {src!r}]
    import kmseg
    from corpus.make_corpus import by_name
    from kmseg.app import _cache
    from kmseg.app._state import digest

    def peak_mb():  # VmHWM: ru_maxrss would keep the (large) pytest parent's peak across fork and exec
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024

    data = {{n: by_name(n).make() for n in sys.argv[1:]}}
    warm = by_name("limit_exact").make()
    kmseg.segment(warm, 4, seed=0)
    _cache.load(digest(warm), 10**6, warm)
    out = {{}}
    for name, blob in data.items():
        for face in ("library", "web"):
            before = peak_mb()
            try:
                if face == "library":
                    kmseg.segment(blob, 4, seed=0)
                else:
                    _cache.load(digest(blob), kmseg.DEFAULT_LIMITS.max_pixels, blob)
                error = None
            except kmseg.KmsegError as exc:
                error = type(exc).__name__
            out[f"{{face}}:{{name}}"] = [peak_mb() - before, error]
    print(json.dumps(out))
""")


def test_bombs_are_refused_in_bounded_memory_library_and_web() -> None:
    """Peak RSS of a fresh process barely moves while the bombs are refused."""
    code = MEMORY_PROBE.format(tests=str(Path(__file__).parent), src=str(SRC))
    proc = subprocess.run([sys.executable, "-c", code, *(c.name for c in MEMORY_CASES)],
                          capture_output=True, text=True, timeout=120, env=kmseg_env())
    assert proc.returncode == 0, proc.stderr
    growth = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(growth) == 2 * len(MEMORY_CASES)
    for key, (mb, error) in growth.items():
        assert error == "ImageTooLargeError", key
        assert mb < MEMORY_BOUND_MB, f"{key}: peak RSS grew by {mb:.0f} MB"


# ------------------------------------------------------------------- (b) CLI


def _group(case: Case) -> tuple[int, int | None]:
    return case.params["k"], case.max_pixels


@pytest.fixture(scope="module")
def cli_runs(corpus: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every file case through ``kmseg segment`` in a few batch runs (one per K
    and pixel limit); {case name: {rc, stderr, out, record}}."""
    groups: dict[tuple[int, int | None], list[Case]] = defaultdict(list)
    for case in FILE_CASES:
        groups[_group(case)].append(case)
    results = {}
    for (k, max_pixels), cases in groups.items():
        work = tmp_path_factory.mktemp(f"cli-k{k}")
        inputs = work / "in"
        inputs.mkdir()
        for case in cases:
            shutil.copyfile(corpus[case.name], inputs / case.disk_name)
        out = work / "out"
        limit = ["--max-pixels", max_pixels] if max_pixels else []
        names = [case.disk_name for case in cases]
        # --first-frame: the corpus pins how the first frame of a 1000-frame GIF is read (whole
        # animations: tests/test_cli_animation.py)
        proc = run_kmseg("segment", *names, "-k", k, *limit, "-o", f"{out}/", "--json", "--jobs", 1, "--first-frame",
                         "--seed", 0, cwd=inputs)
        assert proc.stdout.startswith("{"), proc.stderr
        doc = json.loads(proc.stdout)
        records = {r["input"]: r for r in doc["images"]}
        for case in cases:
            results[case.name] = {"rc": proc.returncode, "stderr": proc.stderr, "out": out,
                                  "record": records[case.disk_name], "all": cases, "work": work}
    return results


def _shown(name: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


@pytest.mark.parametrize("case", FILE_CASES, ids=ids)
def test_cli_batch(case: Case, cli_runs: dict[str, dict]) -> None:
    run = cli_runs[case.name]
    failing = any(c.expect != "ok" for c in run["all"])
    assert run["rc"] == (1 if failing else 0), run["stderr"]
    assert no_traceback(run["stderr"]) and "internal error" not in run["stderr"], run["stderr"]
    record = run["record"]
    stem = os.path.splitext(case.disk_name)[0]
    outputs = sorted(p.name for p in run["out"].iterdir() if p.name.startswith(stem + "-k"))
    lines = [ln for ln in run["stderr"].splitlines() if ln.startswith(f"kmseg: failed: {_shown(case.disk_name)}: ")]
    if case.expect == "ok":
        assert record["status"] == "done", record
        assert not lines
        assert outputs == [f"{stem}-k{case.params['k']}.png"]
        check_result(case, (run["out"] / outputs[0]).read_bytes(), record["k"], record["notes"])
    else:
        assert record["status"] == "failed", record
        assert len(lines) == 1, run["stderr"]
        assert len(lines[0]) > len(f"kmseg: failed: {case.disk_name}: ") + 10
        assert outputs == [], outputs
    # nothing is written outside the output folder, whatever the input is called
    stray = [p for p in run["work"].rglob("*") if p.is_file() and p.parent.name not in ("in", "out")]
    assert stray == []
    assert not [p for p in run["out"].iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("case", PARAM_CASES, ids=ids)
def test_cli_bad_parameters_are_usage_errors(case: Case, corpus: dict[str, Path], tmp_path: Path) -> None:
    args = []
    for name, value in case.params.items():
        args += [CLI_FLAGS[name], value]
    proc = run_kmseg("segment", corpus[case.name], *args, "-o", tmp_path / "out.png", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert no_traceback(proc.stderr)
    error = [ln for ln in proc.stderr.splitlines() if "error:" in ln]
    assert len(error) == 1 and CLI_FLAGS[case.param] in error[0], proc.stderr
    assert not (tmp_path / "out.png").exists()


# ``python -m kmseg`` that writes its peak resident memory (VmHWM, kB) to $KMSEG_HWM_FILE at exit.
# Not ru_maxrss: on Linux a child's ru_maxrss keeps the peak of the (large) pytest
# process it was forked from, across exec.
_HWM_WRAPPER = """
import atexit, os, runpy, sys
def _hwm():
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    with open(os.environ["KMSEG_HWM_FILE"], "w") as out:
        out.write(str(kb))
atexit.register(_hwm)
sys.argv = ["kmseg", *sys.argv[1:]]
runpy.run_module("kmseg", run_name="__main__", alter_sys=True)
"""


def _run_measured(args: list[object], cwd: Path) -> tuple[int, str, float]:
    """Run ``kmseg ARGS``; exit status, stderr and the child's peak RSS in MB."""
    with tempfile.TemporaryDirectory() as scratch:
        hwm = Path(scratch) / "hwm"
        proc = subprocess.run([sys.executable, "-c", _HWM_WRAPPER, *map(str, args)], cwd=cwd,
                              env=kmseg_env(KMSEG_HWM_FILE=str(hwm)), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, timeout=300)
        return proc.returncode, proc.stderr, int(hwm.read_text()) / 1024


@pytest.mark.parametrize("name", ["empty", "svg_script", "jpeg_half", *(c.name for c in MEMORY_CASES)])
def test_cli_single_file_failure(name: str, corpus: dict[str, Path], tmp_path: Path) -> None:
    """One input: exit 1, one line naming the file and the reason, no output;
    the bombs in bounded memory (peak RSS against a run on a valid image)."""
    case = by_name(name)
    src = tmp_path / case.disk_name
    shutil.copyfile(corpus[name], src)
    rc, stderr, peak = _run_measured(["segment", src.name, "-k", DEFAULT_K, "-o", "out.png"], tmp_path)
    assert rc == 1, stderr
    assert no_traceback(stderr)
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith(f"kmseg: failed: {src.name}: "), stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name]
    if case.memory:
        ok = by_name("limit_exact")
        shutil.copyfile(corpus[ok.name], tmp_path / "ok.png")
        rc_ok, err_ok, baseline = _run_measured(["segment", "ok.png", "-k", DEFAULT_K, "-o", "ok-out.png"],
                                                tmp_path)
        assert rc_ok == 0, err_ok
        assert peak < baseline + MEMORY_BOUND_MB, f"peak {peak:.0f} MB, a valid image takes {baseline:.0f} MB"


def test_cli_file_name_with_newline_stays_one_line(tmp_path: Path) -> None:
    src = tmp_path / "bad\nname.jpg"
    src.write_bytes(b"")
    proc = run_kmseg("segment", src.name, "-k", 4, "-o", "out.png", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["kmseg: failed: bad\\nname.jpg: empty file (0 bytes), not an image"]


def test_cli_info_reads_every_corpus_file_without_decoding(corpus: dict[str, Path], tmp_path: Path) -> None:
    """``kmseg info`` on files kmseg did not write: one failure line each, the
    bomb included (it used to stop the command with an internal error)."""
    files = sorted({p.name: p for p in corpus.values()}.values())
    for p in files:
        shutil.copyfile(p, tmp_path / p.name)
    rc, stderr, peak = _run_measured(["info", *(p.name for p in files)], tmp_path)
    assert rc == 1 and no_traceback(stderr) and "internal error" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == len(files), stderr
    for p in files:
        assert sum(ln.startswith(f"kmseg: failed: {_shown(p.name)}: ") for ln in lines) == 1, (p.name, stderr)
    assert peak < 200, f"peak RSS {peak:.0f} MB"  # decoding the bomb would take 400 MB
    with pytest.raises(kmseg.ImageTooLargeError):
        kmseg.read_metadata(corpus["png_bomb"])


def test_cli_limit_is_the_cli_option(corpus: dict[str, Path], tmp_path: Path) -> None:
    """The same image passes at exactly --max-pixels and fails one below."""
    src = corpus["limit_exact"]
    ok = run_kmseg("segment", src, "-k", 4, "--max-pixels", LIMIT, "-o", "a.png", cwd=tmp_path)
    bad = run_kmseg("segment", src, "-k", 4, "--max-pixels", LIMIT - 1, "-o", "b.png", cwd=tmp_path)
    assert (ok.returncode, bad.returncode) == (0, 1), (ok.stderr, bad.stderr)
    assert (tmp_path / "a.png").is_file() and not (tmp_path / "b.png").exists()
    assert f"limit of {LIMIT - 1:,}" in bad.stderr


# ------------------------------------------------------------------- (c) web app

def web_handler(case: Case) -> tuple[kmseg.Segmentation | None, str | None, BaseException | None]:
    """What the page does with an upload: the cached load and segment calls of
    streamlit_app.py, and its message on failure. (result, message, error)"""
    data = case.make()
    max_pixels = case.max_pixels or kmseg.DEFAULT_LIMITS.max_pixels
    params = {"max_iter": 25, **case.params}
    key = digest(data)
    try:
        loaded = _cache.load(key, max_pixels, data)
        seg, _ = _cache.segment(key, params["k"], params["max_iter"], "rgb", 0, max_pixels, loaded)
    except Exception as exc:  # noqa: BLE001 - the page catches everything too
        return None, failure_message(case.filename, exc), exc
    return seg, None, None


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_web_handler(case: Case) -> None:
    seg, message, exc = web_handler(case)
    if case.expect != "ok":
        assert exc is not None, "no error"
        check_error(case, exc)
        if case.expect == "param":  # a setting at fault is named as the page labels it, not the image
            label = {"k": "Clusters (K)", "max_iter": "Max iterations"}[case.param]
            assert message == f"**{label}**: {exc}"
        else:
            assert message == f"**{shown_name(case.filename)}**: {exc}"
        return
    assert exc is None, message
    items = {d.key: d for d in downloads(seg, case.filename)}
    name = items["png"].file_name
    assert "/" not in name and "\\" not in name and name.isprintable() and not name.startswith(".")
    check_result(case, items["png"].make(), seg.k, seg.notes)


@pytest.fixture(scope="module")
def page() -> AppTest:
    """One running page for all uploads (each upload replaces the previous)."""
    saved = {k: os.environ.pop(k, None) for k in (ENV_MAX_PIXELS, ENV_MAX_UPLOAD_MB)}
    at = AppTest.from_file(str(SCRIPT), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    yield at
    for k, v in saved.items():
        if v is not None:
            os.environ[k] = v


@pytest.mark.parametrize("case", FILE_CASES, ids=ids)
def test_web_page(case: Case, page: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real page (Streamlit's AppTest): a message naming the file, or the result."""
    if case.max_pixels:
        monkeypatch.setenv(ENV_MAX_PIXELS, str(case.max_pixels))
    else:
        monkeypatch.delenv(ENV_MAX_PIXELS, raising=False)
    page.sidebar.number_input(key="k").set_value(case.params["k"])
    page.file_uploader(key="upload").upload(case.filename, case.make(), "application/octet-stream")
    page.run()
    assert not page.exception, page.exception
    if case.expect != "ok":
        with pytest.raises(KINDS[case.expect]) as info:
            kmseg.load_image(case.make(), max_pixels=case.max_pixels)
        assert [e.value for e in page.error] == [f"**{shown_name(case.filename)}**: {info.value}"]
        assert not page.image and not page.download_button
        return
    assert not page.error, [e.value for e in page.error]
    caption = page.image[1].captions[0]
    assert caption.startswith(f"Segmented {case.filename} · K = ")
    if case.expect_k is not None:
        assert f"K = {case.expect_k} ·" in caption
        assert [m.value for m in page.metric if m.label == "Clusters"] == [str(case.expect_k)]
    if case.note is not None:
        assert any(case.note in c.value for c in page.caption), [c.value for c in page.caption]


def test_web_message_escapes_a_hostile_name() -> None:
    """A name with a newline or markdown stays one paragraph of plain text."""
    msg = failure_message("\n../../[x](http://example.com)*.png", kmseg.ImageDecodeError("bad"))
    assert "\n" not in msg
    assert "[x](" not in msg and re.search(r"(?<!\\)\*\.png", msg) is None  # no link, no bold
    assert msg.endswith(": bad")


def test_web_widgets_keep_parameters_in_range(page: AppTest) -> None:
    """K and the iterations are typed into bounded number boxes: 0, -1, 300,
    10**9 cannot be entered, and 1.5 or "abc" are not numbers it takes."""
    k_box, iter_box = page.sidebar.number_input(key="k"), page.sidebar.number_input(key="max_iter")
    assert (k_box.min, k_box.max) == (1, kmseg.DEFAULT_LIMITS.max_k) == (1, 256)
    assert (iter_box.min, iter_box.max) == (1, kmseg.DEFAULT_LIMITS.max_iter)
    assert k_box.step == 1 and iter_box.step == 1
