"""Palette files in every format."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import kmseg

PALETTE = np.array([[255, 0, 0], [0, 128, 255], [10, 20, 30]], np.uint8)
COUNTS = np.array([50, 30, 20])


def test_json():
    doc = json.loads(kmseg.palette_bytes(PALETTE, COUNTS, "json"))
    assert [c["hex"] for c in doc["colors"]] == ["#ff0000", "#0080ff", "#0a141e"]
    assert [c["rgb"] for c in doc["colors"]][1] == [0, 128, 255]
    assert sum(c["share"] for c in doc["colors"]) == pytest.approx(1.0)


def test_gpl_css_txt():
    gpl = kmseg.palette_bytes(PALETTE, COUNTS, "gpl").decode().splitlines()
    assert gpl[0] == "GIMP Palette" and gpl[4].split()[:3] == ["255", "0", "0"]
    css = kmseg.palette_bytes(PALETTE, COUNTS, "css").decode()
    assert "--kmseg-1: #0080ff;" in css
    assert kmseg.palette_bytes(PALETTE, COUNTS, "txt").decode().split() == ["#ff0000", "#0080ff", "#0a141e"]


def test_ase_structure():
    data = kmseg.palette_bytes(PALETTE, COUNTS, "ase")
    assert data[:4] == b"ASEF"
    version_major, version_minor, blocks = struct.unpack(">HHI", data[4:12])
    assert (version_major, blocks) == (1, 3)
    pos, colours = 12, []
    for _ in range(blocks):
        kind, length = struct.unpack(">HI", data[pos : pos + 6])
        body = data[pos + 6 : pos + 6 + length]
        n = struct.unpack(">H", body[:2])[0]
        name = body[2 : 2 + 2 * n].decode("utf-16-be").rstrip("\0")
        model = body[2 + 2 * n : 6 + 2 * n]
        rgb = struct.unpack(">fff", body[6 + 2 * n : 18 + 2 * n])
        colours.append((kind, name, model, tuple(round(v * 255) for v in rgb)))
        pos += 6 + length
    assert pos == len(data)
    assert colours[1] == (1, "#0080ff", b"RGB ", (0, 128, 255))


def test_format_from_path():
    assert kmseg.palette_format_from_path("a/b.GPL") == "gpl"
    with pytest.raises(kmseg.InvalidParameterError, match=".json"):
        kmseg.palette_format_from_path("x.pdf")


# ------------------------------------------------ issue 14: untrusted palette text, bounded


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[" * 100_000, "nested"),
        ('{"colors": ' + "[" * 5000 + "]" * 5000 + "}", "nested"),
        (json.dumps([[1, 2, 3]] * 300), "300 colours"),
        ("[[1e999, 0, 0]]", "integers"),
        ("[[" + "9" * 5000 + ", 0, 0]]", "malformed"),
    ],
)
def test_hostile_json_palettes_are_palette_errors(tmp_path, text, words):
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(kmseg.InvalidParameterError, match=words) as info:
        kmseg.read_palette(path)
    assert info.value.param == "palette"


def test_palette_size_and_depth_limits_can_be_changed(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"colors": [{"rgb": [1, 2, 3]}]}) + " " * 2000)
    with pytest.raises(kmseg.InvalidParameterError, match="larger than 1,000 bytes"):
        kmseg.read_palette(path, max_bytes=1000)
    with pytest.raises(kmseg.InvalidParameterError, match="nested 4 deep"):
        kmseg.read_palette(path, max_depth=3)
    assert kmseg.read_palette(path).tolist() == [[1, 2, 3]]
    # strings holding brackets do not count as nesting
    path.write_text(json.dumps({"name": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"", "colors": ["#0a141e"]}))
    assert kmseg.read_palette(path).tolist() == [[10, 20, 30]]


def test_a_binary_or_pipe_palette_file_is_a_palette_error(tmp_path):
    import os

    path = tmp_path / "p.txt"
    path.write_bytes(b"\xff\xfe#ff0000")
    with pytest.raises(kmseg.InvalidParameterError, match="cannot read"):
        kmseg.read_palette(path)
    fifo = tmp_path / "f.gpl"
    os.mkfifo(fifo)
    import threading

    box: dict[str, BaseException] = {}

    def read() -> None:
        try:
            kmseg.read_palette(fifo)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    reader = threading.Thread(target=read, daemon=True)  # a read that blocks cannot hang the suite
    reader.start()
    reader.join(30)
    try:
        assert not reader.is_alive(), "read_palette blocked on a named pipe"
    finally:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # releases a blocked reader
        except OSError:
            pass
    assert isinstance(box.get("error"), kmseg.InvalidParameterError) and "named pipe" in str(box["error"])


def test_deeply_nested_palette_upload_is_a_422_not_a_500():
    pytest.importorskip("fastapi", reason="the api extra is not installed")
    import io

    from fastapi.testclient import TestClient
    from PIL import Image

    from kmseg.api import ServiceSettings, create_app

    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, "PNG")
    files = {"image": ("a.png", buf.getvalue(), "image/png"),
             "palette_file": ("p.json", b"[" * 100_000, "application/json")}
    with TestClient(create_app(ServiceSettings()), base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        r = client.post("/api/segment", files=files)
    assert r.status_code == 422, r.text
    assert "palette_file" in r.text and "nested" in r.text


def test_palette_limits_are_set_from_the_environment(tmp_path):
    import subprocess
    import sys

    from cli_helpers import kmseg_env

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"colors": [{"rgb": [1, 2, 3]}]}) + " " * 200)
    code = ("import kmseg, sys\ntry:\n    kmseg.read_palette(sys.argv[1])\nexcept kmseg.InvalidParameterError as e:\n"
            "    print(e)\nelse:\n    print('read')\n")
    for env, words in ((dict(KMSEG_MAX_PALETTE_BYTES="100"), "larger than 100 bytes"),
                       (dict(KMSEG_MAX_PALETTE_DEPTH="3"), "nested 4 deep, more than 3"), ({}, "read")):
        out = subprocess.run([sys.executable, "-c", code, str(path)], env=kmseg_env(**env),
                             capture_output=True, text=True, timeout=60)
        assert words in out.stdout, out.stdout + out.stderr
