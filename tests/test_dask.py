"""Batches on a real Dask ``LocalCluster`` (2 worker processes): outputs,
manifest, re-runs, and a worker killed with SIGKILL in the middle of a batch.

Outside CI (env CI != "true") these tests skip when ``distributed`` is not
installed, saying so; under CI=true a missing ``distributed`` is a failure.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import no_traceback, run_kmseg, save_photo
from PIL import Image

from kmseg import batch

if os.environ.get("CI") == "true":
    import distributed
else:
    distributed = pytest.importorskip(
        "distributed", reason="distributed is not installed (pip install 'kmseg[dask]'); skipping the Dask tests")

N_IMAGES, CORRUPT = 100, {7, 42, 93}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    import dask

    # A task whose worker dies is retried on another one; explicit here (3 is also Dask's default).
    with dask.config.set({"distributed.scheduler.allowed-failures": 3}), distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100 small real photographs, 3 of them corrupt (truncated or not an image)."""
    root = tmp_path_factory.mktemp("collection") / "in"
    for i in range(N_IMAGES):
        path = save_photo(root / f"img{i:03d}.jpg", 64, 64, name=("china.jpg", "flower.jpg")[i % 2], shift=i)
        if i in CORRUPT:
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 3] if i != 42 else b"not an image at all")
    return root


def manifest_rows(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "kmseg-manifest.jsonl").read_text().splitlines()]


def check_png(path: Path, k: int) -> None:
    with Image.open(path) as im:
        im.load()
        assert len(im.getcolors(256) or []) <= k


def test_hundred_images_three_corrupt_then_a_rerun_skips_all(client: Any, collection: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    results = batch.segment_many([collection], out, 4, seed=3, executor=client.get_executor(pure=False))
    assert len(results) == N_IMAGES
    failed = sorted(int(Path(r.source).stem[3:]) for r in results if r.status == "failed")
    assert failed == sorted(CORRUPT)
    assert all(r.reason for r in results if r.status == "failed")
    done = [r for r in results if r.status == "done"]
    assert len(done) == N_IMAGES - len(CORRUPT)
    for r in done:
        check_png(Path(r.outputs["image"]), 4)
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".png") == sorted(
        Path(r.source).stem + "-k4.png" for r in done)

    rows = manifest_rows(out)
    assert len(rows) == N_IMAGES and len({r["input"] for r in rows}) == N_IMAGES
    by_status = {s: sum(r["status"] == s for r in rows) for s in ("done", "failed")}
    assert by_status == {"done": N_IMAGES - len(CORRUPT), "failed": len(CORRUPT)}
    for row in rows:
        if row["status"] == "done":
            assert 1 <= row["k"] <= 4 and row["inertia"] >= 0 and row["iterations"] >= 1
            assert row["seconds"] > 0 and Path(row["outputs"]["image"]).is_file()

    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*.png")}
    submitted: list[Any] = []

    class Spy(Executor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            submitted.append(args)
            return client.get_executor(pure=False).submit(fn, *args, **kwargs)

    again = batch.segment_many([collection], out, 4, seed=3, executor=Spy())
    assert [r.status for r in again] == ["skipped"] * N_IMAGES and submitted == []
    assert {p: p.stat().st_mtime_ns for p in out.glob("*.png")} == stamps
    assert len(manifest_rows(out)) == N_IMAGES


def test_a_worker_killed_mid_batch_loses_nothing(client: Any, tmp_path: Path) -> None:
    import psutil

    n = 24
    src = tmp_path / "in"
    for i in range(n):
        save_photo(src / f"p{i:02d}.jpg", 320, 240, name=("china.jpg", "flower.jpg")[i % 2], shift=i)
    out = tmp_path / "out"
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["results"] = batch.segment_many(
                [src], out, 8, seed=1, n_init=2, masks_dir=out / "masks", executor=client.get_executor(pure=False))
        except BaseException as exc:  # pragma: no cover - reported below
            outcome["error"] = exc

    pids_before = set(client.run(os.getpid).values())
    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while not (out.is_dir() and len(list(out.glob("*.png"))) >= 2):
        assert thread.is_alive() and time.monotonic() < deadline, outcome
        time.sleep(0.01)
    assert thread.is_alive(), "the batch ended before a worker could be killed; make the images bigger"
    processing = client.processing()
    busy = [addr for addr, keys in processing.items() if keys]
    victim_addr = busy[0] if busy else next(iter(processing))
    victim = client.run(os.getpid, workers=[victim_addr])[victim_addr]
    print(f"killing worker {victim_addr} (pid {victim}), busy with {len(processing[victim_addr])} task(s)")
    psutil.Process(victim).send_signal(signal.SIGKILL)
    thread.join(timeout=180)
    assert not thread.is_alive() and "error" not in outcome, outcome
    results = outcome["results"]
    assert [r.status for r in results] == ["done"] * n, [(r.source, r.reason) for r in results if r.reason]
    client.wait_for_workers(2, timeout=180)  # the nanny's new worker: slow to start on a loaded machine
    assert victim not in set(client.run(os.getpid).values()) and victim in pids_before
    for r in results:
        check_png(Path(r.outputs["image"]), 8)
        for mask in r.outputs["masks"]:
            with Image.open(mask) as im:
                im.load()
    rows = manifest_rows(out)
    assert len(rows) == n and {r["status"] for r in rows} == {"done"}
    # nothing half-written: no temporary file is left next to the outputs
    assert [p for p in out.rglob(".*") if p.is_file()] == []


def test_cli_dask_local_prints_the_dashboard_and_writes_the_manifest(collection: Path, tmp_path: Path) -> None:
    files = [collection / f"img{i:03d}.jpg" for i in (0, 1, 2, 7)]
    r = run_kmseg("segment", *files, "-k", 3, "-o", "out", "--dask", "local", "--jobs", 2, cwd=tmp_path,
                  timeout=180)
    assert r.returncode == 1, r.stderr  # img007 is corrupt
    assert no_traceback(r.stderr)
    assert "Dask dashboard: http://" in r.stderr
    assert "3 done" in r.stderr and "1 failed" in r.stderr
    rows = manifest_rows(tmp_path / "out")
    assert sorted(row["status"] for row in rows) == ["done", "done", "done", "failed"]


def test_cli_unreachable_scheduler_is_a_usage_error(collection: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run_kmseg("segment", collection / "img000.jpg", collection / "img001.jpg", "-k", 2, "-o", "out",
                  "--dask", f"tcp://127.0.0.1:{port}", cwd=tmp_path, timeout=120,
                  DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="1s")
    assert r.returncode == 2, r.stderr
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in r.stderr and no_traceback(r.stderr)
    assert not list((tmp_path / "out").glob("*.png"))


# ------------------------------------------------ issue 14: loopback only, a clean Ctrl-C


def _listening(pids: set[int]) -> set[tuple[int, str, int]]:
    import psutil

    found = set()
    for pid in pids:
        try:
            for c in psutil.Process(pid).net_connections(kind="inet"):
                if c.status == psutil.CONN_LISTEN:
                    found.add((pid, c.laddr.ip, c.laddr.port))
        except psutil.Error:
            continue
    return found


def test_local_cluster_and_its_dashboard_listen_on_loopback_only() -> None:
    import psutil

    from kmseg.batch.dask import dask_executor

    me = psutil.Process()
    before = _listening({me.pid} | {p.pid for p in me.children(recursive=True)})
    with dask_executor("local", workers=1) as (executor, link):
        assert executor.submit(sum, [1, 2]).result(timeout=60) == 3
        new = _listening({me.pid} | {p.pid for p in me.children(recursive=True)}) - before
    assert link and link.startswith("http://127.0.0.1:")
    dashboard_port = int(link.split(":")[2].split("/")[0])
    assert dashboard_port in {port for _, _, port in new}, new  # the dashboard was seen
    assert {ip for _, ip, _ in new} == {"127.0.0.1"}, new  # scheduler, worker, nanny, dashboard


def _command_lines(pid: int) -> list[str]:
    import psutil

    lines = []
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return lines
    for child in children:
        try:
            lines.append(" ".join(child.cmdline()))
        except psutil.Error:  # gone meanwhile
            continue
    return lines


def test_ctrl_c_while_the_local_cluster_starts_is_a_clean_interrupt(collection: Path, tmp_path: Path) -> None:
    import subprocess

    from cli_helpers import kmseg_command, kmseg_env, like_a_terminal

    files = [collection / f"img{i:03d}.jpg" for i in (0, 1)]
    proc = subprocess.Popen(kmseg_command("segment", *files, "-k", 2, "-o", "out", "--dask", "local", "--jobs", 1),
                            cwd=tmp_path, env=kmseg_env(), stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, start_new_session=True, preexec_fn=like_a_terminal)
    try:
        # Ctrl-C (to the whole process group, as a terminal sends it) once a worker process
        # is being spawned: the middle of the cluster's start-up.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if any("spawn_main" in line and "resource_tracker" not in line for line in _command_lines(proc.pid)):
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before its cluster started"
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err and no_traceback(err), err
