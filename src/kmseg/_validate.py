"""Argument checks shared by the public entry points.

The options' ranges are declared once, in :mod:`kmseg.options`; the checks
here are for values whose bounds depend on the call (a cluster index, K up
to the number of points) and for turning a seed into a Generator.
"""

from __future__ import annotations

import numbers

import numpy as np

from kmseg import options
from kmseg.errors import InvalidParameterError

__all__ = ["as_generator", "check_int", "check_tol"]


def check_int(name: str, value: object, low: int, high: int | None) -> int:
    """Return ``value`` as an int in [low, high], or raise with a clear message."""
    bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InvalidParameterError(
                f"{name} must be a whole number {bounds}, got {value!r}", param=name
            )
    value = int(value)
    if value < low or (high is not None and value > high):
        raise InvalidParameterError(f"{name} must be {bounds}, got {value}", param=name)
    return value


def check_tol(tol: object) -> float:
    """Return ``tol`` as a finite float >= 0 (the ``tol`` option of the table)."""
    return float(options.validate("tol", tol))


def as_generator(seed: object) -> np.random.Generator:
    """A NumPy Generator from an int seed, a Generator, or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng(options.validate("seed", seed))
