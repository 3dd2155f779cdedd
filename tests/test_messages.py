"""Messages a person understands (issue 15, item 6): the user's own file names, the
option named when the option is at fault, and a short usage error."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import no_traceback, run_kmseg, save_photo

import kmseg


# ------------------------------------------------------------------- the command line


def test_a_usage_error_is_the_usage_line_the_error_and_where_help_is(tmp_path: Path) -> None:
    save_photo(tmp_path / "photo.jpg", 32, 24)
    r = run_kmseg("segment", "photo.jpg", "-k", "0", cwd=tmp_path)
    assert r.returncode == 2 and no_traceback(r.stderr)
    assert r.stderr.splitlines() == [
        "usage: kmseg segment [options] INPUT...",
        "kmseg segment: error: argument -k/--k: must be between 1 and 256, or 'auto', got 0",
        "see 'kmseg segment --help'",
    ]


def test_a_usage_error_found_after_parsing_is_as_short(tmp_path: Path) -> None:
    save_photo(tmp_path / "photo.jpg", 32, 24)
    r = run_kmseg("segment", "photo.jpg", "-k", "3", "--quality", "80", cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 3 and lines[0] == "usage: kmseg segment [options] INPUT..."
    assert lines[1].startswith("kmseg segment: error: --quality") and lines[2] == "see 'kmseg segment --help'"


def test_the_help_still_lists_every_option(tmp_path: Path) -> None:
    r = run_kmseg("segment", "--help", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("usage: kmseg segment [options] INPUT...")
    for flag in ("--spatial-weight", "--palette-from", "--max-iter", "--json"):
        assert flag in r.stdout


@pytest.mark.parametrize(("args", "option"), [
    (("-k", "auto", "--spatial-weight", "2"), "--spatial-weight"),
    (("-k", "4", "--target-psnr", "30"), "--target-psnr"),
    (("-k", "4", "--fit-size", "64"), "--fit-size"),
])
def test_an_option_conflict_names_the_option_not_the_image(tmp_path: Path, args: tuple[str, ...],
                                                           option: str) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"not even an image")  # never read: the options are at fault
    r = run_kmseg("segment", "photo.jpg", *args, cwd=tmp_path)
    assert r.returncode == 2 and no_traceback(r.stderr)
    error = next(line for line in r.stderr.splitlines() if "error:" in line)
    assert error.startswith(f"kmseg segment: error: {option} ")
    assert "photo.jpg" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg"]


def test_info_on_a_file_kmseg_did_not_write_says_what_it_reads(tmp_path: Path) -> None:
    save_photo(tmp_path / "photo.jpg", 32, 24)
    save_photo(tmp_path / "plain.png", 32, 24)
    r = run_kmseg("info", "photo.jpg", "plain.png", cwd=tmp_path)
    assert r.returncode == 1 and no_traceback(r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("kmseg: failed: photo.jpg: not a PNG;")
    assert lines[1].startswith("kmseg: failed: plain.png: a PNG without a kmseg record")
    assert all("reads only the record kmseg writes into its own PNG outputs" in line for line in lines)


def test_info_names_the_input_a_batch_recorded(tmp_path: Path) -> None:
    save_photo(tmp_path / "in" / "a.jpg", 48, 32)
    save_photo(tmp_path / "in" / "b.png", 40, 30, shift=2)
    r = run_kmseg("segment", "in", "-k", "3", "-o", "out", "--labels", "out", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    info = run_kmseg("info", "out/a-k3.png", "out/b-k3-labels.png", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    commands = [shlex.split(ln.split("again: ", 1)[1]) for ln in info.stdout.splitlines() if "again: " in ln]
    assert [argv[2] for argv in commands] == ["in/a.jpg", "in/b.png"]
    argv = commands[0]
    argv[argv.index("-o") + 1] = "again.png"
    again = run_kmseg(*argv[1:], cwd=tmp_path)  # the command runs as printed
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "out" / "a-k3.png").read_bytes()
    # A single file has no manifest: the command says INPUT, as before.
    single = run_kmseg("segment", "in/a.jpg", "-k", "2", "-o", "one.png", cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    line = next(ln for ln in run_kmseg("info", "one.png", cwd=tmp_path).stdout.splitlines() if "again: " in ln)
    assert shlex.split(line.split("again: ", 1)[1])[2] == "INPUT"


# ------------------------------------------------------------------- palette uploads


def test_parse_palette_names_the_file_as_its_user_knows_it() -> None:
    colours = kmseg.parse_palette(b"GIMP Palette\n1 2 3\n200 100 50\n", "mine.gpl")
    np.testing.assert_array_equal(colours, [[1, 2, 3], [200, 100, 50]])
    with pytest.raises(kmseg.InvalidParameterError, match=r"^palette file 'broken\.json' is malformed") as info:
        kmseg.parse_palette(b"{not json", "broken.json")
    assert info.value.param == "palette"
    with pytest.raises(kmseg.InvalidParameterError, match="'upload.bin'.*not UTF-8"):
        kmseg.parse_palette(b"\xff\xfe#000000", "upload.bin", fmt="txt")
    with pytest.raises(kmseg.InvalidParameterError, match="more than 10 "):
        kmseg.parse_palette(b"#000000 " * 4, "big.txt", max_bytes=10)


def test_the_web_apps_palette_message_names_the_upload_not_a_temporary_file() -> None:
    from kmseg.app._compute import palette_source

    with pytest.raises(kmseg.InvalidParameterError) as info:
        palette_source("broken.json", b'{"colors": [[1, 2]]}')
    message = str(info.value)
    assert "'broken.json'" in message and "/" not in message and "kmseg-palette" not in message


def test_the_apis_palette_message_names_the_upload() -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from kmseg.api import ServiceSettings, create_app

    image = kmseg.segment(np.zeros((8, 8, 3), np.uint8), 1).to_bytes()
    with TestClient(create_app(ServiceSettings()), base_url="http://localhost") as client:
        r = client.post("/api/palette", data={"k": "2"}, files={
            "image": ("photo.png", image, "image/png"),
            "palette_file": ("my colours.gpl", b"GIMP Palette\nred green blue\n", "text/plain")})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == "palette_file"
    assert "'my colours.gpl' is malformed" in error["message"] and "/" not in error["message"]
    assert json.dumps(error).count("kmseg-palette") == 0
