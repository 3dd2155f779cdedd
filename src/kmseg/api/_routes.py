"""The JSON/image API: /api/segment, /api/palette, /api/labels, /api/boundaries and /healthz."""

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request, UploadFile
from fastapi.responses import Response

from .. import __version__
from ._errors import ApiError, ErrorBody
from ._forms import MAX_FIELDS, MAX_FILES, MAX_PART_SIZE, in_memory_route_class
from ._models import HealthBody, PaletteBody, palette_body
from ._params import DEFAULT_FIT_SIZE, DEFAULT_MAX_ITER, form_fields, ranges
from ._pool import PoolBusy, PoolTimeout, WorkerPool
from ._settings import ServiceSettings
from ._work import (
    MEDIA_TYPES,
    RunParams,
    RunResult,
    job_boundaries,
    job_image,
    job_labels,
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
    "X-Kmseg-Color-Space": "rgb or lab.",
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
    400: f"The body is not a well-formed multipart form, or has more than {MAX_FIELDS} fields, "
    f"{MAX_FILES} files or {MAX_PART_SIZE // 1024} KB in a text field.",
    408: "The request's headers or body did not arrive within the read timeout.",
    413: "The upload is over the size limit, or the image has too many pixels.",
    415: "The file is not in a format we open (SVG, EPS, PDF, ...).",
    422: "A field is missing or out of range, or the file is not a readable image.",
    503: "The server is busy or the run took too long; retry after Retry-After seconds.",
}


def error_responses() -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers every upload endpoint can give."""
    out: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": text} for status, text in _ERROR_TEXT.items()
    }
    out[503]["headers"] = {
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
    """Run ``job(*args)`` in the app's bounded pool; busy or too slow -> 503 + Retry-After."""
    pool: WorkerPool = request.app.state.pool
    retry = {"Retry-After": str(settings.retry_after)}
    try:
        return await pool.run(job, *args, timeout=settings.processing_timeout)
    except PoolBusy:
        raise ApiError(
            503,
            f"the server is busy ({pool.capacity} requests in progress); retry in {settings.retry_after} s",
            code="busy",
            headers=retry,
        ) from None
    except PoolTimeout:
        raise ApiError(
            503,
            f"the run took longer than the {settings.processing_timeout:g} s limit; "
            "try a smaller image, a smaller k or fewer iterations",
            code="timeout",
            headers=retry,
        ) from None


def strict_fields(settings: ServiceSettings) -> Callable[[Request], Any]:
    """A dependency refusing what form parsing would quietly accept: empty or repeated fields.

    FastAPI reads an empty form value as "not given" (so the default) and a
    repeated one as its last value; for a program's request both are more
    likely mistakes, and the schema allows neither. The browser page is lenient.
    """
    words = ranges(settings)

    async def check(request: Request) -> None:
        form = await request.form()
        for name, allowed in words.items():
            values = form.getlist(name)
            if len(values) > 1:
                raise ApiError(
                    422,
                    f"{name} was sent {len(values)} times; send it once",
                    code="invalid_parameter",
                    field=name,
                )
            if values and values[0] == "":
                raise ApiError(
                    422,
                    f"{name} is empty; it must be {allowed} (leave the field out to use the default)",
                    code="invalid_parameter",
                    field=name,
                )

    return check


def build_api_router(settings: ServiceSettings) -> APIRouter:
    """The API routes, with field limits taken from ``settings``."""
    F = form_fields(settings)
    router = APIRouter(route_class=in_memory_route_class(settings.max_upload_bytes), tags=["segmentation"])
    strict = [Depends(strict_fields(settings))]
    errors = error_responses()
    header_docs = {
        name: {"description": text, "schema": {"type": "string"}} for name, text in FIGURE_HEADERS.items()
    }

    async def run(
        request: Request,
        job: Callable[..., RunResult],
        image: UploadFile,
        palette_file: UploadFile | None,
        params: RunParams,
    ) -> RunResult:
        data = await image.read()
        if palette_file is not None:
            params = replace(params, palette=await palette_file.read())
        result: RunResult = await run_in_pool(request, settings, job, data, params, settings.max_pixels)
        return result

    def labels_like(job: Callable[..., RunResult], filename: str) -> Callable[..., Any]:
        async def endpoint(
            request: Request,
            image: F.image,
            k: F.k = None,
            max_iter: F.max_iter = DEFAULT_MAX_ITER,
            color_space: F.color_space = "rgb",
            seed: F.seed = None,
            metrics: F.metrics = False,
            target_psnr: F.target_psnr = None,
            spatial_weight: F.spatial_weight = 0.0,
            fit_size: F.fit_size = DEFAULT_FIT_SIZE,
            min_region: F.min_region = 0,
            palette_file: F.palette_file = None,
        ) -> Response:
            params = RunParams(
                k, max_iter, color_space, seed, metrics=metrics, target_psnr=target_psnr,
                spatial_weight=spatial_weight, fit_size=fit_size, min_region=min_region,
            )  # fmt: skip
            result = await run(request, job, image, palette_file, params)
            headers = figure_headers(result)
            headers["Content-Disposition"] = f'inline; filename="{filename}"'
            return Response(result.data, media_type="image/png", headers=headers)

        return endpoint

    @router.post(
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
    )
    async def segment_image(
        request: Request,
        image: F.image,
        k: F.k = None,
        max_iter: F.max_iter = DEFAULT_MAX_ITER,
        color_space: F.color_space = "rgb",
        seed: F.seed = None,
        format: F.format = "png",
        metrics: F.metrics = False,
        target_psnr: F.target_psnr = None,
        spatial_weight: F.spatial_weight = 0.0,
        fit_size: F.fit_size = DEFAULT_FIT_SIZE,
        min_region: F.min_region = 0,
        dither: F.dither = False,
        palette_file: F.palette_file = None,
    ) -> Response:
        params = RunParams(
            k, max_iter, color_space, seed, format, metrics, target_psnr=target_psnr,
            spatial_weight=spatial_weight, fit_size=fit_size, min_region=min_region, dither=dither,
        )  # fmt: skip
        result = await run(request, job_image, image, palette_file, params)
        headers = figure_headers(result)
        headers["Content-Disposition"] = (
            f'inline; filename="segmented.{"jpg" if format == "jpeg" else format}"'
        )
        return Response(result.data, media_type=MEDIA_TYPES[format], headers=headers)

    @router.post(
        "/api/palette",
        dependencies=strict,
        summary="Segment an image; answer its palette and figures as JSON",
        response_model=PaletteBody,
        responses=errors,
    )
    async def segment_palette(
        request: Request,
        image: F.image,
        k: F.k = None,
        max_iter: F.max_iter = DEFAULT_MAX_ITER,
        color_space: F.color_space = "rgb",
        seed: F.seed = None,
        metrics: F.metrics = False,
        target_psnr: F.target_psnr = None,
        spatial_weight: F.spatial_weight = 0.0,
        fit_size: F.fit_size = DEFAULT_FIT_SIZE,
        min_region: F.min_region = 0,
        dither: F.dither = False,
        palette_file: F.palette_file = None,
    ) -> PaletteBody:
        params = RunParams(
            k, max_iter, color_space, seed, metrics=metrics, target_psnr=target_psnr,
            spatial_weight=spatial_weight, fit_size=fit_size, min_region=min_region, dither=dither,
        )  # fmt: skip
        result = await run(request, job_summary, image, palette_file, params)
        palette_rgb = result.palette_rgb
        return palette_body(result.summary, palette_rgb, result.server_seconds)

    router.post(
        "/api/labels",
        dependencies=strict,
        summary="Segment an image; answer its label map as a greyscale PNG",
        response_class=Response,
        responses={
            200: {
                "description": "A greyscale (mode L) PNG, same size as the image, whose pixel values are "
                "the cluster labels 0..k-1.",
                "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
                "headers": header_docs,
            },
            **errors,
        },
    )(labels_like(job_labels, "labels.png"))

    router.post(
        "/api/boundaries",
        dependencies=strict,
        summary="Segment an image; answer the image with the segment edges drawn on it",
        response_class=Response,
        responses={
            200: {
                "description": "An RGB PNG of the image's size: the decoded upload with the edges "
                "between segments painted red.",
                "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
                "headers": header_docs,
            },
            **errors,
        },
    )(labels_like(job_boundaries, "boundaries.png"))

    @router.get("/healthz", summary="Is the service up?", response_model=HealthBody, tags=["service"])
    async def healthz(request: Request) -> HealthBody:
        pool: WorkerPool = request.app.state.pool
        return HealthBody(
            version=__version__,
            pool_size=pool.workers,
            queue_size=pool.queue_size,
            in_progress=pool.admitted,
        )

    return router
