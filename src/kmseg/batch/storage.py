"""Paths or fsspec URLs for batch inputs and outputs.

Plain paths and ``file://`` URLs are local files (``file://`` is turned into
the path, so everything local goes through the same code). Other URLs
(``s3://bucket/photos``, ``gcs://``, ``memory://`` ...) are read and written
through `fsspec <https://filesystem-spec.readthedocs.io>`_, imported only
when such a URL is given; the filesystem's own package (``s3fs`` ...) must be
installed. Writes to such a store are whole-object writes, which object
stores make visible all at once (never half-written).
"""

from __future__ import annotations

import os
import re
from typing import Any

__all__ = ["exists", "is_url", "listing", "localize", "read_bytes", "write_bytes"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def is_url(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a URL (``scheme://...``) other than ``file://``."""
    text = os.fspath(path)
    return bool(_URL.match(text)) and not text.lower().startswith("file://")


def localize(path: str | os.PathLike[str]) -> str:
    """``file://`` URLs as local paths; anything else unchanged."""
    text = os.fspath(path)
    if text.lower().startswith("file://"):
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            from kmseg import InvalidParameterError

            raise InvalidParameterError(f"{text!r}: a file:// URL names a file on this machine "
                                        "(file:///path), not on a host", param="path")
        return unquote(parts.path)
    return text


def _fs(url: str) -> tuple[Any, str]:
    import fsspec

    return fsspec.core.url_to_fs(url)


def exists(path: str) -> bool:
    """Whether the file ``path`` (a path or URL) exists."""
    if not is_url(path):
        return os.path.isfile(path)
    fs, p = _fs(path)
    return bool(fs.isfile(p))


def read_bytes(url: str) -> bytes:
    """The content of the file at ``url``."""
    fs, p = _fs(url)
    return fs.cat_file(p)


def write_bytes(path: str, data: bytes) -> str:
    """Write ``data`` to ``path`` all at once (atomic locally; one object write remotely)."""
    if not is_url(path):
        import kmseg

        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        return os.fspath(kmseg.atomic_write(path, data))
    fs, p = _fs(path)
    fs.pipe_file(p, data)
    return path


def listing(url: str, exts: frozenset[str] | None, recursive: bool) -> tuple[str, list[tuple[str, str]]]:
    """What a URL names: ``("file", [(url, "")])``, ``("dir", [(url, subdir), ...])``
    (image files by extension, hidden ones left out), ``("glob", [...])``
    (pattern matches) or ``("missing", [])``."""
    fs, p = _fs(url)
    full = fs.unstrip_protocol

    if fs.isdir(p):
        root = p.rstrip("/")
        found = fs.find(root) if recursive else [q for q in fs.ls(root, detail=False) if fs.isfile(q)]
        out = []
        for q in sorted(found):
            rel = q[len(root):].lstrip("/")
            parts = rel.split("/")
            if any(part.startswith(".") for part in parts):
                continue
            if exts is not None and os.path.splitext(q)[1].lower() not in exts:
                continue
            out.append((full(q), "/".join(parts[:-1])))
        return "dir", out
    if fs.isfile(p):
        return "file", [(url, "")]
    if set("*?[") & set(p):
        return "glob", [(full(q), "") for q in sorted(fs.glob(p)) if fs.isfile(q)]
    return "missing", []
