"""Schemathesis against the app's own OpenAPI schema, with real images in the upload field.

Every generated request must get an answer that is no server error and that
matches the schema (status documented, content type, body and headers).
"""

from __future__ import annotations

import io

import numpy as np
import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PIL import Image  # noqa: E402
from schemathesis.checks import positive_data_acceptance  # noqa: E402
from schemathesis.transport.serialization import Binary  # noqa: E402

from kmseg.api import ServiceSettings, create_app  # noqa: E402

app = create_app(
    ServiceSettings(
        max_upload_bytes=2 * 1024 * 1024,
        max_pixels=1_000_000,
        processing_timeout=30,
        allowed_hosts=("testserver", "localhost"),  # schemathesis' ASGI client says "testserver"
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)

FORMATS = ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"]


def _image(width: int, height: int, fmt: str, alpha: bool, colours: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (colours, 4 if alpha else 3), dtype=np.uint8)
    pixels = palette[rng.integers(0, colours, (height, width))]
    im = Image.fromarray(pixels)
    if fmt == "JPEG" and alpha:
        im = im.convert("RGB")
    buffer = io.BytesIO()
    im.save(buffer, fmt)
    return buffer.getvalue()


real_images = st.builds(
    _image,
    width=st.integers(1, 48),
    height=st.integers(1, 48),
    fmt=st.sampled_from(FORMATS),
    alpha=st.booleans(),
    colours=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)


@schema.hook
def flatmap_body(context, body):
    """Mostly real images in the ``image`` field; sometimes keep what schemathesis drew.

    Only file-like draws are replaced: a negative draw (a number, a list...) must
    stay what it is, or the request would be valid while counted as invalid.
    """
    if not isinstance(body, dict) or not isinstance(body.get("image"), (bytes, str, Binary)):
        return st.just(body)
    real = real_images.map(lambda data: {**body, "image": data})
    return st.sampled_from([True, True, True, False]).flatmap(lambda use: real if use else st.just(body))


@schema.hook
def filter_body(context, body):
    """Drop negative bodies that multipart cannot tell from valid ones.

    A list of zero or one value is sent as no field or one field, the same
    bytes as a valid request; lists of two or more (repeated fields) stay.
    """
    if not isinstance(body, dict):
        return True
    return not any(isinstance(value, list) and len(value) <= 1 for value in body.values())


@schema.parametrize()
@settings(
    max_examples=int(__import__("os").environ.get("KMSEG_SCHEMA_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_api_conforms_to_its_schema(case):
    # "Valid per schema" cannot say "a decodable image", so a 415/422 for random bytes is right.
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500


def _seen(prop: dict):
    """What the schema offers for one field, in the option table's terms."""
    from option_checks import Seen

    seen = Seen()
    for item in prop.get("anyOf", [prop]):
        if "minimum" in item or "maximum" in item:
            seen.low, seen.high = item.get("minimum"), item.get("maximum")
        if "enum" in item:
            seen.choices = item["enum"]
    if "default" in prop:
        seen.default = prop["default"]
    return seen


def test_openapi_form_agrees_with_the_option_table():
    """Every upload endpoint takes the same form: the table's names, defaults, ranges and choices."""
    from option_checks import disagreements

    from kmseg import options

    openapi = app.openapi()
    forms = set()
    for path in ("/api/segment", "/api/palette", "/api/labels", "/api/boundaries"):
        content = openapi["paths"][path]["post"]["requestBody"]["content"]
        forms.add(content["multipart/form-data"]["schema"]["$ref"])
    assert len(forms) == 1, forms  # one form model, shared
    model = openapi["components"]["schemas"][forms.pop().rsplit("/", 1)[1]]
    assert model["additionalProperties"] is False  # unknown fields are refused
    props = model["properties"]
    by_field = {option.field_name: option.name for option in options.for_face("api")}
    seen = {by_field[name]: _seen(prop) for name, prop in props.items() if name in by_field}
    assert disagreements("api", seen) == []
    assert set(props) == {"image", "metrics", *by_field}
    # A value in range on the table is accepted, one past it refused, on a real request
    # (the schema's numbers are what pydantic checks).
    assert props["spatial_weight"]["maximum"] == options.get("spatial_weight").range.high
