"""Palette files: JSON, GIMP .gpl, CSS custom properties, hex text, Adobe .ase."""

from __future__ import annotations

import json
import os
import re
import struct

import numpy as np

from kmseg.errors import InvalidParameterError
from kmseg.limits import env_limit

__all__ = ["PALETTE_FORMATS", "READ_PALETTE_FORMATS", "palette_bytes", "palette_format_from_path", "parse_palette",
           "read_palette"]

#: Palette file formats kmseg writes, by extension.
PALETTE_FORMATS: tuple[str, ...] = ("json", "gpl", "css", "txt", "ase")
#: Palette file formats :func:`read_palette` reads, by extension.
READ_PALETTE_FORMATS: tuple[str, ...] = ("json", "gpl", "css", "txt")
_HEX = re.compile(r"#([0-9a-fA-F]{6})\b")
_MAX_COLOURS = 256


#: Largest palette file read, in bytes (environment: ``KMSEG_MAX_PALETTE_BYTES``).
MAX_PALETTE_BYTES: int = env_limit("KMSEG_MAX_PALETTE_BYTES", 1 << 20)
#: Deepest nesting of lists and objects in a JSON palette (``KMSEG_MAX_PALETTE_DEPTH``);
#: kmseg's own files nest 4 deep.
MAX_PALETTE_DEPTH: int = env_limit("KMSEG_MAX_PALETTE_DEPTH", 16)


def _hex(rgb: np.ndarray) -> list[str]:
    return ["#%02x%02x%02x" % tuple(int(v) for v in c) for c in rgb]


def palette_bytes(palette: np.ndarray, counts: np.ndarray, fmt: str, *, name: str = "kmseg") -> bytes:
    """Encode a palette as a file.

    Parameters
    ----------
    palette : (k, 3) uint8
        Colours, RGB.
    counts : (k,) int
        Pixels per colour; shares are counts over their sum.
    fmt : {"json", "gpl", "css", "txt", "ase"}
    name : str
        Palette name written where the format has one.

    Returns
    -------
    bytes
    """
    fmt = str(fmt).lower().lstrip(".")
    if fmt not in PALETTE_FORMATS:
        raise InvalidParameterError(
            f"palette format must be one of {', '.join(PALETTE_FORMATS)}, got {fmt!r}", param="palette"
        )
    palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    shares = counts / total if total else np.zeros(len(counts))
    hexes = _hex(palette)
    if fmt == "json":
        doc = {
            "name": name,
            "colors": [
                {"index": i, "hex": h, "rgb": [int(v) for v in c], "count": int(n), "share": float(s)}
                for i, (h, c, n, s) in enumerate(zip(hexes, palette, counts, shares))
            ],
        }
        return (json.dumps(doc, indent=2) + "\n").encode()
    if fmt == "gpl":
        lines = ["GIMP Palette", f"Name: {name}", "Columns: 8", "#"]
        lines += [
            f"{c[0]:3d} {c[1]:3d} {c[2]:3d}\t{h} ({s:.2%})" for c, h, s in zip(palette, hexes, shares)
        ]
        return ("\n".join(lines) + "\n").encode()
    if fmt == "css":
        lines = [":root {"] + [f"  --{name}-{i}: {h};" for i, h in enumerate(hexes)] + ["}"]
        return ("\n".join(lines) + "\n").encode()
    if fmt == "txt":
        return ("\n".join(hexes) + "\n").encode()
    return _ase(palette, hexes)


def _ase(palette: np.ndarray, hexes: list[str]) -> bytes:
    blocks = []
    for c, h in zip(palette, hexes):
        title = (h + "\0").encode("utf-16-be")
        body = struct.pack(">H", len(title) // 2) + title + b"RGB "
        body += struct.pack(">fff", *(float(v) / 255 for v in c)) + struct.pack(">H", 2)
        blocks.append(struct.pack(">HI", 0x0001, len(body)) + body)
    return b"ASEF" + struct.pack(">HHI", 1, 0, len(blocks)) + b"".join(blocks)


def palette_format_from_path(path: str | os.PathLike) -> str:
    """The palette format named by a file's extension.

    Raises
    ------
    InvalidParameterError
        If the extension is not one of :data:`PALETTE_FORMATS`.
    """
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if ext not in PALETTE_FORMATS:
        raise InvalidParameterError(
            f"palette file must end in one of .{', .'.join(PALETTE_FORMATS)}, got {os.fspath(path)!r}",
            param="palette",
        )
    return ext


def read_palette(path: str | os.PathLike, *, max_bytes: int | None = None,
                 max_depth: int | None = None) -> np.ndarray:
    """Read a palette file into an (n, 3) uint8 RGB array.

    Parameters
    ----------
    path : str or PathLike
        A ``.json`` file (kmseg's own: ``{"colors": [{"rgb": [r, g, b]}, ...]}``,
        or a plain list of ``[r, g, b]`` triples or ``"#rrggbb"`` strings), a
        GIMP ``.gpl`` palette, or ``.css`` / ``.txt`` files of ``#rrggbb`` colours.
    max_bytes : int, optional
        Largest file read (default :data:`MAX_PALETTE_BYTES`, 1 MiB).
    max_depth : int, optional
        Deepest nesting of a JSON file (default :data:`MAX_PALETTE_DEPTH`, 16).

    Returns
    -------
    (n, 3) uint8

    Raises
    ------
    InvalidParameterError
        Unknown extension, unreadable, malformed, too large or too deeply
        nested file, not a regular file, no colours, more than 256 colours,
        or values outside 0-255 (``param="palette"``).

    See Also
    --------
    parse_palette : the same for a palette's bytes (an upload), named as its user knows it.
    """
    from kmseg.io._image import read_regular_file

    max_bytes = MAX_PALETTE_BYTES if max_bytes is None else max_bytes
    name = os.fspath(path)
    fmt = _format_of(name)
    try:
        data = read_regular_file(name, max_bytes=max_bytes)
    except ValueError as exc:  # larger than max_bytes
        raise InvalidParameterError(
            f"cannot read palette file {name!r}: {exc} (KMSEG_MAX_PALETTE_BYTES raises the limit)",
            param="palette") from None
    except OSError as exc:
        raise InvalidParameterError(f"cannot read palette file {name!r}: {exc.strerror or exc}",
                                    param="palette") from None
    return parse_palette(data, name, fmt=fmt, max_bytes=max_bytes, max_depth=max_depth)


def _format_of(name: str) -> str:
    ext = os.path.splitext(name)[1].lower().lstrip(".")
    if ext not in READ_PALETTE_FORMATS:
        raise InvalidParameterError(
            f"palette file must end in one of .{', .'.join(READ_PALETTE_FORMATS)}, got {name!r}",
            param="palette",
        )
    return ext


def parse_palette(data: bytes, name: str, *, fmt: str | None = None, max_bytes: int | None = None,
                  max_depth: int | None = None) -> np.ndarray:
    """Read a palette from its bytes (an upload) into an (n, 3) uint8 RGB array.

    Parameters
    ----------
    data : bytes
        The file's content, in any of the formats :func:`read_palette` reads.
    name : str
        The name the user knows the file by (an upload's own name); messages
        say it, and its extension gives the format unless ``fmt`` does.
    fmt : {"json", "gpl", "css", "txt"}, optional
        The format, when the name does not tell it.
    max_bytes, max_depth : int, optional
        As for :func:`read_palette`.

    Returns
    -------
    (n, 3) uint8

    Raises
    ------
    InvalidParameterError
        As :func:`read_palette` (``param="palette"``), naming ``name``.

    Examples
    --------
    >>> parse_palette(b"#ff0000 #00ff00", "mine.txt").tolist()
    [[255, 0, 0], [0, 255, 0]]
    """
    max_bytes = MAX_PALETTE_BYTES if max_bytes is None else max_bytes
    max_depth = MAX_PALETTE_DEPTH if max_depth is None else max_depth
    if fmt is None:
        fmt = _format_of(name)
    elif fmt not in READ_PALETTE_FORMATS:
        raise InvalidParameterError(
            f"palette format must be one of {', '.join(READ_PALETTE_FORMATS)}, got {fmt!r}", param="palette")
    if len(data) > max_bytes:
        raise InvalidParameterError(
            f"palette file {name!r} is {len(data):,} bytes, more than {max_bytes:,} "
            "(KMSEG_MAX_PALETTE_BYTES raises the limit)", param="palette")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidParameterError(f"cannot read palette file {name!r}: it is not UTF-8 text ({exc})",
                                    param="palette") from None
    try:
        if fmt == "json":
            depth = _json_depth(text)
            if depth > max_depth:
                raise ValueError(f"lists and objects nested {depth} deep, more than {max_depth}")
            rows = _json_rows(json.loads(text))
        elif fmt == "gpl":
            rows = _gpl_rows(text)
        else:
            rows = [[int(h[i : i + 2], 16) for i in (0, 2, 4)] for h in _HEX.findall(text)]
        if len(rows) > _MAX_COLOURS:
            raise ValueError(f"{len(rows)} colours, more than {_MAX_COLOURS}")
        colors = np.array(rows, dtype=np.int64).reshape(-1, 3)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        raise InvalidParameterError(f"palette file {name!r} is malformed: {exc}", param="palette") from None
    return check_palette_array(colors, f"palette file {name!r}")


def _json_depth(text: str) -> int:
    """How deep lists and objects nest in the JSON ``text`` (brackets inside
    strings left out), counted in linear time without parsing: Python's
    parser recurses once per level."""
    b = np.frombuffer(text.encode("utf-8", "replace"), dtype=np.uint8)
    if not len(b):
        return 0
    index = np.arange(len(b))
    # A quote ends or starts a string unless an odd run of backslashes comes before it.
    last_plain = np.maximum.accumulate(np.where(b != ord("\\"), index, -1))
    quotes = np.flatnonzero(b == ord('"'))
    before = quotes - 1
    run = np.where(before >= 0, before - last_plain[np.maximum(before, 0)], 0)
    toggles = np.zeros(len(b), np.int64)
    toggles[quotes[run % 2 == 0]] = 1
    outside = np.cumsum(toggles) % 2 == 0
    steps = (np.isin(b, (ord("["), ord("{"))).astype(np.int64) - np.isin(b, (ord("]"), ord("}")))) * outside
    return int(np.cumsum(steps).max())


def _json_rows(doc: object) -> list:
    items = doc["colors"] if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise ValueError("expected a list of colours or an object with a 'colors' list")
    if len(items) > _MAX_COLOURS:
        raise ValueError(f"{len(items)} colours, more than {_MAX_COLOURS}")
    rows = []
    for item in items:
        if isinstance(item, dict):
            item = item["rgb"] if "rgb" in item else item["hex"]
        if isinstance(item, str):
            m = _HEX.fullmatch(item.strip()) or _HEX.fullmatch("#" + item.strip().lstrip("#"))
            if m is None:
                raise ValueError(f"not a #rrggbb colour: {item!r}")
            item = [int(m.group(1)[i : i + 2], 16) for i in (0, 2, 4)]
        if len(item) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in item):
            raise ValueError(f"not an [r, g, b] triple of integers: {item!r}")
        rows.append(item)
    return rows


def _gpl_rows(text: str) -> list:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "GIMP Palette":
        raise ValueError("a .gpl file starts with 'GIMP Palette'")
    rows = []
    for line in lines[1:]:
        line = line.strip()
        if not line or line.startswith("#") or ":" in line.split()[0]:
            continue
        rows.append([int(v) for v in line.split()[:3]])
    return rows


def check_palette_array(colors: object, what: str = "palette") -> np.ndarray:
    """``colors`` as an (n, 3) uint8 array with 1 <= n <= 256, or raise
    InvalidParameterError(param="palette")."""
    arr = np.asarray(colors)
    if arr.ndim != 2 or arr.shape[1] != 3 or not 1 <= arr.shape[0] <= 256:
        raise InvalidParameterError(
            f"{what} must hold 1 to 256 colours as an (n, 3) array, got shape {arr.shape}", param="palette"
        )
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InvalidParameterError(f"{what} must hold numbers 0-255, got dtype {arr.dtype}", param="palette")
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 255 or (arr != np.rint(arr)).any():
        raise InvalidParameterError(f"{what} values must be whole numbers 0-255", param="palette")
    return arr.astype(np.uint8)
