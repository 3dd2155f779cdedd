"""The request fields, their limits and their descriptions, built from the settings."""

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import File, Form, UploadFile
from pydantic import Field

from .. import INPUT_FORMATS
from ._errors import ApiError
from ._settings import ServiceSettings

__all__ = [
    "DEFAULT_K",
    "DEFAULT_MAX_ITER",
    "FIT_SIZE_RANGE",
    "MIN_REGION_MAX",
    "SEED_MAX",
    "SPATIAL_WEIGHT_MAX",
    "TARGET_PSNR_RANGE",
    "FormFields",
    "form_fields",
    "ranges",
]

DEFAULT_K = 8
DEFAULT_MAX_ITER = 300
SEED_MAX = 2**32 - 1
COLOR_SPACE_VALUES = ("rgb", "lab")
FORMAT_VALUES = ("png", "jpeg", "webp")
TARGET_PSNR_RANGE = (10.0, 60.0)
SPATIAL_WEIGHT_MAX = 10.0
FIT_SIZE_RANGE = (16, 2048)
DEFAULT_FIT_SIZE = 256
MIN_REGION_MAX = 1_000_000

ColorSpace = Literal["rgb", "lab"]
OutputFormat = Literal["png", "jpeg", "webp"]


def ranges(settings: ServiceSettings) -> dict[str, str]:
    """The allowed values of each field, in words (used in 422 messages)."""
    formats = ", ".join(INPUT_FORMATS)
    return {
        "image": f"an image file ({formats}) of at most {settings.max_upload_mb:.3g} MB "
        f"and {settings.max_pixels:,} pixels",
        "k": f'a whole number from 1 to {settings.max_k}, or "auto"',
        "max_iter": f"a whole number from 1 to {settings.max_iter}",
        "color_space": "one of " + ", ".join(COLOR_SPACE_VALUES),
        "seed": f"a whole number from 0 to {SEED_MAX}, or empty for a random seed",
        "format": "one of " + ", ".join(FORMAT_VALUES),
        "metrics": "true or false",
        "target_psnr": f"a number from {TARGET_PSNR_RANGE[0]:g} to {TARGET_PSNR_RANGE[1]:g} (dB), "
        'only with k="auto"',
        "spatial_weight": f"a number from 0 to {SPATIAL_WEIGHT_MAX:g}",
        "fit_size": f"a whole number from {FIT_SIZE_RANGE[0]} to {FIT_SIZE_RANGE[1]}",
        "min_region": f"a whole number from 0 to {MIN_REGION_MAX:,}",
        "dither": "true or false",
        "palette_file": "a palette file (JSON starting with '{', or GIMP .gpl starting with "
        "'GIMP Palette') or an image to take k colours from",
    }


@dataclass(frozen=True)
class FormFields:
    """Annotated types for the endpoints' form fields, limits taken from the settings."""

    image: Any
    k: Any
    max_iter: Any
    color_space: Any
    seed: Any
    format: Any
    metrics: Any
    target_psnr: Any
    spatial_weight: Any
    fit_size: Any
    min_region: Any
    dither: Any
    palette_file: Any


def form_fields(settings: ServiceSettings) -> FormFields:
    """Build the annotated form-field types (their limits show in the OpenAPI schema)."""
    words = ranges(settings)
    return FormFields(
        image=Annotated[
            UploadFile,
            File(
                description=f"The image: {words['image']}. The format is detected from the "
                "bytes, not the name; SVG, EPS, PDF and other formats are refused with 415.",
            ),
        ],
        k=Annotated[
            Annotated[int, Field(ge=1, le=settings.max_k)] | Literal["auto"] | None,
            Form(
                description=f"Number of colour clusters K: {words['k']}. Default {DEFAULT_K}. "
                '"auto" picks K: the smallest reaching target_psnr, or the elbow of the inertia '
                "curve over K = 1..16 without it. May be left out with palette_file (a palette "
                "file gives the colours; an image is segmented with k, default "
                f"{DEFAULT_K}, to give them).",
            ),
        ],
        max_iter=Annotated[
            int,
            Form(
                ge=1,
                le=settings.max_iter,
                description=f"Most k-means (Lloyd) iterations: {words['max_iter']}.",
            ),
        ],
        color_space=Annotated[
            ColorSpace,
            Form(description="Colour space to cluster in: rgb, or lab (CIELAB, closer to human vision)."),
        ],
        seed=Annotated[
            int | None,
            Form(
                ge=0,
                le=SEED_MAX,
                description=f"Random seed, {words['seed']}. The same seed and inputs give the same result.",
            ),
        ],
        format=Annotated[
            OutputFormat,
            Form(description="Encoding of the segmented image: png (lossless), jpeg or webp."),
        ],
        metrics=Annotated[
            bool,
            Form(
                description="Also compute PSNR and the CIEDE2000 colour difference to the original "
                "(true/false). They cost about as much time as the clustering on large images.",
            ),
        ],
        target_psnr=Annotated[
            float | None,
            Form(
                ge=TARGET_PSNR_RANGE[0],
                le=TARGET_PSNR_RANGE[1],
                description=f"With k=auto, the PSNR to reach: {words['target_psnr']}.",
            ),
        ],
        spatial_weight=Annotated[
            float,
            Form(
                ge=0.0,
                le=SPATIAL_WEIGHT_MAX,
                description=f"Weight of pixel position beside colour, {words['spatial_weight']} "
                "(default 0: colour only). At 1, crossing the image's width counts as much as going "
                "from black to white, so same-coloured areas far apart become different segments. "
                "Needs a whole-number k (not auto, not with palette_file).",
            ),
        ],
        fit_size=Annotated[
            int,
            Form(
                ge=FIT_SIZE_RANGE[0],
                le=FIT_SIZE_RANGE[1],
                description=f"With spatial_weight > 0, the longest side of the downsampled copy the "
                f"clusters are fitted on: {words['fit_size']} (default {DEFAULT_FIT_SIZE}).",
            ),
        ],
        min_region=Annotated[
            int,
            Form(
                ge=0,
                le=MIN_REGION_MAX,
                description=f"Connected regions (4-connectivity) smaller than this many pixels take the "
                f"label of their longest-bordering neighbour: {words['min_region']} (default 0: off).",
            ),
        ],
        dither=Annotated[
            bool,
            Form(
                description="Floyd-Steinberg dither the segmented image to the palette (true/false, "
                "default false). Only the picture of /api/segment changes; labels and figures do not.",
            ),
        ],
        palette_file=Annotated[
            UploadFile | None,
            File(
                description=f"Palette transfer: {words['palette_file']}, at most 256 colours. Every "
                "pixel goes to the nearest colour; k may then be left out. Read by content, not name.",
            ),
        ],
    )


def parse_page_fields(
    settings: ServiceSettings,
    *,
    k: str | None,
    max_iter: str | None,
    color_space: str | None,
    seed: str | None,
) -> tuple[int, int, str, int | None]:
    """Check the browser form's text fields; raise :class:`ApiError` (422) naming the field."""
    words = ranges(settings)

    def whole(name: str, text: str | None, low: int, high: int, default: int | None) -> int | None:
        text = (text or "").strip()
        if not text:
            if default is None and name != "seed":
                raise ApiError(422, f"{name} is required; allowed: {words[name]}", field=name)
            return default
        try:
            value = int(text)
        except ValueError:
            raise ApiError(
                422, f"{name} must be {words[name]}; got {text[:40]!r}", code="invalid_parameter", field=name
            ) from None
        if not low <= value <= high:
            raise ApiError(
                422, f"{name} must be {words[name]}; got {value}", code="invalid_parameter", field=name
            )
        return value

    k_value = whole("k", k, 1, settings.max_k, DEFAULT_K)
    iter_value = whole("max_iter", max_iter, 1, settings.max_iter, DEFAULT_MAX_ITER)
    seed_value = whole("seed", seed, 0, SEED_MAX, None)
    space = (color_space or "rgb").strip().lower()
    if space not in COLOR_SPACE_VALUES:
        raise ApiError(
            422,
            f"color_space must be {words['color_space']}; got {space[:40]!r}",
            code="invalid_parameter",
            field="color_space",
        )
    assert k_value is not None and iter_value is not None
    return k_value, iter_value, space, seed_value
