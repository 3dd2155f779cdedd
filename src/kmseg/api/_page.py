"""The browser face: GET / shows the upload form, POST / shows the result page."""

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse

from .. import KmsegError
from ._errors import ApiError, kmseg_error_to_api
from ._forms import in_memory_route_class
from ._html import error_page, form_page, result_page
from ._params import parse_page_fields
from ._routes import run_in_pool
from ._settings import ServiceSettings
from ._work import PageResult, RunParams, job_page

__all__ = ["build_page_router"]

OptionalText = Annotated[str | None, Form()]


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
    ) -> HTMLResponse:
        values: dict[str, Any] = {
            "k": k or "",
            "max_iter": max_iter or "",
            "seed": seed,
            "color_space": color_space,
        }
        try:
            k_value, iter_value, space, seed_value = parse_page_fields(
                settings, k=k, max_iter=max_iter, color_space=color_space, seed=seed
            )
            values = {"k": k_value, "max_iter": iter_value, "color_space": space, "seed": seed_value}
            data = await image.read() if image is not None else b""
            if not data:
                raise ApiError(422, "choose an image file to upload", code="missing_image", field="image")
            params = RunParams(k_value, iter_value, space, seed_value)
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
