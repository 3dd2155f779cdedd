"""kmseg.batch, the many-image engine behind ``kmseg segment``, used from Python."""

from __future__ import annotations

import json
import pickle
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_helpers import colours, save_photo
from PIL import Image

import kmseg
from kmseg import batch


class CountingExecutor(Executor):
    """Runs calls at once in this thread and counts them: any Executor will do."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.calls.append(args)
        fut: Future[Any] = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    save_photo(root / "one.jpg", 48, 32)
    save_photo(root / "two.png", 40, 30, name="flower.jpg")
    save_photo(root / "deep" / "three.jpg", 32, 32, shift=3)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    (root / "notes.md").write_text("# not an image")
    (root / ".hidden.jpg").write_bytes((root / "one.jpg").read_bytes())
    return root


def test_segment_many_on_any_executor_reports_every_image(photos: Path, tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    ex = CountingExecutor()
    results = batch.segment_many(
        [photos], tmp_path / "out", 3, seed=5, executor=ex, palette_dir=tmp_path / "pal",
        progress=lambda r, done, total: seen.append((r.status, done, total)))
    by_name = {Path(r.source).name: r for r in results}
    assert set(by_name) == {"broken.png", "one.jpg", "two.png"}  # no .md, no hidden file, not recursive
    assert by_name["broken.png"].status == "failed" and by_name["broken.png"].reason
    assert len(ex.calls) == 3
    assert [d for _, d, _ in seen] == [1, 2, 3] and {t for _, _, t in seen} == {3}
    for name in ("one.jpg", "two.png"):
        r = by_name[name]
        assert r.status == "done" and r.summary["k"] <= 3 and r.summary["seed"] == 5
        assert len(colours(Path(r.outputs["image"]))) <= 3
        pal = json.loads(Path(r.outputs["palette"]).read_text())
        assert sum(c["share"] for c in pal["colors"]) == pytest.approx(1)
        json.dumps(r.to_dict())  # JSON-safe


def test_default_and_thread_executors_give_the_same_bytes(photos: Path, tmp_path: Path) -> None:
    files = [photos / "one.jpg", photos / "two.png"]
    with ThreadPoolExecutor(2) as ex:
        a = batch.segment_many(files, tmp_path / "a", 4, seed=1, executor=ex)
    b = batch.segment_many(files, tmp_path / "b", 4, seed=1, executor=CountingExecutor())
    assert [r.status for r in a + b] == ["done"] * 4
    for ra, rb in zip(a, b):
        assert Path(ra.outputs["image"]).read_bytes() == Path(rb.outputs["image"]).read_bytes()


def test_existing_outputs_are_skipped_unless_overwrite(photos: Path, tmp_path: Path) -> None:
    args = ([photos / "one.jpg"], tmp_path / "out", 2)
    ex = CountingExecutor()
    assert [r.status for r in batch.segment_many(*args, executor=ex)] == ["done"]
    assert [r.status for r in batch.segment_many(*args, executor=ex)] == ["skipped"]
    assert len(ex.calls) == 1
    assert [r.status for r in batch.segment_many(*args, executor=ex, overwrite=True)] == ["done"]


def test_recursive_search_mirrors_the_tree(photos: Path, tmp_path: Path) -> None:
    files, missing = batch.find_images([photos], recursive=True)
    assert missing == []
    assert {(Path(f.path).name, f.subdir) for f in files} == {
        ("broken.png", ""), ("one.jpg", ""), ("two.png", ""), ("three.jpg", "deep")}
    jobs, conflicts = batch.plan_jobs(files, tmp_path / "out", batch.SegmentParams(3), masks_dir=tmp_path / "m")
    assert conflicts == []
    plan = {Path(j.source).name: j.plan for j in jobs}["three.jpg"]
    assert plan.image == str(tmp_path / "out" / "deep" / "three-k3.png")
    assert plan.mask_path(0, 3) == str(tmp_path / "m" / "deep" / "three-k3-mask-0.png")
    assert plan.mask_path(7, 12) == str(tmp_path / "m" / "deep" / "three-k3-mask-07.png")


def test_missing_paths_and_empty_patterns_are_failed_results(tmp_path: Path) -> None:
    files, missing = batch.find_images([tmp_path / "nope.jpg", str(tmp_path / "*.png"), tmp_path])
    assert files == []
    assert [m.reason for m in missing] == [
        "no such file or directory", "pattern matches no files",
        "no images in this directory (use --recursive for sub-folders)"]


def test_clashing_outputs_fail_the_later_input(tmp_path: Path) -> None:
    a = save_photo(tmp_path / "a" / "same.jpg", 16, 16)
    b = save_photo(tmp_path / "b" / "same.jpg", 16, 16)
    files, _ = batch.find_images([a, b])
    jobs, conflicts = batch.plan_jobs(files, tmp_path / "out", batch.SegmentParams(2))
    assert [j.source for j in jobs] == [str(a)]
    assert len(conflicts) == 1 and conflicts[0].source == str(b) and "{name}" in conflicts[0].reason
    jobs, conflicts = batch.plan_jobs(files, tmp_path / "a", batch.SegmentParams(2), name="{name}")
    assert jobs == [] and [c.source for c in conflicts] == [str(a), str(b)]  # both would replace a
    assert all("overwrite an input" in c.reason for c in conflicts)


@pytest.mark.parametrize("kwargs, param", [
    ({"k": 0}, "k"), ({"k": 257}, "k"), ({"k": 3, "max_iter": 0}, "max_iter"),
    ({"k": 3, "tol": -1.0}, "tol"), ({"k": 3, "color_space": "hsv"}, "color_space"),
    ({"k": 3, "seed": -2}, "seed"), ({"k": 3, "n_init": 0}, "n_init"),
])
def test_bad_parameters_raise_before_any_work(kwargs: dict[str, Any], param: str, tmp_path: Path) -> None:
    with pytest.raises(kmseg.InvalidParameterError) as info:
        batch.segment_many([tmp_path], tmp_path / "out", **kwargs)
    assert info.value.param == param
    assert not (tmp_path / "out").exists()


def test_worker_function_and_jobs_are_picklable(tmp_path: Path) -> None:
    src = save_photo(tmp_path / "x.png", 24, 16)
    (job,), _ = batch.plan_jobs(batch.find_images([src])[0], tmp_path, batch.SegmentParams(2, seed=0),
                                labels_dir=tmp_path / "lab")
    fn, job2 = pickle.loads(pickle.dumps((batch.process_item, job)))
    result = pickle.loads(pickle.dumps(fn(job2)))
    assert result.status == "done"
    with Image.open(result.outputs["labels"]) as im:
        assert im.size == (24, 16) and np.asarray(im).max() < 2
    assert kmseg.read_metadata(result.outputs["labels"])["kmseg-version"] == kmseg.__version__


def test_unexpected_errors_become_failed_results_with_detail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = save_photo(tmp_path / "x.png", 8, 8)

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(kmseg, "segment", boom)
    (result,) = batch.segment_many([src], tmp_path / "out", 2, executor=CountingExecutor())
    assert result.status == "failed" and "kaboom" in result.reason and "Traceback" in result.detail


# ------------------------------------------------------------------ manifest


def read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    lines = (folder / "kmseg-manifest.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len({r["input"] for r in rows}) == len(rows), "one row per input"
    return {Path(r["input"]).name: r for r in rows}


def test_manifest_has_one_row_per_input_with_figures(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    results = batch.segment_many([photos, tmp_path / "nope.jpg"], out, 3, seed=2, executor=CountingExecutor())
    rows = read_manifest(out)
    assert set(rows) == {"broken.png", "one.jpg", "two.png", "nope.jpg"}
    assert rows["broken.png"]["status"] == "failed" and rows["broken.png"]["reason"]
    assert rows["nope.jpg"]["status"] == "failed"
    by_name = {Path(r.source).name: r for r in results}
    for name in ("one.jpg", "two.png"):
        row, r = rows[name], by_name[name]
        assert row["status"] == "done" and row["reason"] is None
        assert row["k"] == r.summary["k"] and 1 <= row["k"] <= 3 and row["k_requested"] == 3
        assert row["inertia"] == pytest.approx(r.summary["inertia"]) and row["inertia"] > 0
        assert row["iterations"] >= 1 and row["seconds"] > 0
        assert Path(row["outputs"]["image"]).is_file()


def test_rerun_skips_done_and_failed_and_retry_failed_retries_only_failures(
        photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    ex = CountingExecutor()
    batch.segment_many([photos], out, 2, seed=1, executor=ex)
    assert len(ex.calls) == 3
    second = batch.segment_many([photos], out, 2, seed=1, executor=ex)
    assert len(ex.calls) == 3 and [r.status for r in second] == ["skipped"] * 3
    reasons = {Path(r.source).name: r.reason for r in second}
    assert "--retry-failed" in reasons["broken.png"] and "earlier run" in reasons["one.jpg"]
    rows = read_manifest(out)
    assert rows["broken.png"]["status"] == "failed"  # still failed, not hidden as skipped
    assert rows["one.jpg"]["status"] == "skipped" and rows["one.jpg"]["k"] >= 1  # figures kept

    # repair the broken file: --retry-failed runs it, and only it
    save_photo(photos / "broken.png", 20, 20)
    third = batch.segment_many([photos], out, 2, seed=1, executor=ex, retry_failed=True)
    assert len(ex.calls) == 4 and ex.calls[-1][0].source.endswith("broken.png")
    assert {Path(r.source).name: r.status for r in third} == {
        "broken.png": "done", "one.jpg": "skipped", "two.png": "skipped"}
    assert read_manifest(out)["broken.png"]["status"] == "done"


def test_done_row_whose_output_was_deleted_is_redone(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ex = CountingExecutor()
    (r,) = batch.segment_many([photos / "one.jpg"], out, 2, executor=ex)
    Path(r.outputs["image"]).unlink()
    (r2,) = batch.segment_many([photos / "one.jpg"], out, 2, executor=ex)
    assert r2.status == "done" and len(ex.calls) == 2 and Path(r2.outputs["image"]).is_file()


def test_output_without_a_manifest_row_gets_a_skipped_row(photos: Path, tmp_path: Path) -> None:
    # An interrupt can land after an image is written but before its manifest line.
    out = tmp_path / "out"
    ex = CountingExecutor()
    batch.segment_many([photos / "one.jpg", photos / "two.png"], out, 2, executor=ex)
    manifest = out / "kmseg-manifest.jsonl"
    manifest.write_text("".join(line + "\n" for line in manifest.read_text().splitlines()
                                if json.loads(line)["input"].endswith("two.png")))
    batch.segment_many([photos / "one.jpg", photos / "two.png"], out, 2, executor=ex)
    rows = read_manifest(out)
    assert len(ex.calls) == 2 and set(rows) == {"one.jpg", "two.png"}
    assert rows["one.jpg"]["status"] == "skipped" and "outputs exist" in rows["one.jpg"]["reason"]
    assert Path(rows["one.jpg"]["outputs"]["image"]).is_file()


def test_another_k_is_another_row(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ex = CountingExecutor()
    batch.segment_many([photos / "one.jpg"], out, 2, executor=ex)
    (r,) = batch.segment_many([photos / "one.jpg"], out, 3, executor=ex)
    assert r.status == "done" and len(ex.calls) == 2
    lines = (out / "kmseg-manifest.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["k_requested"] for x in lines) == [2, 3]


def test_manifest_survives_a_cut_line(tmp_path: Path) -> None:
    from kmseg.batch.manifest import Manifest

    path = tmp_path / "kmseg-manifest.jsonl"
    path.write_text(json.dumps({"input": "a.jpg", "output": "o.png", "status": "done"}) + "\n{\"input\": \"b")
    m = Manifest(path)
    assert m.get("a.jpg", "o.png")["status"] == "done" and m.get("b", None) is None


# --------------------------------------------------------------- fsspec URLs


def test_file_urls_for_inputs_and_outputs(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    results = batch.segment_many([photos.as_uri(), (photos / "one.jpg").as_uri()], out.as_uri(), 3, seed=4,
                                 executor=CountingExecutor(), palette_dir=(tmp_path / "pal").as_uri())
    by_name = {Path(r.source).name: r for r in results}
    assert set(by_name) == {"broken.png", "one.jpg", "two.png"}  # the same file once
    assert by_name["broken.png"].status == "failed"
    local = batch.segment_many([photos / "one.jpg"], tmp_path / "local", 3, seed=4, executor=CountingExecutor())
    assert Path(by_name["one.jpg"].outputs["image"]).read_bytes() == Path(local[0].outputs["image"]).read_bytes()
    assert (tmp_path / "pal" / "two-k3-palette.json").is_file()
    assert len((out / "kmseg-manifest.jsonl").read_text().splitlines()) == 3


def test_fsspec_urls_read_and_write_through_the_filesystem(photos: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    root = "memory://kmseg-test-photos"
    try:
        for name in ("one.jpg", "two.png", "broken.png"):
            fs.pipe_file(f"{root}/in/{name}", (photos / name).read_bytes())
        fs.pipe_file(f"{root}/in/deep/three.jpg", (photos / "deep" / "three.jpg").read_bytes())
        ex = CountingExecutor()
        results = batch.segment_many([f"{root}/in"], f"{root}/out", 3, seed=2, executor=ex, recursive=True,
                                     masks_dir=f"{root}/masks")
        status = {r.source.rsplit("/", 1)[1]: r.status for r in results}
        assert status == {"broken.png": "failed", "one.jpg": "done", "two.png": "done", "three.jpg": "done"}
        data = fs.cat_file(f"{root}/out/deep/three-k3.png")
        with Image.open(__import__("io").BytesIO(data)) as im:
            assert im.format == "PNG" and len(im.getcolors(256)) <= 3
        assert kmseg.read_metadata(data)["kmseg-version"] == kmseg.__version__
        assert fs.isfile(f"{root}/masks/one-k3-mask-0.png")
        rows = [json.loads(x) for x in fs.cat_file(f"{root}/out/kmseg-manifest.jsonl").decode().splitlines()]
        assert sorted(r["status"] for r in rows) == ["done", "done", "done", "failed"]
        again = batch.segment_many([f"{root}/in"], f"{root}/out", 3, seed=2, executor=ex, recursive=True,
                                   masks_dir=f"{root}/masks")
        assert [r.status for r in again] == ["skipped"] * 4 and len(ex.calls) == 4
    finally:
        fs.rm(root, recursive=True)


def test_the_output_folder_is_listed_a_fixed_number_of_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A batch of thousands into one folder must not list that folder once per image (quadratic).
    import glob
    import os

    for i in range(12):
        save_photo(tmp_path / "in" / f"p{i:02d}.jpg", 24, 16, shift=i)
    out = tmp_path / "out"
    listed: list[str] = []
    real_listdir, real_scandir, real_glob = os.listdir, os.scandir, glob.glob

    def spy(real: Any) -> Any:
        def call(path: Any = ".", *args: Any, **kwargs: Any) -> Any:
            listed.append(str(path))
            return real(path, *args, **kwargs)
        return call

    monkeypatch.setattr(os, "listdir", spy(real_listdir))
    monkeypatch.setattr(os, "scandir", spy(real_scandir))
    monkeypatch.setattr(glob, "glob", spy(real_glob))
    stale = out / ".p03-k2.png.abc123.tmp"  # a killed attempt's leftover, found by the sweeps
    out.mkdir()
    stale.write_bytes(b"half")
    results = batch.segment_many([tmp_path / "in"], out, 2, seed=0, executor=CountingExecutor())
    assert [r.status for r in results] == ["done"] * 12
    assert not stale.exists()
    of_out = [p for p in listed if Path(p).resolve() == out.resolve() or str(out) in p]
    assert 1 <= len(of_out) <= 3, of_out  # before and after the run, not per image


# ------------------------------------------------ issue 14: failures classified, odd files, names


def test_a_disk_full_failure_is_retried_by_the_next_run_and_a_corrupt_one_is_not(
        photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    out = tmp_path / "out"
    real_write = kmseg.atomic_write  # what every local output is written by

    def full_disk(path: Any, data: bytes) -> Any:
        if "two" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_write(path, data)

    monkeypatch.setattr(kmseg, "atomic_write", full_disk)
    first = {Path(r.source).name: r for r in batch.segment_many([photos], out, 2, seed=1, executor=CountingExecutor())}
    assert first["two.png"].status == "failed" and first["two.png"].failure == "environment"
    assert first["broken.png"].status == "failed" and first["broken.png"].failure == "input"
    rows = read_manifest(out)
    assert rows["two.png"]["failure"] == "environment" and rows["broken.png"]["failure"] == "input"

    monkeypatch.setattr(kmseg, "atomic_write", real_write)  # space freed
    ex = CountingExecutor()
    second = {Path(r.source).name: r for r in batch.segment_many([photos], out, 2, seed=1, executor=ex)}
    assert [c[0].source for c in ex.calls] == [str(photos / "two.png")]
    assert second["two.png"].status == "done" and Path(second["two.png"].outputs["image"]).is_file()
    assert second["broken.png"].status == "skipped" and second["broken.png"].failure == "input"
    assert "--retry-failed" in second["broken.png"].reason


def test_special_files_with_image_names_are_reported_and_skipped(tmp_path: Path) -> None:
    import os
    import socket

    root = tmp_path / "in"
    save_photo(root / "one.jpg", 24, 16)
    os.mkfifo(root / "pipe.jpg")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(root / "sock.png"))
        (root / "dev.png").symlink_to("/dev/zero")
        files, failed = batch.find_images([root])
        assert [Path(f.path).name for f in files] == ["one.jpg"]
        reasons = {Path(r.source).name: r.reason for r in failed}
        assert set(reasons) == {"pipe.jpg", "sock.png", "dev.png"}
        assert "named pipe" in reasons["pipe.jpg"] and "socket" in reasons["sock.png"]
        assert "device" in reasons["dev.png"]
        assert all(r.status == "failed" and r.failure == "input" for r in failed)
        files, failed = batch.find_images([root / "pipe.jpg", str(root / "*.png")])
        assert files == [] and {Path(r.source).name for r in failed} == {"pipe.jpg", "sock.png", "dev.png"}
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("../escape-{stem}.png", "inside the output folder"),
        ("sub/../../escape-{stem}.png", "inside the output folder"),
        ("ABS/escape-{stem}.png", "inside the output folder"),
        ("{stem.__class__}.png", "not a plain field"),
        ("{stem[0]}.png", "not a plain field"),
        ("{k.real}.png", "not a plain field"),
        ("{stem!r}.png", "format spec only"),
        ("{k:{stem}}.png", "format spec only"),
        ("{path}.png", "unknown field"),
        ("{0}.png", "unknown field|not a plain field"),
    ],
)
def test_name_patterns_take_only_plain_fields_and_stay_inside_the_folder(
        photos: Path, tmp_path: Path, pattern: str, words: str) -> None:
    ex = CountingExecutor()
    pattern = pattern.replace("ABS", str(tmp_path))
    with pytest.raises(kmseg.InvalidParameterError, match=words) as info:
        batch.segment_many([photos / "one.jpg"], tmp_path / "out" / "deep", 2, name=pattern, executor=ex)
    assert info.value.param == "name" and not ex.calls
    assert list(tmp_path.rglob("*escape*")) == [] and list(tmp_path.rglob("one-k2*")) == []


def test_name_patterns_may_use_subfolders_and_format_specs(photos: Path, tmp_path: Path) -> None:
    (r,) = batch.segment_many([photos / "one.jpg"], tmp_path / "out", 2, name="sub/{stem}-{k:03d}.{ext}",
                              executor=CountingExecutor())
    assert Path(r.outputs["image"]) == tmp_path / "out" / "sub" / "one-002.png"


def test_manifest_lines_of_any_bytes_or_length_are_counted_and_ignored(tmp_path: Path) -> None:
    from kmseg.batch.manifest import MAX_LINE_BYTES, Manifest

    good = {"input": "a.jpg", "output": "out/a-k2.png", "status": "done"}
    long_row = {"input": "b.jpg", "output": "out/b-k2.png", "status": "done", "pad": "x" * MAX_LINE_BYTES}
    path = tmp_path / "kmseg-manifest.jsonl"
    path.write_bytes(b"\n".join([json.dumps(good).encode(), b"\xff\xfe\x80", json.dumps(long_row).encode(),
                                 b"[" * 100_000, b'{"input": 3}', b'{"input": "c", "output": {"x": 1}}',
                                 b"", b'{"input": "d", "output": null, "outputs": "not a dict"}']) + b"\n")
    book = Manifest(path)
    assert book.bad_lines == [2, 3, 4, 5, 6]
    assert set(book.rows) == {("a.jpg", "out/a-k2.png"), ("d", None)}
    assert "outputs" not in book.get("d", None)


# ------------------------------------------------ issue 13: one writer, options from the table


def test_local_paths_and_fsspec_urls_get_the_same_outputs_byte_for_byte(photos: Path, tmp_path: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    root = "memory://kmseg-test-one-writer"
    kinds = {"labels_dir": "labels", "palette_dir": "palettes", "masks_dir": "masks",
             "boundaries_dir": "edges", "svg_dir": "svg"}
    try:
        local = batch.segment_many([photos / "one.jpg"], tmp_path / "out", 3, seed=4, executor=CountingExecutor(),
                                   **{key: tmp_path / folder for key, folder in kinds.items()})
        remote = batch.segment_many([photos / "one.jpg"], f"{root}/out", 3, seed=4, executor=CountingExecutor(),
                                    **{key: f"{root}/{folder}" for key, folder in kinds.items()})
        (mine,), (theirs,) = local, remote
        assert mine.status == theirs.status == "done"
        assert set(mine.outputs) == set(theirs.outputs) == {"image", "labels", "palette", "boundaries", "svg",
                                                           "masks"}
        for key in ("image", "labels", "palette", "boundaries", "svg"):
            assert Path(mine.outputs[key]).read_bytes() == fs.cat_file(theirs.outputs[key]), key
        assert len(mine.outputs["masks"]) == len(theirs.outputs["masks"]) == 3
        for a, b in zip(mine.outputs["masks"], theirs.outputs["masks"]):
            assert Path(a).read_bytes() == fs.cat_file(b)
    finally:
        fs.rm(root, recursive=True)


def test_segment_many_takes_the_tables_options_and_plan_jobs_keywords_only() -> None:
    import inspect

    from kmseg import options

    signature = inspect.signature(batch.segment_many).parameters
    for option in options.for_face("batch"):
        assert option.name in signature, option.name
    for name, parameter in inspect.signature(batch.plan_jobs).parameters.items():
        if parameter.kind is parameter.KEYWORD_ONLY:
            assert signature[name].default == parameter.default, name
    with pytest.raises(TypeError, match="'colour_space'"):
        batch.segment_many([], "out", 3, colour_space="lab")
