"""Argument checks shared by the public entry points."""

from __future__ import annotations

import numbers

import numpy as np

from ._errors import InvalidParameterError

__all__ = ["as_generator", "check_choice", "check_int", "check_tol"]


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
    """Return ``tol`` as a finite float >= 0."""
    try:
        value = float(tol)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidParameterError(f"tol must be a number >= 0, got {tol!r}", param="tol") from None
    if not np.isfinite(value) or value < 0:
        raise InvalidParameterError(f"tol must be a finite number >= 0, got {tol!r}", param="tol")
    return value


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """Return ``value`` lower-cased if it is one of ``choices``."""
    if isinstance(value, str) and value.lower() in choices:
        return value.lower()
    raise InvalidParameterError(
        f"{name} must be one of {', '.join(choices)}, got {value!r}", param=name
    )


def as_generator(seed: object) -> np.random.Generator:
    """A NumPy Generator from an int seed, a Generator, or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise InvalidParameterError(
            f"seed must be a whole number >= 0 or None, got {seed!r}", param="seed"
        )
    return np.random.default_rng(int(seed))
