"""Argument checks for the segmentation features whose values are not single
options of :mod:`kmseg.options` (an RGB colour)."""

from __future__ import annotations

import numpy as np

from kmseg.errors import InvalidParameterError

__all__ = ["check_color"]


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
