"""The one form model of the upload endpoints, built from kmseg's option table.

Every option the table gives the ``api`` face becomes a field of
:func:`form_model` with the table's name, type, default, range and help (a
server's ``max_k`` / ``max_iter`` settings may narrow two ranges), plus the
``image`` upload and the API's own ``metrics`` switch. Unknown fields are
refused with 422 naming them (``k_=8`` is a typo, not something to ignore).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Request, UploadFile
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from kmseg import INPUT_FORMATS, InvalidParameterError, options
from kmseg.api._errors import ApiError
from kmseg.api._settings import ServiceSettings

__all__ = ["API_ONLY", "FORM_LIMITS", "form_model", "page_value", "ranges", "strict_fields"]

#: The parser's limits for our forms: two files (image, palette_file), about a dozen
#: text fields of numbers and short words (FastAPI's ``form_limits``; more is a 400).
FORM_LIMITS = {"max_files": 4, "max_fields": 64, "max_part_size": 64 * 1024}

#: Fields of the API that are not options of the segmentation (not in the table).
API_ONLY = {
    "metrics": "Also compute PSNR and the CIEDE2000 colour difference to the original (true/false). "
    "They cost about as much time as the clustering on large images.",
}


#: What the API adds to the table's help.
_API_NOTES = {
    "k": "Default 8; with palette_file it may be left out (a palette file gives the colours; "
    "an image gives k of them).",
    "format": "Of /api/segment; the other endpoints answer PNG. svg answers image/svg+xml.",
    "svg_tolerance": "With format=svg.",
    "first_frame": "Otherwise an animated upload is segmented as a whole when format is png (APNG), gif "
    "or webp: /api/segment answers an animation, /api/labels an animated greyscale PNG and "
    "/api/palette the palette of all frames; /api/boundaries draws on the first frame.",
}


def _range(option: options.Option, settings: ServiceSettings) -> options.Range:
    """The table's range; a server's max_k / max_iter settings may lower its top."""
    rng = option.range_for("api")
    cap = {"k": settings.max_k, "max_iter": settings.max_iter}.get(option.name)
    if cap is not None and rng.high is not None and cap < rng.high:
        return options.Range(rng.low, cap, rng.low_inclusive, rng.high_inclusive)
    return rng


def _describe(option: options.Option, settings: ServiceSettings) -> str:
    rng = _range(option, settings)
    if rng == option.range:
        return option.describe()
    kind = "a whole number" if option.type is int else "a number"
    words = f", or {', '.join(repr(w) for w in option.words)}" if option.words else ""
    return f"{kind} {rng.words()}{words}"


def ranges(settings: ServiceSettings) -> dict[str, str]:
    """The allowed values of each field, in words (used in 422 messages)."""
    out = {
        "image": f"an image file ({', '.join(INPUT_FORMATS)}) of at most {settings.max_upload_mb:.3g} MB "
        f"and {settings.max_pixels:,} pixels",
    }
    for option in options.for_face("api"):
        if option.type is object:
            out[option.field_name] = option.help
        else:
            out[option.field_name] = _describe(option, settings)
    out.update({name: "true or false" for name in API_ONLY})
    return out


def _spelling(option: options.Option) -> Any:
    aliases = dict(option.aliases)

    def lower(value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().lower()
            return aliases.get(text, text)
        return value

    return BeforeValidator(lower)


def _field(option: options.Option, settings: ServiceSettings) -> tuple[Any, Any]:
    """The (type, Field) of one option, from the table."""
    rng = _range(option, settings)
    default = option.default_for("api")
    help_ = option.help[0].upper() + option.help[1:] + "."
    if option.type is object:  # the palette source: a file
        return UploadFile | None, Field(default=None, description=help_ + " At most 256 colours; "
                                        "a palette file is told by its content, not its name.")
    if option.choices:
        kind: Any = Annotated[Literal[option.choices], _spelling(option)]  # type: ignore[valid-type]
    elif option.type is bool:
        kind = bool
    else:
        bounds = {"ge" if rng.low_inclusive else "gt": rng.low, "le" if rng.high_inclusive else "lt": rng.high}
        kind = Annotated[option.type, Field(**{k: v for k, v in bounds.items() if v is not None})]
    if option.words:
        kind = kind | Literal[option.words]  # type: ignore[valid-type]
    extra: dict[str, Any] = {}
    # Nullable where leaving the field out means something: no seed (a random one), no
    # target_psnr, and no k (the palette file's colours, else the API's default 8).
    if option.nullable and (default is None or option.words):
        kind = kind | None
        if default is not None:  # e.g. k: left out means 8, or the palette file's colours
            extra = {"json_schema_extra": {"default": default}}
            default = None
    unit = " (pixels)" if option.unit == "pixels" else ""
    note = f" {_API_NOTES[option.name]}" if option.name in _API_NOTES else ""
    description = f"{help_} Allowed: {_describe(option, settings)}{unit}.{note}"
    return kind, Field(default=default, description=description, **extra)


def form_model(settings: ServiceSettings) -> type[BaseModel]:
    """The form every upload endpoint takes (its limits follow ``settings``)."""
    fields: dict[str, Any] = {
        "image": (
            UploadFile,
            Field(description=f"The image: {ranges(settings)['image']}. The format is detected from the "
                  "bytes, not the name; SVG, EPS, PDF and other formats are refused with 415."),
        ),
    }
    for option in options.for_face("api"):
        fields[option.field_name] = _field(option, settings)
    for name, text in API_ONLY.items():
        fields[name] = (bool, Field(default=False, description=text))
    return create_model(  # type: ignore[call-overload,no-any-return]
        "SegmentForm", __config__=ConfigDict(extra="forbid"), **fields
    )


def strict_fields(settings: ServiceSettings) -> Any:
    """A dependency refusing what form parsing would quietly accept: empty or repeated fields.

    FastAPI reads an empty form value as "not given" (so the default) and a
    repeated one as its last value; for a program's request both are more
    likely mistakes, and the schema allows neither. The browser page is lenient.
    """
    words = ranges(settings)

    async def check(request: Request) -> None:
        form = await request.form()
        for name, allowed in words.items():
            values = form.getlist(name)
            if len(values) > 1:
                raise ApiError(422, f"{name} was sent {len(values)} times; send it once",
                               code="invalid_parameter", field=name)
            if values and values[0] == "":
                raise ApiError(422, f"{name} is empty; it must be {allowed} (leave the field out to use "
                               "the default)", code="invalid_parameter", field=name)

    return check


def page_value(settings: ServiceSettings, name: str, text: str | None) -> Any:
    """A field of the browser form, checked by the table: empty means the API's default.

    Raises
    ------
    InvalidParameterError
        Naming the field and its allowed values.
    """
    option = options.get(name)
    text = (text or "").strip()
    if not text:
        return option.default_for("api")
    value = option.validate(text)
    rng = _range(option, settings)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not rng.contains(value):
        raise InvalidParameterError(f"{name} must be {rng.words()}, got {value}", param=name)
    return value
