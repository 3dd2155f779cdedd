"""``kmseg segment --paint-by-number``: the sheet written by the real command."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_helpers import no_traceback, run_kmseg, save_photo

NS = {"s": "http://www.w3.org/2000/svg"}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("paint-inputs")
    save_photo(folder / "one.png", 160, 120)
    save_photo(folder / "two.png", 120, 90, name="flower.jpg", shift=2)
    return folder


def test_svg_sheet_numbers_sit_on_their_labels(images: Path, tmp_path: Path) -> None:
    proc = run_kmseg("segment", images / "one.png", "-k", "5", "--seed", "0", "--min-region", "80",
                     "-o", tmp_path / "out.png", "--labels", tmp_path / "labels.png",
                     "--paint-by-number", tmp_path / "sheet.svg", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (item,) = json.loads(proc.stdout)["images"]
    assert item["outputs"]["paint"] == str(tmp_path / "sheet.svg")
    with Image.open(tmp_path / "labels.png") as im:
        labels = np.asarray(im)
    root = ET.fromstring((tmp_path / "sheet.svg").read_text())
    texts = root.find(".//s:g[@id='numbers']", NS).findall("s:text", NS)
    assert texts
    for t in texts:
        assert labels[int(float(t.get("y"))), int(float(t.get("x")))] == int(t.text) - 1
    chips = root.find(".//s:g[@id='legend']", NS).findall("s:g", NS)
    assert [c.find("s:rect", NS).get("fill") for c in chips] == [
        h for h, n in zip(item["palette"], item["counts"]) if n]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.png", "out.png", "sheet.svg"]


def test_png_sheet_at_the_dpi_asked(images: Path, tmp_path: Path) -> None:
    proc = run_kmseg("segment", images / "one.png", "-k", "4", "--seed", "0", "-o", tmp_path / "out.png",
                     "--paint-by-number", tmp_path / "sheet.png", "--paint-dpi", "150", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with Image.open(tmp_path / "sheet.png") as im:
        assert im.format == "PNG" and round(im.info["dpi"][0]) == 150
        assert im.width == round(190 / 25.4 * 150)


def test_sheets_into_a_folder_with_several_inputs(images: Path, tmp_path: Path) -> None:
    proc = run_kmseg("segment", images / "one.png", images / "two.png", "-k", "3", "--seed", "0",
                     "-o", tmp_path / "out", "--paint-by-number", tmp_path / "sheets", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "sheets").iterdir()) == ["one-k3-paint.svg", "two-k3-paint.svg"]
    proc = run_kmseg("segment", images / "one.png", images / "two.png", "-k", "3", "--seed", "0",
                     "-o", tmp_path / "out2", "--paint-by-number", tmp_path / "pngs", "--paint-dpi", "72", "-q",
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "pngs").iterdir()) == ["one-k3-paint.png", "two-k3-paint.png"]


@pytest.mark.parametrize(("args", "message"), [
    (("--paint-dpi", "300"), "--paint-dpi applies to the --paint-by-number sheet"),
    (("--paint-by-number", "s.png", "--paint-dpi", "5"), "--paint-dpi: must be between 30 and 1200, got 5"),
    (("--paint-by-number", "s.pdf"), "--paint-by-number writes a .svg or .png file"),
])
def test_bad_paint_options_are_usage_errors(images: Path, tmp_path: Path, args, message) -> None:
    proc = run_kmseg("segment", images / "one.png", "-k", "3", *args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and no_traceback(proc.stderr)
    assert not list(tmp_path.iterdir())
