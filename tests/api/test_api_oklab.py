"""color_space=oklab through the HTTP API."""

from __future__ import annotations

from apitools import photo_bytes


def test_the_api_clusters_in_oklab(client) -> None:
    image = ("photo.jpg", photo_bytes(size=(96, 64)), "image/jpeg")
    r = client.post("/api/palette", files={"image": image}, data={"k": "5", "seed": "0", "color_space": "oklab"})
    assert r.status_code == 200, r.text
    assert r.json()["color_space"] == "oklab"
    r = client.post("/api/segment", files={"image": image}, data={"k": "5", "color_space": "OKLab"})
    assert r.status_code == 200 and r.headers["X-Kmseg-Color-Space"] == "oklab"
    r = client.post("/api/segment", files={"image": image}, data={"k": "5", "color_space": "hsl"})
    assert r.status_code == 422 and "oklab" in r.json()["error"]["message"]
