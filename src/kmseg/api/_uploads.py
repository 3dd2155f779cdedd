"""The upload page's recent images, kept in memory a short while so that trying
another K (or any other setting) does not mean choosing the file again."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["KeptUpload", "UploadCache"]


@dataclass(frozen=True)
class KeptUpload:
    """One kept image: its bytes and the name it was uploaded under."""

    data: bytes
    filename: str
    kept_at: float


class UploadCache:
    """Uploads by an unguessable id, the oldest forgotten first.

    Only whoever holds the id (the page it was sent in) can use an upload
    again. Nothing touches the disk; an upload is forgotten after
    ``seconds``, or sooner when more than ``max_entries`` uploads or
    ``max_bytes`` bytes are kept.

    Parameters
    ----------
    max_entries : int
    max_bytes : int
    seconds : float
    clock : callable, optional
        Monotonic seconds (for tests); default :func:`time.monotonic`.
    """

    def __init__(self, max_entries: int, max_bytes: int, seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.seconds = seconds
        self._clock = clock
        self._kept: OrderedDict[str, KeptUpload] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        self._expire()
        return len(self._kept)

    def put(self, data: bytes, filename: str) -> str | None:
        """Keep ``data``; its id, or None when it is larger than the whole cache."""
        if len(data) > self.max_bytes:
            return None
        upload_id = secrets.token_urlsafe(18)
        self._kept[upload_id] = KeptUpload(bytes(data), filename, self._clock())
        self._bytes += len(data)
        self._expire()
        while len(self._kept) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._kept)))
        return upload_id

    def get(self, upload_id: str) -> KeptUpload | None:
        """The upload kept under ``upload_id``, or None (never kept, or forgotten)."""
        self._expire()
        return self._kept.get(upload_id)

    def forget(self, upload_id: str) -> None:
        """Drop an upload (an image that turned out unusable)."""
        if upload_id in self._kept:
            self._drop(upload_id)

    def _expire(self) -> None:
        limit = self._clock() - self.seconds
        while self._kept and next(iter(self._kept.values())).kept_at < limit:
            self._drop(next(iter(self._kept)))

    def _drop(self, upload_id: str) -> None:
        self._bytes -= len(self._kept.pop(upload_id).data)
