"""The feature options of ``kmseg segment`` (auto K, spatial, regions, dithering,
palette transfer), run for real in a subprocess on small images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import colours, no_traceback, run_kmseg, save_photo
from PIL import Image

THREE = np.array([[200, 30, 40], [20, 160, 60], [30, 40, 200]])


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """three.png: exactly three colours plus small noise (48x64); photo.png: a real photo (64x48)."""
    root = tmp_path_factory.mktemp("features")
    rng = np.random.default_rng(7)
    which = np.zeros((48, 64), dtype=int)
    which[:, 20:42] = 1
    which[:, 42:] = 2
    which[30:, 5:15] = 2  # not only vertical stripes
    noisy = THREE[which] + rng.integers(-6, 7, size=(48, 64, 3))
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(root / "three.png")
    save_photo(root / "photo.png", 64, 48)
    return root


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB") if im.mode not in ("L",) else im)


def summary(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    (item,) = json.loads(proc.stdout)["images"]
    return item


def test_auto_k_finds_three_colours(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "auto.png"
    item = summary(run_kmseg("segment", images / "three.png", "-k", "auto", "--seed", "0", "-o", out, "--json",
                             cwd=tmp_path))
    assert item["k"] == 3
    assert len(colours(out)) == 3
    curve = item["k_curve"]
    assert [row["k"] for row in curve][:3] == [1, 2, 3]
    assert all({"k", "inertia", "psnr"} <= set(row) for row in curve)


def test_auto_k_with_target_psnr_reaches_it(images: Path, tmp_path: Path) -> None:
    item = summary(run_kmseg("segment", images / "photo.png", "-k", "auto", "--target-psnr", "25", "--seed", "0",
                             "-o", tmp_path / "t.png", "--json", cwd=tmp_path))
    assert item["psnr"] >= 25
    assert item["k"] in [row["k"] for row in item["k_curve"]]


def test_min_region_lowers_regions_and_boundaries_png(images: Path, tmp_path: Path) -> None:
    common = ("-k", "6", "--seed", "0", "--json")
    counted = summary(run_kmseg("segment", images / "photo.png", *common, "--min-region", "1", "-o", tmp_path / "a.png",
                                cwd=tmp_path))
    edges = tmp_path / "edges.png"
    merged = summary(run_kmseg("segment", images / "photo.png", *common, "--min-region", "30", "-o", tmp_path / "b.png",
                               "--boundaries", edges, cwd=tmp_path))
    assert merged["regions_before"] == counted["regions"]
    assert merged["regions"] < counted["regions"]
    assert merged["outputs"]["boundaries"] == str(edges)
    with Image.open(edges) as im:
        assert im.format == "PNG" and im.size == (64, 48)


def test_boundaries_folder_with_several_inputs(images: Path, tmp_path: Path) -> None:
    proc = run_kmseg("segment", images / "three.png", images / "photo.png", "-k", "3", "--seed", "0", "-o", tmp_path / "out",
                     "--boundaries", tmp_path / "edges", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "edges").iterdir()) == ["photo-k3-boundaries.png",
                                                                      "three-k3-boundaries.png"]


def test_spatial_weight_runs_and_is_recorded(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.png"
    proc = run_kmseg("segment", images / "photo.png", "-k", "5", "--spatial-weight", "2", "--fit-size", "32", "--seed", "0",
                     "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = run_kmseg("info", out, "--json", cwd=tmp_path)
    (record,) = json.loads(info.stdout)
    assert json.loads(record["metadata"]["kmseg-params"])["spatial_weight"] == 2.0
    assert "--spatial-weight 2.0" in record["command"]


def test_dither_changes_picture_not_labels(images: Path, tmp_path: Path) -> None:
    runs = {}
    for name, extra in (("plain", ()), ("dither", ("--dither",))):
        proc = run_kmseg("segment", images / "photo.png", "-k", "4", "--seed", "0", *extra, "-o", tmp_path / f"{name}.png",
                         "--labels", tmp_path / f"{name}-labels.png", "--json", cwd=tmp_path)
        runs[name] = summary(proc)
    palette = {tuple(int(h[i:i + 2], 16) for i in (1, 3, 5)) for h in runs["dither"]["palette"]}
    assert colours(tmp_path / "dither.png") <= palette
    assert not np.array_equal(pixels(tmp_path / "dither.png"), pixels(tmp_path / "plain.png"))
    assert np.array_equal(pixels(tmp_path / "dither-labels.png"), pixels(tmp_path / "plain-labels.png"))


def test_palette_from_json_file(images: Path, tmp_path: Path) -> None:
    given = ["#ff0000", "#00ff00", "#0000ff", "#ffffff"]
    (tmp_path / "pal.json").write_text(json.dumps(given))
    out = tmp_path / "mapped.png"
    item = summary(run_kmseg("segment", images / "three.png", "--palette-from", tmp_path / "pal.json", "-o", out, "--json",
                             cwd=tmp_path))
    assert item["k"] == 4
    # every pixel took the nearest given colour: red, green or blue stripes, no white
    assert colours(out) == {(255, 0, 0), (0, 255, 0), (0, 0, 255)}
    a = pixels(out)
    assert tuple(a[0, 0]) == (255, 0, 0) and tuple(a[0, 30]) == (0, 255, 0) and tuple(a[0, 60]) == (0, 0, 255)


def test_palette_from_image_fits_k_colours(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "borrowed.png"
    item = summary(run_kmseg("segment", images / "three.png", "--palette-from", images / "photo.png", "-k", "5",
                             "--seed", "0", "-o", out, "--json", cwd=tmp_path))
    assert item["k_requested"] == 5
    assert colours(out) <= {tuple(int(h[i:i + 2], 16) for i in (1, 3, 5)) for h in item["palette"]}


@pytest.mark.parametrize("args, option", [
    (("-k", "0"), "-k"),
    (("-k", "many"), "-k"),
    (("-k", "auto", "--target-psnr", "0"), "--target-psnr"),
    (("-k", "4", "--target-psnr", "30"), "--target-psnr"),
    (("-k", "4", "--spatial-weight", "-1"), "--spatial-weight"),
    (("-k", "4", "--spatial-weight", "1", "--fit-size", "8"), "--fit-size"),
    (("-k", "4", "--fit-size", "64"), "--fit-size"),
    (("-k", "auto", "--spatial-weight", "1"), "--spatial-weight"),
    (("-k", "4", "--min-region", "-3"), "--min-region"),
    (("--palette-from", "missing.json"), "--palette-from"),
    (("--palette-from", "photo.png"), "--palette-from"),
    ((), "-k"),
])
def test_bad_values_exit_2(images: Path, tmp_path: Path, args: tuple[str, ...], option: str) -> None:
    proc = run_kmseg("segment", images / "photo.png", *args, "-o", tmp_path / "x.png", cwd=images)
    assert proc.returncode == 2, proc.stderr
    *_, error, hint = proc.stderr.strip().splitlines()  # the error, then where the help is
    assert option in error and "error:" in error, error
    assert hint == "see 'kmseg segment --help'"
    assert no_traceback(proc.stderr)
    assert not (tmp_path / "x.png").exists()


def test_feature_params_pickle() -> None:
    """SegmentParams goes to worker processes and Dask: it must survive pickling."""
    import pickle

    from kmseg import batch

    params = batch.SegmentParams(None, spatial_weight=0.0, min_region=5, dither=True,
                                 palette=((255, 0, 0), (0, 0, 255)))
    again = pickle.loads(pickle.dumps(params))
    assert again == params
    assert again.as_kwargs()["palette"] == [[255, 0, 0], [0, 0, 255]]
    assert again.name_k == 2
