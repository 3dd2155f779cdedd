"""Multipart parsing that keeps uploads in memory: nothing of a request touches the disk.

Starlette spools file parts to a temporary file on disk past 1 MB. Our routes
use :func:`in_memory_route_class`, whose requests parse multipart bodies with a
spool as large as the upload limit, so the file stays in memory (the body
limit middleware has already bounded its size).

The parser's own limits are tightened to what our forms can hold: at most
:data:`MAX_FILES` file parts, :data:`MAX_FIELDS` text fields and
:data:`MAX_PART_SIZE` bytes per text field, whatever FastAPI asks for; more is
answered 400 with the JSON error body, before any work is queued.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import aclosing
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser

__all__ = ["MAX_FIELDS", "MAX_FILES", "MAX_PART_SIZE", "in_memory_route_class"]

#: File parts a form may carry (our forms have two: image and palette_file).
MAX_FILES = 4
#: Text fields a form may carry (our forms have about a dozen).
MAX_FIELDS = 64
#: Bytes in one text field (numbers and short words; files go in file parts).
MAX_PART_SIZE = 64 * 1024


def in_memory_route_class(max_upload_bytes: int) -> type[APIRoute]:
    """An :class:`APIRoute` whose form parsing keeps files of up to ``max_upload_bytes`` in memory."""

    class InMemoryFormRequest(Request):
        async def _in_memory_form(
            self, max_files: int | float, max_fields: int | float, max_part_size: int
        ) -> FormData:
            async with aclosing(self.stream()) as stream:
                parser = MultiPartParser(
                    self.headers,
                    stream,
                    max_files=max_files,
                    max_fields=max_fields,
                    max_part_size=max_part_size,
                )
                # A spooled file larger than the body can ever be never rolls over to disk.
                parser.spool_max_size = max_upload_bytes + 1
                try:
                    form = await parser.parse()
                except MultiPartException as exc:
                    # An HTTPException: FastAPI turns any other error here into a bare 400.
                    raise HTTPException(
                        status_code=400, detail=f"the multipart body was refused: {exc.message}"
                    ) from None
            self._form = form
            return form

        def form(  # type: ignore[override]
            self,
            *,
            max_files: int | float = MAX_FILES,
            max_fields: int | float = MAX_FIELDS,
            max_part_size: int = MAX_PART_SIZE,
        ) -> Any:
            # Callers may ask for less than kmseg's limits, never for more.
            max_files, max_fields = min(max_files, MAX_FILES), min(max_fields, MAX_FIELDS)
            max_part_size = min(max_part_size, MAX_PART_SIZE)
            content_type = self.headers.get("content-type", "")
            if self._form is None and content_type.lower().startswith("multipart/form-data"):
                return self._in_memory_form(max_files, max_fields, max_part_size)
            return super().form(max_files=max_files, max_fields=max_fields, max_part_size=max_part_size)

    class InMemoryFormRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def in_memory_handler(request: Request) -> Response:
                return await handler(InMemoryFormRequest(request.scope, request.receive))

            return in_memory_handler

    return InMemoryFormRoute
