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
