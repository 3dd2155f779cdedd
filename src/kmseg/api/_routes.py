"""The JSON/image API: /api/segment, /api/palette, /api/labels, /api/boundaries and /healthz."""

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from kmseg import __version__
from kmseg.api._admission import Admission, ClientGone
from kmseg.api._errors import ApiError, ErrorBody
from kmseg.api._form import FORM_LIMITS, form_model, strict_fields
from kmseg.api._models import HealthBody, PaletteBody, palette_body
from kmseg.api._settings import ServiceSettings
from kmseg.api._work import (
    MEDIA_TYPES,
    RunParams,
    RunResult,
    job_boundaries,
    job_image,
    job_labels,
    job_memory,
    job_summary,
)

__all__ = ["build_api_router", "run_in_pool"]

FIGURE_HEADERS: dict[str, str] = {
    "X-Kmseg-K": "Clusters found.",
    "X-Kmseg-K-Requested": "Clusters asked for (with k=auto: the K chosen; with a palette file: its colours).",
    "X-Kmseg-K-Auto": "true when k=auto chose K (then X-Kmseg-K is the K found).",
    "X-Kmseg-K-Curve": "With k=auto: the K values tried, comma-separated.",
    "X-Kmseg-Regions": "With min_region > 0: connected regions left after merging.",
    "X-Kmseg-Regions-Before": "With min_region > 0: connected regions before merging.",
    "X-Kmseg-Iterations": "Lloyd iterations run.",
    "X-Kmseg-Converged": "true or false.",
    "X-Kmseg-Inertia": "Sum of squared distances to the centres.",
    "X-Kmseg-Seed": "The seed used; send it back to repeat the run.",
    "X-Kmseg-Color-Space": "rgb, lab or oklab.",
    "X-Kmseg-Width": "Image width in pixels.",
    "X-Kmseg-Height": "Image height in pixels.",
    "X-Kmseg-Palette": "The palette, comma-separated #rrggbb in label order.",
    "X-Kmseg-Counts": "Pixels per cluster, comma-separated.",
    "X-Kmseg-Shares": "Share of the image per cluster, comma-separated.",
    "X-Kmseg-Psnr": "With metrics=true: PSNR against the original in dB (inf when identical).",
    "X-Kmseg-Delta-E-Mean": "With metrics=true: mean CIEDE2000 difference to the original.",
    "X-Kmseg-Delta-E-P95": "With metrics=true: 95th percentile of the CIEDE2000 difference.",
    "X-Kmseg-Seconds": "Seconds spent clustering.",
    "X-Kmseg-Server-Seconds": "Seconds spent decoding, clustering and encoding.",
}

_ERROR_TEXT = {
    400: "The body is not a well-formed multipart form, or has more than "
    f"{FORM_LIMITS['max_fields']} fields, {FORM_LIMITS['max_files']} files or "
    f"{FORM_LIMITS['max_part_size'] // 1024} KB in a text field; or the Host header is not allowed.",
    408: "The request's headers or body did not arrive within the read timeout.",
    413: "The upload is over the size limit, or the image has too many pixels.",
    415: "The file is not in a format we open (SVG, EPS, PDF, ...).",
    422: "A field is missing or out of range, or the file is not a readable image.",
    429: "This client already has as many requests in progress as one client may; retry after "
    "Retry-After seconds.",
    503: "The server is busy (every place, or its memory budget, in use) or the run took too long; "
    "retry after Retry-After seconds.",
}


def error_responses() -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers every upload endpoint can give."""
    out: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": text} for status, text in _ERROR_TEXT.items()
    }
    for status in (429, 503):
        out[status]["headers"] = {
            "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
        }
    return out


def _header_value(value: Any) -> str:
    if value is None:
        return "inf"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ",".join(_header_value(v) for v in value)
    return str(value)


def figure_headers(result: RunResult) -> dict[str, str]:
    """The run's figures as ``X-Kmseg-*`` response headers."""
    s = result.summary
    values: dict[str, Any] = {
        "X-Kmseg-K": s["k"],
        "X-Kmseg-K-Requested": s["k_requested"],
        "X-Kmseg-Iterations": s["n_iter"],
        "X-Kmseg-Converged": s["converged"],
        "X-Kmseg-Inertia": s.get("inertia"),
        "X-Kmseg-Seed": s["seed"],
        "X-Kmseg-Color-Space": s["color_space"],
        "X-Kmseg-Width": s["width"],
        "X-Kmseg-Height": s["height"],
        "X-Kmseg-Palette": s["palette"],
        "X-Kmseg-Counts": s["counts"],
        "X-Kmseg-Shares": s["shares"],
        "X-Kmseg-Seconds": float(s.get("seconds") or 0.0),
        "X-Kmseg-Server-Seconds": result.server_seconds,
    }
    values["X-Kmseg-K-Auto"] = bool(s.get("k_auto"))
    if s.get("k_curve"):
        values["X-Kmseg-K-Curve"] = [int(p["k"]) for p in s["k_curve"]]
    if s.get("regions") is not None:
        values["X-Kmseg-Regions"] = s["regions"]
        values["X-Kmseg-Regions-Before"] = s["regions_before"]
    if s.get("metrics"):
        values["X-Kmseg-Psnr"] = s.get("psnr")
        values["X-Kmseg-Delta-E-Mean"] = s.get("delta_e_mean")
        values["X-Kmseg-Delta-E-P95"] = s.get("delta_e_p95")
    return {name: _header_value(value) for name, value in values.items()}


async def run_in_pool(
    request: Request, settings: ServiceSettings, job: Callable[..., Any], *args: Any
) -> Any:
    """Run ``job(*args)`` in the app's pool; too slow -> 503 + Retry-After.

    Jobs take ``(data, params, max_pixels, ...)`` and a ``deadline=``
    keyword: the request's time limit, cancelled when the client goes away.
    The memory they reserve is estimated from those three.
    """
    admission: Admission = request.app.state.admission
    try:
        return await admission.run(job, *args, timeout=settings.processing_timeout,
                                   memory=job_memory(args[0], args[1], args[2]),
                                   disconnected=request.is_disconnected)
    except ClientGone:
        raise ApiError(503, "the client went away; the run was stopped", code="cancelled") from None
    except TimeoutError:
        raise ApiError(
            503,
            f"the run took longer than the {settings.processing_timeout:g} s limit; "
            "try a smaller image, a smaller k or fewer iterations",
            code="timeout",
            headers={"Retry-After": str(settings.retry_after)},
        ) from None


def _params(form: Any) -> RunParams:
    return RunParams(
        form.k, form.max_iter, form.color_space, form.seed, form.format, form.metrics,
        spatial_weight=form.spatial_weight, fit_size=form.fit_size, min_region=form.min_region,
        target_psnr=form.target_psnr, dither=form.dither, first_frame=form.first_frame,
        svg_tolerance=form.svg_tolerance,
    )  # fmt: skip


def build_api_router(settings: ServiceSettings) -> APIRouter:
    """The API routes, with field limits taken from ``settings``."""
    SegmentForm = form_model(settings)
    router = APIRouter(tags=["segmentation"], max_body_size=settings.max_upload_bytes, form_limits=FORM_LIMITS)
    strict = [Depends(strict_fields(settings))]
    errors = error_responses()
    header_docs = {
        name: {"description": text, "schema": {"type": "string"}} for name, text in FIGURE_HEADERS.items()
    }
    image_answer = {
        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        "headers": header_docs,
    }

    async def run(request: Request, job: Callable[..., RunResult], form: Any) -> RunResult:
        params = _params(form)
        data = await form.image.read()
        palette = await form.palette_file.read() if form.palette_file is not None else None
        if palette is not None:
            params = replace(params, palette=palette, palette_name=form.palette_file.filename or None)
        result: RunResult = await run_in_pool(request, settings, job, data, params, settings.max_pixels)
        return result

    def image_endpoint(
        job: Callable[..., RunResult], filename: Callable[[Any], str], media_type: Callable[[Any], str]
    ) -> Callable[..., Any]:
        async def endpoint(
            request: Request, form: Annotated[SegmentForm, Form(media_type="multipart/form-data")]  # type: ignore[valid-type]
        ) -> Response:
            result = await run(request, job, form)
            headers = figure_headers(result)
            headers["Content-Disposition"] = f'inline; filename="{filename(form)}"'
            return Response(result.data, media_type=media_type(form), headers=headers)

        return endpoint

    router.post(
        "/api/segment",
        dependencies=strict,
        summary="Segment an image; answer the segmented image",
        response_class=Response,
        responses={
            200: {
                "description": "The segmented image, every pixel painted with its cluster's colour. "
                "No EXIF or ICC data from the upload is carried over.",
                "content": {
                    mt: {"schema": {"type": "string", "format": "binary"}} for mt in MEDIA_TYPES.values()
                },
                "headers": header_docs,
            },
            **errors,
        },
    )(image_endpoint(job_image, lambda form: f"segmented.{'jpg' if form.format == 'jpeg' else form.format}",
                     lambda form: MEDIA_TYPES[form.format]))

    @router.post(
        "/api/palette",
        dependencies=strict,
        summary="Segment an image; answer its palette and figures as JSON",
        response_model=PaletteBody,
        responses=errors,
    )
    async def segment_palette(
        request: Request, form: Annotated[SegmentForm, Form(media_type="multipart/form-data")]  # type: ignore[valid-type]
    ) -> PaletteBody:
        result = await run(request, job_summary, form)
        return palette_body(result.summary, result.palette_rgb, result.server_seconds)

    router.post(
        "/api/labels",
        dependencies=strict,
        summary="Segment an image; answer its label map as a greyscale PNG",
        response_class=Response,
        responses={
            200: {
                "description": "A greyscale (mode L) PNG, same size as the image, whose pixel values are "
                "the cluster labels 0..k-1 (format does not apply).",
                **image_answer,
            },
            **errors,
        },
    )(image_endpoint(job_labels, lambda form: "labels.png", lambda form: "image/png"))

    router.post(
        "/api/boundaries",
        dependencies=strict,
        summary="Segment an image; answer the image with the segment edges drawn on it",
        response_class=Response,
        responses={
            200: {
                "description": "An RGB PNG of the image's size: the decoded upload with the edges "
                "between segments painted red (format does not apply).",
                **image_answer,
            },
            **errors,
        },
    )(image_endpoint(job_boundaries, lambda form: "boundaries.png", lambda form: "image/png"))

    @router.get("/healthz", summary="Is the service up?", response_model=HealthBody, tags=["service"])
    async def healthz(request: Request) -> HealthBody:
        admission: Admission = request.app.state.admission
        return HealthBody(
            version=__version__,
            pool_size=admission.workers,
            queue_size=admission.queue_size,
            in_progress=admission.in_progress,
        )

    router.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)  # HEAD where GET works
    return router
