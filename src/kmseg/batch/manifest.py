"""The batch manifest: one JSON line per input, next to the outputs.

``kmseg-manifest.jsonl`` in the output folder records what happened to every
input of a batch: status (``done``, ``skipped``, ``failed``), reason, K,
inertia, iterations, seconds and output paths. Only the parent process
writes it: a line is appended (and flushed) as soon as an image finishes, so
a run that is killed keeps what it did; at the end the file is rewritten
atomically with one line per input (the latest). A re-run reads it to skip
what is done and, unless asked to retry them, what failed.

Rows are keyed by the input and its planned output image, so running the
same inputs with another K (other output names) is a different row.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any

from kmseg.limits import env_limit

__all__ = ["MANIFEST_NAME", "Manifest", "manifest_row"]

#: File name of the manifest inside the output folder.
MANIFEST_NAME = "kmseg-manifest.jsonl"

_FIELDS = ("input", "output", "status", "reason", "failure", "k", "k_requested", "inertia", "iterations",
           "seconds", "outputs", "finished")


def manifest_row(result: Any, output: str | None) -> dict[str, Any]:
    """The manifest row of an :class:`kmseg.batch.ItemResult`.

    ``output`` is the planned output image of the input (part of the key).
    """
    s = result.summary or {}  # made by kmseg.summarize: JSON values only
    return {
        "input": result.source,
        "output": output,
        "status": result.status,
        "reason": result.reason,
        "failure": getattr(result, "failure", None),
        "k": s.get("k"),
        "k_requested": s.get("k_requested"),
        "inertia": s.get("inertia"),
        "iterations": s.get("n_iter"),
        "seconds": round(float(result.seconds), 4),
        "outputs": result.outputs,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


#: Longest manifest line read (``KMSEG_MAX_MANIFEST_LINE_BYTES``, default 1 MiB); a longer
#: one is not a row kmseg wrote (its rows take a few hundred bytes) and is ignored.
MAX_LINE_BYTES: int = env_limit("KMSEG_MAX_MANIFEST_LINE_BYTES", 1 << 20)


def _parse_line(line: bytes) -> dict[str, Any] | None:
    """The row a manifest line holds, or None for a line that is not one
    (any bytes: not UTF-8, not JSON, nested past reason, the wrong shape)."""
    if not line.strip() or len(line) > MAX_LINE_BYTES:
        return None
    try:
        row = json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    if not isinstance(row, dict) or not isinstance(row.get("input"), str):
        return None
    if not isinstance(row.get("output"), (str, type(None))):
        return None
    if not isinstance(row.get("outputs", {}), dict):
        row.pop("outputs")
    return row


class Manifest:
    """Read, append to and finally compact a ``kmseg-manifest.jsonl``.

    Parameters
    ----------
    path : path
        The manifest file; its folder is created when the first row is written.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)
        self.rows: dict[tuple[str, str | None], dict[str, Any]] = {}
        #: Numbers (from 1) of the lines that were not readable rows and were ignored.
        self.bad_lines: list[int] = []
        #: The first error writing the file (a full disk ...), or None.
        self.write_error: OSError | None = None
        self._file: Any = None
        self._load()

    @classmethod
    def in_folder(cls, folder: str | os.PathLike[str]) -> Manifest:
        """The manifest of the output folder ``folder`` (a path or an fsspec URL)."""
        return cls(os.path.join(os.fspath(folder), MANIFEST_NAME))

    def _load(self) -> None:
        from kmseg.batch import storage

        self._remote = storage.is_url(self.path)
        self._dirty = 0
        try:
            if self._remote:
                data = storage.read_bytes(self.path)
            else:
                with open(self.path, "rb") as f:
                    data = f.read()
        except FileNotFoundError:
            return
        for number, line in enumerate(data.splitlines(), 1):
            row = _parse_line(line)
            if row is None:
                if line.strip():  # a line cut short by a crash, or damaged: reported, then ignored
                    self.bad_lines.append(number)
                continue
            self.rows[(row["input"], row.get("output"))] = row

    def get(self, source: str, output: str | None) -> dict[str, Any] | None:
        """The latest row of ``source`` planned to write ``output``, or None."""
        return self.rows.get((source, output))

    def append(self, row: dict[str, Any]) -> None:
        """Record ``row`` at once (one appended, flushed line)."""
        self.rows[(row["input"], row.get("output"))] = row
        if self._remote:  # object stores cannot append: the whole file, now and then
            self._dirty += 1
            if self._dirty >= 50:
                try:
                    self._write_all()
                except OSError as exc:
                    self._failed(exc)
            return
        if self.write_error is not None:  # kept in memory; rewritten by close() if it can be
            self._dirty += 1
            return
        try:
            if self._file is None:
                os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
            self._file.write(json.dumps(row, separators=(",", ":")) + "\n")
            self._file.flush()
        except OSError as exc:
            self._failed(exc)
            self._dirty += 1

    def close(self) -> None:
        """Rewrite the file atomically with one row per input (the latest).

        A write that fails (a full disk ...) is recorded in :attr:`write_error`
        rather than raised: the manifest is a record of the run, and a run
        without it only tries its failures again next time.
        """
        if self._file is None and not self._dirty:
            return
        if self._file is not None:
            with contextlib.suppress(OSError):  # its lines are rewritten below anyway
                self._file.close()
            self._file = None
        try:
            self._write_all()
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        if self.write_error is None:
            self.write_error = exc
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _write_all(self) -> None:
        from kmseg.batch import storage

        data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in self.rows.values())
        storage.write_bytes(self.path, data.encode("utf-8"))
        self._dirty = 0

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
