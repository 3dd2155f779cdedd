"""Argument checks for the segmentation features (spatial, regions, auto-K,
dithering, palette transfer)."""

from __future__ import annotations

import numbers

import numpy as np

from ._errors import InvalidParameterError
from ._validate import check_int

__all__ = ["check_color", "check_float", "check_k"]


def check_float(name: str, value: object, low: float, high: float) -> float:
    """``value`` as a finite float in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise InvalidParameterError(f"{name} must be a number between {low:g} and {high:g}, got {value!r}",
                                    param=name)
    value = float(value)
    if not low <= value <= high:
        raise InvalidParameterError(f"{name} must be between {low:g} and {high:g}, got {value:g}", param=name)
    return value


def check_k(k: object, max_k: int) -> int | str:
    """An int 1..max_k, or "auto"."""
    if isinstance(k, str):
        if k.strip().lower() == "auto":
            return "auto"
        try:
            k = int(k)
        except ValueError:
            raise InvalidParameterError(
                f"k must be a whole number between 1 and {max_k} or 'auto', got {k!r}", param="k") from None
    if k is None:
        raise InvalidParameterError(
            f"k must be a whole number between 1 and {max_k} or 'auto' (it may be omitted only with palette=)",
            param="k")
    return check_int("k", k, 1, max_k)


def check_color(name: str, value: object) -> tuple[int, int, int]:
    """An (r, g, b) triple of integers 0-255."""
    try:
        arr = np.asarray(value)
        ok = arr.shape == (3,) and np.issubdtype(arr.dtype, np.integer) and arr.min() >= 0 and arr.max() <= 255
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InvalidParameterError(f"{name} must be an (r, g, b) triple of integers 0-255, got {value!r}",
                                    param=name)
    return tuple(int(v) for v in arr)  # type: ignore[return-value]
