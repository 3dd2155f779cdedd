"""The clustering parameters a batch shares, checked once by the option table."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

import kmseg
from kmseg import options

__all__ = ["SEGMENT_OPTIONS", "SegmentParams", "palette_param", "validate_params"]


@dataclass(frozen=True)
class SegmentParams:
    """The clustering parameters of :func:`kmseg.segment`, shared by a batch.

    The defaults and ranges are those of :mod:`kmseg.options` (a test holds
    them equal); :func:`validate_params` checks them by the table.
    ``fit_size`` None means the table's default.
    """

    k: int | str | None
    max_iter: int = 300
    tol: float = 1e-4
    n_init: int | None = None
    seed: int | None = None
    color_space: str = "rgb"
    max_pixels: int | None = None
    spatial_weight: float = 0.0
    fit_size: int | None = 256
    min_region: int = 0
    target_psnr: float | None = None
    dither: bool = False
    palette: tuple[tuple[int, int, int], ...] | str | None = None
    """Palette transfer: colours (a tuple of RGB tuples) or the path of an image to fit them on."""
    first_frame: bool = False
    """Segment only the first frame of an animation written as gif, png or webp (not passed to segment)."""

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`kmseg.segment` (everything but ``k``)."""
        out = {name: getattr(self, name) for name in SEGMENT_OPTIONS[1:] if name not in ("fit_size", "palette", "first_frame")}
        if self.fit_size is not None:
            out["fit_size"] = self.fit_size
        if self.palette is not None:
            out["palette"] = [list(c) for c in self.palette] if isinstance(self.palette, tuple) else self.palette
        return out

    @property
    def name_k(self) -> int | str:
        """K as it appears in output names: the number, ``auto``, or the number of given colours."""
        if self.k is None:
            return len(self.palette) if isinstance(self.palette, tuple) else 0
        return self.k

    @property
    def mask_k(self) -> int:
        """The most clusters a run can give (sets the masks' names and the paths checked)."""
        if isinstance(self.k, int):
            return self.k
        if self.k is None:
            return max(len(self.palette), 1) if isinstance(self.palette, tuple) else 256
        return 16 if self.target_psnr is None else 256


#: The options of :func:`kmseg.segment` a batch takes (the fields of :class:`SegmentParams`).
SEGMENT_OPTIONS: tuple[str, ...] = tuple(f.name for f in fields(SegmentParams))


def validate_params(params: SegmentParams) -> SegmentParams:
    """Check the clustering parameters once, before any image is opened, by
    the option table (:mod:`kmseg.options`) and as :func:`kmseg.segment`
    checks them together.

    Raises
    ------
    kmseg.InvalidParameterError
        With ``.param`` naming the bad parameter.
    """
    checked = {name: options.validate(name, getattr(params, name))
               for name in SEGMENT_OPTIONS if name not in ("fit_size", "palette")}
    checked["fit_size"] = None if params.fit_size is None else options.validate("fit_size", params.fit_size)
    k, given = checked["k"], isinstance(params.palette, tuple)
    if k is None and not given:
        raise kmseg.InvalidParameterError(
            f"k must be {options.get('k').describe()} (it may be omitted only with a palette file)", param="k")
    if k == "auto" and params.palette is not None:
        raise kmseg.InvalidParameterError("k must be a whole number with a palette", param="k")
    if checked["target_psnr"] is not None and k != "auto":
        raise kmseg.InvalidParameterError("target_psnr is used only with k='auto'", param="target_psnr")
    if checked["spatial_weight"] > 0 and (k == "auto" or params.palette is not None):
        raise kmseg.InvalidParameterError(
            "spatial_weight above 0 needs a whole-number k (not 'auto', and not with palette)",
            param="spatial_weight")
    return replace(params, **checked)


def palette_param(palette: Any) -> tuple[tuple[int, int, int], ...] | str | None:
    """:class:`SegmentParams`' palette from what a caller gives: the colours
    of an array or a palette file (read once, here), or an image's absolute
    path (segmented in every worker)."""
    if palette is None:
        return None
    from kmseg import features  # NumPy: only when a palette is given

    if isinstance(palette, (str, os.PathLike)) and not features.is_palette_source(palette):
        return os.path.abspath(os.fspath(palette))
    colours = features.palette_colors(palette)
    return tuple(tuple(int(v) for v in c) for c in colours.tolist())
