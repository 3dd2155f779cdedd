"""The browser face: GET / shows the upload form, POST / the result page, /docs the API's fields."""

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse

from kmseg import KmsegError
from kmseg.api._errors import ApiError, kmseg_error_to_api
from kmseg.api._form import FORM_LIMITS, page_value
from kmseg.api._html import KEEP_MINUTES, docs_page, error_page, form_page, result_page
from kmseg.api._routes import run_in_pool
from kmseg.api._settings import ServiceSettings
from kmseg.api._uploads import UploadCache
from kmseg.api._work import PageResult, RunParams, job_page

__all__ = ["build_page_router"]

OptionalText = Annotated[str | None, Form()]


def build_page_router(settings: ServiceSettings) -> APIRouter:
    """The HTML routes (left out of the OpenAPI schema)."""
    router = APIRouter(include_in_schema=False, max_body_size=settings.max_upload_bytes, form_limits=FORM_LIMITS)
    # Recent uploads, so "try another K" needs no new upload: in memory, per server process.
    kept = UploadCache(max_entries=16, max_bytes=2 * settings.max_upload_bytes, seconds=KEEP_MINUTES * 60)

    @router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
    async def show_form() -> HTMLResponse:
        return HTMLResponse(form_page(settings))

    @router.api_route("/docs", methods=["GET", "HEAD"], response_class=HTMLResponse)
    async def show_docs(request: Request) -> HTMLResponse:
        return HTMLResponse(docs_page(request.app.openapi()))

    @router.post("/", response_class=HTMLResponse)
    async def submit_form(
        request: Request,
        image: Annotated[UploadFile | None, File()] = None,
        k: OptionalText = None,
        max_iter: OptionalText = None,
        color_space: OptionalText = None,
        seed: OptionalText = None,
        min_region: OptionalText = None,
        spatial_weight: OptionalText = None,
        dither: OptionalText = None,
        upload: OptionalText = None,
    ) -> HTMLResponse:
        dither_on = (dither or "").strip().lower() in ("true", "on", "1", "yes")
        given = {"k": k, "max_iter": max_iter, "color_space": color_space, "seed": seed, "min_region": min_region,
                 "spatial_weight": spatial_weight}
        values: dict[str, Any] = {**{name: text or "" for name, text in given.items()}, "dither": dither_on}
        upload_id: str | None = None
        try:
            data = await image.read() if image is not None else b""
            filename = (image.filename if image is not None else None) or "image"
            if data:
                upload_id = kept.put(data, filename)
            elif upload:
                earlier = kept.get(upload)
                if earlier is None:
                    raise ApiError(422, f"the image sent earlier is no longer kept (the page keeps one for "
                                   f"{KEEP_MINUTES} minutes); choose the file again", code="upload_expired",
                                   field="image")
                data, filename, upload_id = earlier.data, earlier.filename, upload
            if upload_id is not None:
                values.update(upload=upload_id, upload_name=filename)
            checked = {name: page_value(settings, name, text) for name, text in given.items()}
            values.update(checked)
            if not data:
                raise ApiError(422, "choose an image file to upload", code="missing_image", field="image")
            params = RunParams(
                checked["k"], checked["max_iter"], checked["color_space"], checked["seed"],
                min_region=checked["min_region"], spatial_weight=checked["spatial_weight"], dither=dither_on,
            )  # fmt: skip
            result: PageResult = await run_in_pool(
                request, settings, job_page, data, params, settings.max_pixels, filename
            )
        except (KmsegError, ApiError) as exc:
            error = kmseg_error_to_api(exc) if isinstance(exc, KmsegError) else exc
            if error.field == "image" and upload_id is not None:  # an unusable image is not kept
                kept.forget(upload_id)
                values.pop("upload", None)
            return HTMLResponse(
                error_page(error, settings, values), status_code=error.status, headers=error.headers
            )
        return HTMLResponse(result_page(settings, result, values))

    return router
