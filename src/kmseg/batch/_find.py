"""Find the images of a batch: files, folders (recursively) and glob patterns, paths or URLs."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass

import kmseg
from kmseg.batch import storage
from kmseg.batch._results import ItemResult

__all__ = ["InputFile", "find_images", "image_extensions", "not_regular_reason"]

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class InputFile:
    """An image file to segment and the sub-folder its outputs go to.

    ``subdir`` is the file's folder relative to the directory argument it was
    found in (``""`` for files named directly or matched by a pattern), so a
    recursive run mirrors the input tree in the output folder.
    """

    path: str
    subdir: str = ""


def image_extensions() -> frozenset[str]:
    """File extensions (lower case, with dot) of the formats kmseg opens."""
    from PIL import Image

    Image.init()
    wanted = set(kmseg.INPUT_FORMATS)
    return frozenset(ext.lower() for ext, fmt in Image.registered_extensions().items() if fmt in wanted)


def find_images(
    inputs: Iterable[str | os.PathLike[str]], *, recursive: bool = False
) -> tuple[list[InputFile], list[ItemResult]]:
    """Expand files, directories and glob patterns into image files.

    Files named directly or matched by a pattern are always tried, whatever
    their extension; inside a directory only files with an image extension
    are taken (hidden files are ignored), with sub-directories when
    ``recursive``.

    Returns
    -------
    files : list of InputFile
        In argument order, each path once.
    missing : list of ItemResult
        A failed result for every argument that matched nothing.
    """
    exts: frozenset[str] | None = None
    files: list[InputFile] = []
    missing: list[ItemResult] = []
    seen: set[str] = set()

    def add(path: str, subdir: str = "") -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            files.append(InputFile(path, subdir))

    for raw in inputs:
        arg = storage.localize(raw)
        if storage.is_url(arg):
            if exts is None:
                exts = image_extensions()
            kind, found = storage.listing(arg, exts, recursive)
            if not found:
                missing.append(ItemResult(arg, "failed", {
                    "dir": "no images in this directory", "glob": "pattern matches no files"}.get(
                        kind, "no such file or directory")))
            for url, subdir in found:
                if url not in seen:
                    seen.add(url)
                    files.append(InputFile(url, subdir))
        elif os.path.isdir(arg):
            if exts is None:
                exts = image_extensions()
            found, special = _scan_dir(arg, exts, recursive)
            missing += special
            if not found and not special:
                missing.append(ItemResult(arg, "failed", "no images in this directory"
                                          + ("" if recursive else " (use --recursive for sub-folders)")))
            for path, subdir in found:
                add(path, subdir)
        elif os.path.exists(arg) or os.path.islink(arg):
            reason = not_regular_reason(arg)
            if reason:
                missing.append(ItemResult(arg, "failed", reason, failure="input"))
            else:
                add(arg)
        elif _GLOB_CHARS & set(arg):
            matches = [m for m in sorted(glob.glob(arg, recursive=recursive)) if not os.path.isdir(m)]
            if not matches:
                missing.append(ItemResult(arg, "failed", "pattern matches no files"))
            for m in matches:
                reason = not_regular_reason(m)
                if reason:
                    missing.append(ItemResult(m, "failed", reason, failure="input"))
                else:
                    add(m)
        else:
            missing.append(ItemResult(arg, "failed", "no such file or directory"))
    return files, missing


def not_regular_reason(path: str) -> str | None:
    """Why ``path`` is not read (a named pipe, socket or device), or None.

    Only regular files are read: a named pipe would block the reader for
    ever, a device could be read without end. A path that cannot be looked
    at (a dangling link) is left for the reader to report.
    """
    from kmseg.io import special_file_kind

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    kind = special_file_kind(mode)
    return f"a {kind}, not a regular file; skipped" if kind else None


def _scan_dir(root: str, exts: frozenset[str], recursive: bool) -> tuple[list[tuple[str, str]], list[ItemResult]]:
    """Image files under ``root`` and a failed result for each special file with an image name."""
    found: list[tuple[str, str]] = []
    special: list[ItemResult] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        rel = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in exts:
                continue
            path = os.path.join(dirpath, name)
            reason = not_regular_reason(path)
            if reason:
                special.append(ItemResult(path, "failed", reason, failure="input"))
            else:
                found.append((path, "" if rel == "." else rel))
    return found, special
