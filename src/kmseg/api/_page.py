"""The browser face: GET / shows the upload form, POST / shows the result page."""

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse

from .. import KmsegError
from ._errors import ApiError, kmseg_error_to_api
from ._forms import in_memory_route_class
from ._html import error_page, form_page, result_page
from ._params import MIN_REGION_MAX, parse_page_fields, ranges
from ._routes import run_in_pool
from ._settings import ServiceSettings
from ._work import PageResult, RunParams, job_page

__all__ = ["build_page_router"]

OptionalText = Annotated[str | None, Form()]


def _min_region(settings: ServiceSettings, text: str | None) -> int:
    """The page's min_region field (empty: 0); 422 naming it when out of range."""
    text = (text or "").strip()
    if not text:
        return 0
    allowed = ranges(settings)["min_region"]
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MIN_REGION_MAX:
        raise ApiError(
            422, f"min_region must be {allowed}; got {text[:40]!r}", code="invalid_parameter", field="min_region"
        )
    return value


def build_page_router(settings: ServiceSettings) -> APIRouter:
    """The HTML routes (left out of the OpenAPI schema)."""
    router = APIRouter(route_class=in_memory_route_class(settings.max_upload_bytes), include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def show_form() -> HTMLResponse:
        return HTMLResponse(form_page(settings))

    @router.post("/", response_class=HTMLResponse)
    async def submit_form(
        request: Request,
        image: Annotated[UploadFile | None, File()] = None,
        k: OptionalText = None,
        max_iter: OptionalText = None,
        color_space: OptionalText = None,
        seed: OptionalText = None,
        min_region: OptionalText = None,
        dither: OptionalText = None,
    ) -> HTMLResponse:
        dither_on = (dither or "").strip().lower() in ("true", "on", "1", "yes")
        values: dict[str, Any] = {
            "k": k or "",
            "max_iter": max_iter or "",
            "seed": seed,
            "color_space": color_space,
            "min_region": min_region or "",
            "dither": dither_on,
        }
        try:
            k_value, iter_value, space, seed_value = parse_page_fields(
                settings, k=k, max_iter=max_iter, color_space=color_space, seed=seed
            )
            region_value = _min_region(settings, min_region)
            values = {
                "k": k_value,
                "max_iter": iter_value,
                "color_space": space,
                "seed": seed_value,
                "min_region": region_value,
                "dither": dither_on,
            }
            data = await image.read() if image is not None else b""
            if not data:
                raise ApiError(422, "choose an image file to upload", code="missing_image", field="image")
            params = RunParams(
                k_value, iter_value, space, seed_value, min_region=region_value, dither=dither_on
            )
            filename = (image.filename if image is not None else None) or "image"
            result: PageResult = await run_in_pool(
                request, settings, job_page, data, params, settings.max_pixels, filename
            )
        except KmsegError as exc:
            error = kmseg_error_to_api(exc)
            return HTMLResponse(error_page(error, settings, values), status_code=error.status)
        except ApiError as error:
            return HTMLResponse(
                error_page(error, settings, values), status_code=error.status, headers=error.headers
            )
        return HTMLResponse(result_page(settings, result, values))

    return router
