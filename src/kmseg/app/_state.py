"""Settings and small bits of state logic for the web app (no Streamlit import).

The app reads its limits from environment variables, which
:func:`kmseg.app.run_app` sets from its arguments:

``KMSEG_MAX_UPLOAD_MB``
    Largest upload in megabytes (decimal fractions allowed).
``KMSEG_MAX_PIXELS``
    Largest image in pixels (width x height), checked from the header before
    the image is decoded.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

from kmseg import DEFAULT_LIMITS, InvalidParameterError, KmsegError, options
from kmseg.errors import printable

__all__ = [
    "ENV_MAX_PIXELS",
    "ENV_MAX_UPLOAD_MB",
    "OPTION_LABELS",
    "WIDGETS",
    "AppSettings",
    "digest",
    "download_name",
    "failure_message",
    "format_bytes",
    "format_pixels",
    "option_conflict",
    "shown_name",
    "settings_from_env",
    "sync_pair",
    "widget_defaults",
    "widget_range",
]

ENV_MAX_UPLOAD_MB = "KMSEG_MAX_UPLOAD_MB"
ENV_MAX_PIXELS = "KMSEG_MAX_PIXELS"
MB = 1024 * 1024


@dataclass(frozen=True)
class AppSettings:
    """Limits and display sizes of one running app.

    Attributes
    ----------
    max_upload_bytes : int
        Uploads larger than this are refused with a message.
    max_pixels : int
        Images with more pixels are refused (checked from the header).
    preview_side : int
        Longest side, in pixels, of the images shown in the page; downloads
        are always full size.
    curve_pixels : int
        The inertia-against-K chart clusters a copy of the image scaled down
        to at most this many pixels.
    """

    max_upload_bytes: int = DEFAULT_LIMITS.max_upload_bytes
    max_pixels: int = DEFAULT_LIMITS.max_pixels
    preview_side: int = 1000
    curve_pixels: int = 30_000

    @property
    def max_upload_mb(self) -> int:
        """The upload limit rounded up to whole megabytes (Streamlit's unit)."""
        return max(1, math.ceil(self.max_upload_bytes / MB))

    def limits_text(self) -> str:
        """One line telling the user the limits and how to change them."""
        return (
            f"Limits: files up to {format_bytes(self.max_upload_bytes)}, images up to "
            f"{format_pixels(self.max_pixels)}. Change them with `kmseg app` options or "
            f"the environment variables `{ENV_MAX_UPLOAD_MB}` and `{ENV_MAX_PIXELS}`."
        )


def _positive(raw: str, kind: type) -> float | int | None:
    try:
        value = kind(raw.strip().replace("_", ""))
    except ValueError:
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    return value


def settings_from_env(environ: Mapping[str, str]) -> tuple[AppSettings, list[str]]:
    """Build :class:`AppSettings` from environment variables.

    Parameters
    ----------
    environ : mapping
        Usually ``os.environ``.

    Returns
    -------
    settings : AppSettings
    problems : list of str
        One message per variable that was set but unusable (its default is
        used instead), for the app to show.
    """
    problems: list[str] = []
    kwargs: dict[str, int] = {}
    raw = environ.get(ENV_MAX_UPLOAD_MB)
    if raw:
        mb = _positive(raw, float)
        if mb is None:
            problems.append(f"{ENV_MAX_UPLOAD_MB}={raw!r} is not a positive number; using the default.")
        else:
            kwargs["max_upload_bytes"] = max(1, int(mb * MB))
    raw = environ.get(ENV_MAX_PIXELS)
    if raw:
        px = _positive(raw, int)
        if px is None:
            problems.append(f"{ENV_MAX_PIXELS}={raw!r} is not a positive whole number; using the default.")
        else:
            kwargs["max_pixels"] = int(px)
    return AppSettings(**kwargs), problems


def format_bytes(n: int) -> str:
    """``26214400`` -> ``"25 MB"``; sizes below 1 MB in KB, always binary units."""
    if n >= MB:
        return f"{n / MB:.3g} MB"
    if n >= 1024:
        return f"{n / 1024:.3g} KB"
    return f"{n} bytes"


def format_pixels(n: int) -> str:
    """``50_000_000`` -> ``"50 MP (50,000,000 pixels)"``."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.3g} MP ({n:,} pixels)"
    return f"{n:,} pixels"


def digest(data: bytes) -> str:
    """A short, stable key for the content of an upload (SHA-256 prefix)."""
    return hashlib.sha256(data).hexdigest()[:20]


def download_name(source_name: str, tag: str, ext: str) -> str:
    """File name for a download: ``"photo.jpg"`` -> ``"photo-k8.png"``.

    The stem is reduced to letters, digits, ``-``, ``_`` and ``.`` so the
    name is safe on every file system.
    """
    stem = source_name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "image"
    return f"{stem}-{tag}.{ext.lstrip('.')}"


_MARKDOWN = re.compile(r"([\\`*_\[\]<>$~|#])")


def shown_name(name: str) -> str:
    """A file name as markdown text: control characters escaped (a name may
    hold a newline), markdown punctuation backslashed (no links or bold)."""
    return _MARKDOWN.sub(r"\\\1", printable(name))


#: The page's words for the options a message may name (the widgets' labels).
OPTION_LABELS = {
    "k": "Clusters (K)",
    "max_iter": "Max iterations",
    "color_space": "Colour space",
    "seed": "Seed",
    "target_psnr": "Target PSNR",
    "spatial_weight": "Spatial weight",
    "fit_size": "Fit size",
    "min_region": "Min region size",
    "dither": "Dither",
    "palette": "Palette transfer",
}


def option_conflict(auto_k: bool, spatial_weight: float, palette: bool) -> str | None:
    """What the page says when its settings cannot go together, or None.

    The library refuses these too, in its own words (``spatial_weight above
    0 needs a whole-number k``); the page says it with its widgets' names,
    before any image is clustered, and not as the image's fault.
    """
    if spatial_weight > 0 and auto_k:
        return ("**Automatic K** cannot be combined with **Spatial weight**: turn off Automatic K and "
                "choose a number of clusters, or set Spatial weight to 0.")
    if spatial_weight > 0 and palette:
        return ("**Palette transfer** cannot be combined with **Spatial weight**: the palette gives the "
                "colours without positions. Set Spatial weight to 0, or remove the palette.")
    return None


def failure_message(source_name: str, exc: BaseException) -> str:
    """The markdown the page shows when an upload cannot be used.

    kmseg's own errors already say what is wrong and what to change; one
    about a setting is headed by the setting's name, not the image's.
    Anything else is named by its type, never shown as a traceback.
    """
    param = getattr(exc, "param", None)
    if isinstance(exc, InvalidParameterError) and param in OPTION_LABELS:
        return f"**{OPTION_LABELS[param]}**: {exc}"
    if isinstance(exc, KmsegError):
        return f"**{shown_name(source_name)}**: {exc}"
    return f"**{shown_name(source_name)}** could not be processed ({type(exc).__name__}: {exc})."


def sync_pair(state: MutableMapping[str, int], src: str, dst: str, dst_max: int | None = None) -> None:
    """Copy the value of widget ``src`` into widget ``dst`` (a callback body).

    Used to keep a slider (usual range) and a number box (full range) for
    the same parameter in step. ``dst_max`` clamps the copied value to the
    range of ``dst``.
    """
    value = int(state[src])
    if dst_max is not None:
        value = min(value, dst_max)
    state[dst] = value


#: The page's widgets that show an option of :mod:`kmseg.options`: widget
#: key -> (option name, the table's override the widget follows, or None).
WIDGETS: dict[str, tuple[str, str | None]] = {
    "k_slider": ("k", "k_slider"),
    "k": ("k", None),
    "iter_slider": ("max_iter", "iter_slider"),
    "max_iter": ("max_iter", None),
    "color_space": ("color_space", None),
    "seed": ("seed", None),
    "target_psnr": ("target_psnr", None),
    "spatial_weight": ("spatial_weight", None),
    "fit_size": ("fit_size", None),
    "min_region": ("min_region", None),
    "dither": ("dither", None),
}


def widget_range(key: str) -> dict[str, int | float]:
    """``min_value`` and ``max_value`` of the widget ``key``, from the option
    table (narrowed only by the override the widget names)."""
    name, override = WIDGETS[key]
    option = options.get(name)
    rng = option.range_for("app", override)
    cast = float if option.type is float else int
    return {"min_value": cast(rng.low), "max_value": cast(rng.high)}


def widget_defaults() -> dict[str, object]:
    """The first value of every option widget: the table's default for the app
    (K starts at 8 by the table's named override; the seed is empty, that is
    random, until the user fixes one). A slider paired with a number box
    starts at the box's value, clamped to its own range."""
    out: dict[str, object] = {}
    for key, (name, override) in WIDGETS.items():
        value = options.get(name).default_for("app")
        if override is not None:
            value = min(value, widget_range(key)["max_value"])
        out[key] = value
    return out
