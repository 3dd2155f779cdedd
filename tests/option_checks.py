"""Compare what a face shows with the option table (kmseg.options).

Each face's test reads what the face really offers (the CLI's argparse
actions, the web app's widgets through AppTest, the API's OpenAPI schema)
into a :class:`Seen` per option and calls :func:`disagreements`; an empty
list means the face matches the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kmseg import options

_NOT_SEEN: Any = object()


@dataclass
class Seen:
    """What a face offers for one option; a field left unset is not compared.

    ``override`` names the table's override the widget or field claims to
    follow (e.g. ``"k_slider"``); its range and default are then expected.
    """

    low: Any = _NOT_SEEN
    high: Any = _NOT_SEEN
    default: Any = _NOT_SEEN
    choices: Any = _NOT_SEEN
    override: str | None = None


def expected(face: str, name: str, override: str | None = None) -> tuple[options.Range, Any]:
    """The range and default the table gives ``name`` on ``face``."""
    option = options.get(name)
    rng = option.range_for(face, override)
    default = option.default_for(face)
    if override is not None and option.override(override).has_default:
        default = option.override(override).default
    return rng, default


def disagreements(face: str, seen: Mapping[str, Seen | list[Seen]]) -> list[str]:
    """One line per difference between ``seen`` and the table on ``face``.

    Also reports options of the face that were not seen at all.
    """
    out = []
    for option in options.for_face(face):
        if option.name not in seen:
            out.append(f"{face}: {option.name} is in the table for this face but was not found")
    for name, items in seen.items():
        try:
            option = options.get(name)
        except KeyError as exc:
            out.append(f"{face}: {exc}")
            continue
        if face not in option.faces:
            out.append(f"{face}: shows {name}, which the table does not give this face")
        for s in items if isinstance(items, list) else [items]:
            rng, default = expected(face, name, s.override)
            where = f"{face}: {name}" + (f" ({s.override})" if s.override else "")
            for what, got, want in (("low", s.low, rng.low), ("high", s.high, rng.high),
                                    ("default", s.default, default)):
                if got is not _NOT_SEEN and got != want:
                    out.append(f"{where}: {what} is {got!r}, the table says {want!r}")
            if s.choices is not _NOT_SEEN and set(s.choices) != set(option.choices):
                out.append(f"{where}: choices are {sorted(s.choices)}, the table says {sorted(option.choices)}")
    return out
