"""Every option of kmseg, declared once.

One :class:`Option` per parameter (name, type, default, range, choices,
unit, help, the faces that show it, and any named per-face override).
:func:`kmseg.segment`, the ``kmseg`` command's arguments, :mod:`kmseg.batch`,
the HTTP API's form model and the web app's widgets are built from this
table and checked against it by the tests, so a range or a default is
changed here and nowhere else.

This module imports neither NumPy nor Pillow: ``kmseg --help`` builds its
arguments from it and stays light.

Examples
--------
>>> from kmseg import options
>>> options.validate("k", "8")
8
>>> options.validate("k", 0)
Traceback (most recent call last):
...
kmseg.errors.InvalidParameterError: k must be between 1 and 256, or 'auto', got 0
>>> options.get("k").range_for("app", "k_slider")
Range(low=1, high=24, low_inclusive=True, high_inclusive=True)
>>> [o.name for o in options.for_face("api")][:3]
['k', 'max_iter', 'seed']
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kmseg.errors import InvalidParameterError
from kmseg.limits import DEFAULT_LIMITS

__all__ = [
    "FACES",
    "OPTIONS",
    "Option",
    "Override",
    "Range",
    "for_face",
    "get",
    "validate",
]

#: The faces an option can be shown on.
FACES: tuple[str, ...] = ("library", "cli", "batch", "api", "app")

#: Largest seed: fits the 32-bit seeds the API and the web app accept (and a
#: JavaScript number, which a browser widget holds exactly).
SEED_MAX = 2**32 - 1

_UNSET: Any = object()


@dataclass(frozen=True)
class Range:
    """The allowed span of a number; a bound of None is open."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the range."""
        if self.low is not None and (value < self.low or (value == self.low and not self.low_inclusive)):
            return False
        if self.high is not None and (value > self.high or (value == self.high and not self.high_inclusive)):
            return False
        return True

    def words(self) -> str:
        """``"between 1 and 256"``, ``"at least 0"``, ``"above 0"``, ...; "" when open."""
        low = None if self.low is None else _num(self.low)
        high = None if self.high is None else _num(self.high)
        if low is not None and high is not None:
            if self.low_inclusive and self.high_inclusive:
                return f"between {low} and {high}"
            return (f"{'at least' if self.low_inclusive else 'above'} {low} and "
                    f"{'at most' if self.high_inclusive else 'below'} {high}")
        if low is not None:
            return f"{'at least' if self.low_inclusive else 'above'} {low}"
        if high is not None:
            return f"{'at most' if self.high_inclusive else 'below'} {high}"
        return ""


@dataclass(frozen=True)
class Override:
    """A face that narrows an option's range or changes its default.

    Attributes
    ----------
    name : str
        The override's name, e.g. ``"k_slider"``: a face asks for it by name.
    face : str
        One of :data:`FACES`.
    reason : str
        Why the face departs from the table (required: no silent override).
    low, high : number, optional
        The narrower bounds (None keeps the table's).
    default : optional
        The face's default, when it differs.
    """

    name: str
    face: str
    reason: str
    low: float | None = None
    high: float | None = None
    default: Any = _UNSET

    @property
    def has_default(self) -> bool:
        return self.default is not _UNSET


@dataclass(frozen=True)
class Option:
    """One option of kmseg.

    Attributes
    ----------
    name : str
        The library's keyword (``spatial_weight``); other faces spell it
        their way (``--spatial-weight``) unless ``cli_flags`` or
        ``api_name`` says otherwise.
    type : type
        ``int``, ``float``, ``bool`` or ``str`` (``object`` for a palette
        source, checked where it is read).
    default : object
        The default on every face (None: not given, see ``help``).
    range : Range
        Allowed span of a number.
    choices : tuple of str
        Allowed values of a string option (lower case).
    words : tuple of str
        Extra values a number option takes (``"auto"`` for ``k``).
    aliases : tuple of (str, str)
        Other spellings of choices, accepted and mapped (``("jpg", "jpeg")``).
    nullable : bool
        Whether None is accepted (it means what ``help`` says: random seed,
        the library's choice, ...).
    unit : str
        ``"dB"``, ``"pixels"``, ... or "".
    help : str
        One sentence for the user, without the range or default (the faces
        add them).
    faces : frozenset of str
        The faces that show the option.
    overrides : tuple of Override
        Named per-face departures from the table.
    group : str
        ``"clustering"``, ``"features"``, ``"outputs"`` or ``"running"``.
    cli_flags : tuple of str
        The command line's flags; default ``--name-with-dashes``.
    api_name : str
        The HTTP form field's name; default ``name``.
    """

    name: str
    type: type
    default: Any
    help: str
    faces: frozenset[str]
    range: Range = field(default_factory=Range)
    choices: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()
    nullable: bool = False
    unit: str = ""
    overrides: tuple[Override, ...] = ()
    group: str = "clustering"
    cli_flags: tuple[str, ...] = ()
    api_name: str = ""

    @property
    def flags(self) -> tuple[str, ...]:
        """The command line's flags for this option."""
        return self.cli_flags or ("--" + self.name.replace("_", "-"),)

    @property
    def field_name(self) -> str:
        """The HTTP API's form field for this option."""
        return self.api_name or self.name

    def override(self, name: str) -> Override:
        """The override called ``name``; KeyError if there is none."""
        for o in self.overrides:
            if o.name == name:
                return o
        raise KeyError(f"{self.name} has no override {name!r}")

    def range_for(self, face: str, override: str | None = None) -> Range:
        """The range ``face`` uses: the table's, narrowed by ``override`` if named."""
        if face not in FACES:
            raise ValueError(f"face must be one of {', '.join(FACES)}, got {face!r}")
        if override is None:
            return self.range
        o = self.override(override)
        if o.face != face:
            raise KeyError(f"override {override!r} of {self.name} is for the {o.face} face, not {face}")
        return Range(self.range.low if o.low is None else o.low, self.range.high if o.high is None else o.high,
                     self.range.low_inclusive, self.range.high_inclusive)

    def override_for(self, face: str) -> Override | None:
        """The override of ``face`` that sets a default, if any."""
        return next((o for o in self.overrides if o.face == face and o.has_default), None)

    def default_for(self, face: str) -> Any:
        """The default ``face`` uses: the table's unless an override of that face sets one."""
        for o in self.overrides:
            if o.face == face and o.has_default:
                return o.default
        return self.default

    def describe(self) -> str:
        """The allowed values in words: ``"a whole number between 1 and 256, or 'auto'"``."""
        if self.choices:
            text = "one of " + ", ".join(self.choices)
        elif self.type is bool:
            text = "true or false"
        elif self.type in (int, float):
            kind = "a whole number" if self.type is int else "a number"
            bounds = self.range.words()
            text = f"{kind} {bounds}" if bounds else kind
            if self.unit and self.unit != "pixels":
                text += f" ({self.unit})"
        else:
            text = self.help
        if self.words:
            text += ", or " + ", ".join(repr(w) for w in self.words)
        return text

    def validate(self, value: Any, label: str | None = None) -> Any:
        """``value`` coerced to the option's type, or InvalidParameterError.

        Parameters
        ----------
        value : object
            A Python value or the text a user typed (``"8"``, ``"auto"``).
        label : str, optional
            How the message names the option (``"--n-init"``); default its name.
        """
        label = label or self.name
        if value is None:
            if self.nullable:
                return None
            raise InvalidParameterError(f"{label} must be {self.describe()}, got None", param=self.name)
        if self.words and isinstance(value, str) and value.strip().lower() in self.words:
            return value.strip().lower()
        if self.choices:
            text = value.strip().lower().lstrip(".") if isinstance(value, str) else None
            text = dict(self.aliases).get(text, text)  # type: ignore[arg-type]
            if text in self.choices:
                return text
            raise InvalidParameterError(f"{label} must be one of {', '.join(self.choices)}, got {value!r}",
                                        param=self.name)
        if self.type is bool:
            return _as_bool(self, label, value)
        if self.type is int:
            number: float = _as_int(self, label, value)
        elif self.type is float:
            number = _as_float(self, label, value)
        else:
            return value
        if not self.range.contains(number):
            got = number if isinstance(number, int) else f"{number:g}"
            words = "".join(f", or {w!r}" for w in self.words)
            raise InvalidParameterError(f"{label} must be {self.range.words()}{words}, got {got}", param=self.name)
        return number


def _num(value: float) -> str:
    """A bound or value as the user would type it: ``256``, ``0.5``, ``1e-4``."""
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}" if abs(value) >= 100_000 else str(int(value))
    return f"{value:g}"


def _bad(option: Option, label: str, value: Any) -> InvalidParameterError:
    return InvalidParameterError(f"{label} must be {option.describe()}, got {value!r}", param=option.name)


def _as_int(option: Option, label: str, value: Any) -> int:
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise _bad(option, label, value) from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _bad(option, label, value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if math.isfinite(float(value)) and float(value).is_integer():
        return int(value)
    raise _bad(option, label, value)


def _as_float(option: Option, label: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _bad(option, label, value) from None
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _bad(option, label, value)
    else:
        number = float(value)
    if not math.isfinite(number):
        raise _bad(option, label, value)
    return number


def _as_bool(option: Option, label: str, value: Any) -> bool:
    if type(value).__name__ in ("bool", "bool_"):  # Python's bool, or NumPy's without importing NumPy
        return bool(value)
    raise InvalidParameterError(f"{label} must be True or False, got {value!r}", param=option.name)


_SEGMENTING = frozenset(FACES)

OPTIONS: tuple[Option, ...] = (
    # ---------------------------------------------------------------- clustering
    Option(
        "k", int, None, "number of clusters (colours); 'auto' picks it: the elbow of the inertia curve "
        "over K = 1..16, or the smallest K reaching the target PSNR",
        _SEGMENTING, Range(1, DEFAULT_LIMITS.max_k), words=("auto",), nullable=True,
        overrides=(
            Override("k_form", "api", "a form needs a value to start from; the library has none "
                     "(K is the user's choice, or comes from a palette)", default=8),
            Override("k_start", "app", "the page shows a result at once, so it starts from a K", default=8),
            Override("k_slider", "app", "a slider over 256 steps cannot be set to one K; the number box "
                     "beside it takes any K up to 256", high=24),
        ),
        cli_flags=("-k", "--k")),
    Option("max_iter", int, 300, "most k-means (Lloyd) iterations", _SEGMENTING,
           Range(1, DEFAULT_LIMITS.max_iter),
           overrides=(Override("iter_slider", "app", "a slider's useful span; the number box beside it "
                               "takes any count up to the table's", high=500),),
           cli_flags=("-i", "--max-iter")),
    Option("tol", float, 1e-4, "convergence tolerance: stop when the centres move less than this "
           "(relative to the colours' variance)", frozenset(("library", "cli", "batch")), Range(0, None)),
    Option("n_init", int, None, "k-means++ restarts, the best is kept (default: the library's choice, "
           "16 for small K down to 4)", frozenset(("library", "cli", "batch")), Range(1, 1000), nullable=True),
    Option("seed", int, None, "random seed; the same seed gives the same output (default: a fresh "
           "seed, reported with the result)", _SEGMENTING, Range(0, SEED_MAX), nullable=True),
    Option("color_space", str, "rgb", "colour space the distances are measured in (lab: CIELAB, "
           "closer to human vision; oklab: OKLab, more even in hue and lightness)", _SEGMENTING,
           choices=("rgb", "lab", "oklab")),
    Option("max_pixels", int, None, f"refuse images larger than this many pixels (default "
           f"{DEFAULT_LIMITS.max_pixels:,})", frozenset(("library", "cli", "batch")), Range(1, None),
           nullable=True, unit="pixels", group="running"),
    # ---------------------------------------------------------------- features
    Option("spatial_weight", float, 0.0, "weight of pixel position beside colour: at 1, crossing the "
           "image's width counts as much as going from black to white (0: colour only); needs a "
           "whole-number k", _SEGMENTING, Range(0, 100), group="features"),
    Option("fit_size", int, 256, "with a spatial weight above 0: longest side of the downsampled copy "
           "the clusters are fitted on", _SEGMENTING, Range(16, 4096), unit="pixels", group="features",
           overrides=(Override("fit_size_given", "cli", "None means 'not given', so --fit-size without "
                               "--spatial-weight is reported; the library's default (256) applies",
                               default=None),)),
    Option("min_region", int, 0, "merge connected regions smaller than this many pixels into a "
           "neighbour (0: off; 1 only counts them)", _SEGMENTING, Range(0, DEFAULT_LIMITS.max_pixels),
           unit="pixels", group="features"),
    Option("target_psnr", float, None, "with automatic K: the smallest K whose result reaches this PSNR",
           _SEGMENTING, Range(1, 100), nullable=True, unit="dB", group="features"),
    Option("dither", bool, False, "Floyd-Steinberg dither the picture output (the label map is not "
           "dithered)", _SEGMENTING, group="features"),
    Option("palette", object, None, "map every pixel to the nearest colour of a palette file (.json, "
           ".gpl, .css, .txt) or of k colours fitted on another image", _SEGMENTING, nullable=True,
           group="features", cli_flags=("--palette-from",), api_name="palette_file"),
    Option("svg_tolerance", float, 1.0, "how far a simplified SVG edge may stray from the pixel edges "
           "(0: exact pixel edges); an argument of to_svg(), not of segment()", frozenset(("cli", "api")),
           Range(0, 10000), unit="pixels",
           overrides=(Override("svg_tolerance_given", "cli", "None means 'not given', so --svg-tolerance "
                               "without --svg is reported; to_svg's default (1) applies", default=None),),
           group="features"),
    Option("first_frame", bool, False, "segment only the first frame of an animated GIF, APNG or WebP "
           "(by default an animation written as gif, png or webp is segmented as a whole, with one "
           "palette for every frame)", frozenset(("cli", "batch", "api")), group="features"),
    Option("paint_dpi", int, 300, "resolution of a paint-by-number sheet written as PNG (given with a "
           "folder, the sheets are PNGs, else SVGs)", frozenset(("cli",)), Range(30, 1200), unit="dpi",
           overrides=(Override("paint_dpi_given", "cli", "None means 'not given', so --paint-dpi without "
                               "--paint-by-number is reported, and a folder of sheets stays SVG; the table's "
                               "default (300) applies to a .png file", default=None),),
           group="features"),
    # ---------------------------------------------------------------- outputs
    Option("format", str, None, "output image format (default: from the output name; PNG is written "
           "indexed; an animation is written as gif, APNG (png) or webp; svg: the segments as a drawing, "
           "one path per region)", frozenset(("cli", "batch", "api")),
           choices=("png", "jpeg", "webp", "gif", "svg"), aliases=(("jpg", "jpeg"),),
           nullable=True,
           group="outputs",
           overrides=(Override("format_form", "api", "the HTTP response has no file name to take the "
                               "format from", default="png"),)),
    Option("quality", int, None, "quality of jpeg and webp output (default 90)",
           frozenset(("cli", "batch")), Range(1, 100), nullable=True, group="outputs"),
    Option("palette_format", str, "json", "format of the palette files written into a folder",
           frozenset(("cli", "batch")), choices=("json", "gpl", "css", "txt", "ase"), group="outputs",
           overrides=(Override("palette_format_from_name", "cli", "None means 'not given': a --palette "
                               "file's format follows its extension, a folder gets the table's json",
                               default=None),)),
    Option("metrics", bool, False, "also compute PSNR and the CIEDE2000 colour difference to the "
           "original (about as costly as the clustering on large images)", frozenset(("api",)),
           group="outputs"),
    # ---------------------------------------------------------------- running
    Option("jobs", int, None, "images processed at once, each on one core (default: one per core)",
           frozenset(("cli", "batch")), Range(1, None), nullable=True, group="running",
           cli_flags=("-j", "--jobs")),
)

_BY_NAME = {o.name: o for o in OPTIONS}


def get(name: str) -> Option:
    """The option called ``name`` (KeyError naming the known ones otherwise)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no option {name!r}; the options are {', '.join(_BY_NAME)}") from None


def for_face(face: str) -> Iterator[Option]:
    """The options ``face`` shows, in table order."""
    if face not in FACES:
        raise ValueError(f"face must be one of {', '.join(FACES)}, got {face!r}")
    return (o for o in OPTIONS if face in o.faces)


def validate(name: str, value: Any, label: str | None = None) -> Any:
    """``value`` checked and coerced by the option ``name``.

    Parameters
    ----------
    name : str
        An option of :data:`OPTIONS`.
    value : object
        The value, or the text a user typed.
    label : str, optional
        How the message names the option (default ``name``).

    Returns
    -------
    object
        The value as the option's type (an ``int`` from ``"8"``), a word
        such as ``"auto"`` lower-cased, or None where None is allowed.

    Raises
    ------
    InvalidParameterError
        Naming the option first, the allowed values and the value given:
        ``k must be between 1 and 256, or 'auto', got 0``.
    """
    return get(name).validate(value, label)
