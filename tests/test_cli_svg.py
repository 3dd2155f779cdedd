"""``kmseg segment --svg``: the drawing written by the real command, rendered
and compared with the label map it wrote beside it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_helpers import no_traceback, run_kmseg, save_photo
from svgtools import fidelity


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("svg-inputs")
    save_photo(folder / "one.png", 96, 64)
    save_photo(folder / "two.png", 80, 60, name="flower.jpg", shift=2)
    return folder


def summary(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    (item,) = json.loads(proc.stdout)["images"]
    return item


def read_labels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def palette_of(summary: dict) -> np.ndarray:
    return np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in summary["palette"]])


def path_count(svg: str) -> int:
    return len(ET.fromstring(svg).findall(".//{http://www.w3.org/2000/svg}path"))


def test_svg_file_matches_the_label_map(images: Path, tmp_path: Path) -> None:
    drawing = tmp_path / "drawing.svg"
    result = summary(run_kmseg("segment", images / "one.png", "-k", "5", "--seed", "0", "--min-region", "20",
                               "-o", tmp_path / "out.png", "--labels", tmp_path / "labels.png",
                               "--svg", drawing, "--svg-tolerance", "0", "--json", cwd=tmp_path))
    assert result["outputs"]["svg"] == str(drawing)
    svg = drawing.read_text()
    labels = read_labels(tmp_path / "labels.png")
    assert fidelity(svg, labels, palette_of(result)) == (1.0, 0)
    assert path_count(svg) == result["regions"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drawing.svg", "labels.png", "out.png"]  # no temporaries


def test_default_tolerance_is_smaller_and_gap_free(images: Path, tmp_path: Path) -> None:
    common = ("segment", images / "one.png", "-k", "5", "--seed", "0", "--min-region", "20", "--json")
    exact = summary(run_kmseg(*common, "-o", tmp_path / "a.png", "--svg", tmp_path / "exact.svg",
                              "--svg-tolerance", "0", "--labels", tmp_path / "labels.png", cwd=tmp_path))
    summary(run_kmseg(*common, "-o", tmp_path / "b.png", "--svg", tmp_path / "simple.svg", cwd=tmp_path))
    simple = (tmp_path / "simple.svg").read_text()
    assert len(simple) < len((tmp_path / "exact.svg").read_text())
    right, through = fidelity(simple, read_labels(tmp_path / "labels.png"), palette_of(exact))
    assert through == 0 and right > 0.9
    assert path_count(simple) == exact["regions"]


def test_svg_folder_with_several_inputs(images: Path, tmp_path: Path) -> None:
    proc = run_kmseg("segment", images / "one.png", images / "two.png", "-k", "3", "--seed", "0",
                     "-o", tmp_path / "out", "--svg", tmp_path / "drawings", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "drawings").iterdir()) == ["one-k3.svg", "two-k3.svg"]
    for p in (tmp_path / "drawings").iterdir():
        root = ET.fromstring(p.read_text())
        assert root.get("width") in ("96", "80")
    # All outputs there: a second run skips both; a missing drawing is made again.
    again = run_kmseg("segment", images / "one.png", images / "two.png", "-k", "3", "--seed", "0",
                      "-o", tmp_path / "out", "--svg", tmp_path / "drawings", cwd=tmp_path)
    assert again.returncode == 0 and "2 skipped" in again.stderr
    (tmp_path / "drawings" / "two-k3.svg").unlink()
    third = run_kmseg("segment", images / "one.png", images / "two.png", "-k", "3", "--seed", "0",
                      "-o", tmp_path / "out", "--svg", tmp_path / "drawings", cwd=tmp_path)
    assert third.returncode == 0 and "1 done" in third.stderr and "1 skipped" in third.stderr
    assert (tmp_path / "drawings" / "two-k3.svg").exists()


def test_svg_into_a_folder_with_one_input(images: Path, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    proc = run_kmseg("segment", images / "one.png", "-k", "4", "--seed", "0", "-o", tmp_path / "o.png",
                     "--svg", tmp_path / "d", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["one-k4.svg"]


@pytest.mark.parametrize("args, message", [
    (("--svg-tolerance", "1"), "--svg-tolerance applies to the --svg drawing"),
    (("--svg", "d.svg", "--svg-tolerance", "-1"), "--svg-tolerance: must be between 0 and 10000, got -1"),
    (("--svg", "d.svg", "--svg-tolerance", "nan"), "--svg-tolerance: must be a number"),
    (("--svg", "d.svg", "--svg-tolerance", "wide"), "--svg-tolerance: must be a number between 0 and 10000, got 'wide'"),
])
def test_bad_svg_options_are_usage_errors(images: Path, tmp_path: Path, args, message) -> None:
    proc = run_kmseg("segment", images / "one.png", "-k", "3", *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr and no_traceback(proc.stderr)
    assert not list(tmp_path.iterdir())


def test_svg_file_with_several_inputs_is_a_usage_error(images: Path, tmp_path: Path) -> None:
    proc = run_kmseg("segment", images / "one.png", images / "two.png", "-k", "3", "-o", tmp_path / "out",
                     "--svg", tmp_path / "d.svg", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--svg is a folder" in proc.stderr and no_traceback(proc.stderr)


def test_output_named_svg_is_the_drawing(images: Path, tmp_path: Path) -> None:
    """-o NAME.svg (or --format svg) writes the drawing as the main output, simplified by --svg-tolerance."""
    result = summary(run_kmseg("segment", images / "one.png", "-k", "5", "--seed", "0", "--min-region", "20",
                               "-o", tmp_path / "drawing.svg", "--svg-tolerance", "0",
                               "--labels", tmp_path / "labels.png", "--json", cwd=tmp_path))
    assert result["outputs"]["image"] == str(tmp_path / "drawing.svg")
    svg = (tmp_path / "drawing.svg").read_text()
    assert fidelity(svg, read_labels(tmp_path / "labels.png"), palette_of(result)) == (1.0, 0)
    proc = run_kmseg("segment", images / "one.png", images / "two.png", "-k", "3", "--seed", "0",
                     "--format", "svg", "-o", tmp_path / "many", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "many").glob("*.svg")) == ["one-k3.svg", "two-k3.svg"]
    assert path_count((tmp_path / "many" / "one-k3.svg").read_text()) > 0


def test_quality_with_svg_output_is_a_usage_error(images: Path, tmp_path: Path) -> None:
    proc = run_kmseg("segment", images / "one.png", "-k", "3", "-o", tmp_path / "d.svg", "--quality", "80",
                     cwd=tmp_path)
    assert proc.returncode == 2 and "--quality applies to jpg and webp" in proc.stderr
    assert no_traceback(proc.stderr) and not list(tmp_path.iterdir())
