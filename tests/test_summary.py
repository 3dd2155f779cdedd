"""One summary of a run: `kmseg segment --json`, the batch manifest, the HTTP
API's JSON and headers and the web app's figures all show the figures of
kmseg.summarize for the same image and seed."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_kmseg
from PIL import Image

import kmseg

K, SEED = 5, 3
#: Figures that are the same wherever they are shown (not the time spent).
SAME = ("k_requested", "k", "width", "height", "color_space", "seed", "inertia", "psnr", "delta_e_mean",
        "delta_e_p95", "n_iter", "converged", "palette", "counts", "shares", "notes")


@pytest.fixture(scope="module")
def image_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.datasets import load_sample_image

    folder = tmp_path_factory.mktemp("summary") / "in"
    folder.mkdir()
    path = folder / "china.png"
    Image.fromarray(load_sample_image("china.jpg")[::4, ::4]).save(path)
    return path


@pytest.fixture(scope="module")
def expected(image_png: Path) -> dict:
    return kmseg.summarize(kmseg.segment(image_png, K, seed=SEED))


def test_summary_is_json_and_segmentation_summary_is_it(image_png: Path, expected: dict) -> None:
    seg = kmseg.segment(image_png, K, seed=SEED)
    assert json.loads(json.dumps(expected, allow_nan=False)) == expected
    assert {key: seg.summary()[key] for key in SAME} == {key: expected[key] for key in SAME}
    cheap = kmseg.summarize(seg, psnr=False, delta_e=False)
    assert cheap["psnr"] is None and cheap["delta_e_mean"] is None and cheap["delta_e_p95"] is None
    assert {key: cheap[key] for key in SAME if key not in ("psnr", "delta_e_mean", "delta_e_p95")} == {
        key: expected[key] for key in SAME if key not in ("psnr", "delta_e_mean", "delta_e_p95")}


def test_an_identical_picture_has_psnr_none_and_no_infinity() -> None:
    image = np.zeros((4, 4, 3), np.uint8)
    image[:, 2:] = (200, 30, 30)
    figures = kmseg.summarize(kmseg.segment(image, "auto", seed=0))
    assert figures["psnr"] is None and figures["k"] == 2
    json.dumps(figures, allow_nan=False)  # no inf or NaN anywhere, k_curve included


def test_cli_json_single_and_batch_and_manifest_agree(image_png: Path, expected: dict, tmp_path: Path) -> None:
    single = run_kmseg("segment", image_png, "-k", K, "--seed", SEED, "--json", "-o", tmp_path / "one.png",
                       cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    row = json.loads(single.stdout)["images"][0]
    assert {key: row[key] for key in SAME} == {key: expected[key] for key in SAME}

    many = run_kmseg("segment", image_png.parent, "-k", K, "--seed", SEED, "--json", "-o", tmp_path / "out",
                     cwd=tmp_path)
    assert many.returncode == 0, many.stderr
    row = json.loads(many.stdout)["images"][0]
    assert {key: row[key] for key in SAME} == {key: expected[key] for key in SAME}
    manifest = [json.loads(line) for line in (tmp_path / "out" / "kmseg-manifest.jsonl").read_text().splitlines()]
    assert len(manifest) == 1
    assert (manifest[0]["k"], manifest[0]["k_requested"], manifest[0]["inertia"], manifest[0]["iterations"]) == (
        expected["k"], expected["k_requested"], expected["inertia"], expected["n_iter"])


def test_the_api_json_and_headers_agree(image_png: Path, expected: dict) -> None:
    pytest.importorskip("fastapi", reason="the api extra is not installed")
    from fastapi.testclient import TestClient

    from kmseg.api import ServiceSettings, create_app

    form = {"k": str(K), "seed": str(SEED), "metrics": "true", "max_iter": "300"}
    with TestClient(create_app(ServiceSettings()), base_url="http://localhost") as client:
        body = client.post("/api/palette", files={"image": image_png.read_bytes()}, data=form).json()
        headers = client.post("/api/segment", files={"image": image_png.read_bytes()}, data=form).headers
    assert [c["hex"] for c in body["palette"]] == expected["palette"]
    assert [c["count"] for c in body["palette"]] == expected["counts"]
    for key in ("k", "k_requested", "inertia", "psnr", "delta_e_mean", "delta_e_p95", "converged", "seed",
                "width", "height", "notes"):
        assert body[key] == expected[key], key
    assert body["iterations"] == expected["n_iter"]
    assert int(headers["X-Kmseg-K"]) == expected["k"]
    assert int(headers["X-Kmseg-Iterations"]) == expected["n_iter"]
    assert math.isclose(float(headers["X-Kmseg-Inertia"]), expected["inertia"], rel_tol=1e-5)  # headers: 6 digits
    assert math.isclose(float(headers["X-Kmseg-Psnr"]), expected["psnr"], rel_tol=1e-5)
    assert headers["X-Kmseg-Palette"].split(",") == expected["palette"]


def test_the_web_app_shows_the_same_figures(image_png: Path, expected: dict) -> None:
    pytest.importorskip("streamlit", reason="the web extra is not installed")
    from streamlit.testing.v1 import AppTest

    from kmseg.app import SCRIPT

    at = AppTest.from_file(str(SCRIPT), default_timeout=60)
    at.run()
    at.file_uploader(key="upload").upload("china.png", image_png.read_bytes(), "image/png")
    at.run()
    at.sidebar.number_input(key="k").set_value(K).run()
    at.sidebar.number_input(key="seed").set_value(SEED).run()
    assert not at.exception, at.exception
    shown = {m.label: m.value for m in at.metric}
    assert shown["Clusters"] == str(expected["k"])
    assert shown["Iterations"] == str(expected["n_iter"])
    assert shown["Seed"] == str(expected["seed"])
    assert shown["PSNR"] == f"{expected['psnr']:.1f} dB"
    assert shown["ΔE mean"] == f"{expected['delta_e_mean']:.2f}"
    mantissa, exponent = f"{expected['inertia']:.2e}".split("e")
    assert shown["Inertia"] == f"{mantissa}e{int(exponent)}"
