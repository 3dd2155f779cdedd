"""``format=svg`` of /api/segment: the drawing answered as image/svg+xml,
rendered and compared with the label map /api/labels gives for the same run."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from apitools import photo_bytes
from svgtools import fidelity

FORM = {"k": "6", "seed": "3", "min_region": "30"}
IMAGE = ("photo.jpg", photo_bytes(size=(120, 80)), "image/jpeg")


def _labels_and_palette(client) -> tuple[np.ndarray, np.ndarray]:
    r = client.post("/api/labels", files={"image": IMAGE}, data=FORM)
    assert r.status_code == 200, r.text
    labels = np.asarray(Image.open(io.BytesIO(r.content)))
    palette = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)]
                        for h in r.headers["X-Kmseg-Palette"].split(",")])
    return labels, palette


def test_svg_at_tolerance_0_renders_as_the_label_map(client) -> None:
    r = client.post("/api/segment", files={"image": IMAGE}, data={**FORM, "format": "svg", "svg_tolerance": "0"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert 'filename="segmented.svg"' in r.headers["content-disposition"]
    labels, palette = _labels_and_palette(client)
    assert fidelity(r.text, labels, palette) == (1.0, 0)


def test_svg_tolerance_comes_from_the_form(client) -> None:
    exact = client.post("/api/segment", files={"image": IMAGE}, data={**FORM, "format": "svg",
                                                                       "svg_tolerance": "0"})
    default = client.post("/api/segment", files={"image": IMAGE}, data={**FORM, "format": "svg"})
    coarse = client.post("/api/segment", files={"image": IMAGE}, data={**FORM, "format": "svg",
                                                                        "svg_tolerance": "3"})
    assert exact.status_code == default.status_code == coarse.status_code == 200
    assert len(coarse.content) < len(default.content) < len(exact.content)
    labels, palette = _labels_and_palette(client)
    right, through = fidelity(default.text, labels, palette)
    assert through == 0 and right > 0.95  # simplified edges, but no background shows through


@pytest.mark.parametrize(("value", "words"), [("-1", ("svg_tolerance", "0")), ("abc", ("svg_tolerance",)),
                                              ("10001", ("svg_tolerance", "10000"))])
def test_bad_svg_tolerance_is_422(client, value: str, words: tuple[str, ...]) -> None:
    r = client.post("/api/segment", files={"image": IMAGE}, data={**FORM, "format": "svg", "svg_tolerance": value})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == "svg_tolerance"
    assert all(w in error["message"] for w in words), error["message"]
