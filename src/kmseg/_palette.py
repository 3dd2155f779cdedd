"""Palette files: JSON, GIMP .gpl, CSS custom properties, hex text, Adobe .ase."""

from __future__ import annotations

import json
import os
import struct

import numpy as np

from ._errors import InvalidParameterError

__all__ = ["PALETTE_FORMATS", "palette_bytes", "palette_format_from_path"]

#: Palette file formats kmseg writes, by extension.
PALETTE_FORMATS: tuple[str, ...] = ("json", "gpl", "css", "txt", "ase")


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
