"""Multipart parsing that keeps uploads in memory: nothing of a request touches the disk.

Starlette spools file parts to a temporary file on disk past 1 MB. Our routes
use :func:`in_memory_route_class`, whose requests parse multipart bodies with a
spool as large as the upload limit, so the file stays in memory (the body
limit middleware has already bounded its size).
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

__all__ = ["in_memory_route_class"]


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
                    raise HTTPException(status_code=400, detail=exc.message) from None
            self._form = form
            return form

        def form(  # type: ignore[override]
            self,
            *,
            max_files: int | float = 1000,
            max_fields: int | float = 1000,
            max_part_size: int = 1024 * 1024,
        ) -> Any:
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
