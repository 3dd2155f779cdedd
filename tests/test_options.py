"""The option table itself (kmseg.options)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import kmseg
from kmseg import options


def test_every_override_is_named_for_a_known_face_and_says_why() -> None:
    for option in options.OPTIONS:
        assert option.faces <= set(options.FACES), option.name
        for o in option.overrides:
            assert o.face in option.faces and o.reason.strip() and o.name, (option.name, o)
            narrowed = option.range_for(o.face, o.name)
            for bound in (narrowed.low, narrowed.high):  # an override narrows, never widens
                assert bound is None or option.range.contains(bound), (option.name, o.name)


def test_names_are_unique_and_the_cli_flags_too() -> None:
    names = [o.name for o in options.OPTIONS]
    flags = [f for o in options.OPTIONS for f in o.flags]
    assert len(set(names)) == len(names) and len(set(flags)) == len(flags)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("k", 0, "k must be between 1 and 256, got 0"),
    ("k", 257, "k must be between 1 and 256, got 257"),
    ("k", "many", "k must be a whole number between 1 and 256, or 'auto', got 'many'"),
    ("k", 2.5, "k must be a whole number"),
    ("k", True, "k must be a whole number"),
    ("n_init", 5000, "n_init must be between 1 and 1000, got 5000"),
    ("tol", -1, "tol must be at least 0, got -1"),
    ("tol", float("nan"), "tol must be a number at least 0"),
    ("spatial_weight", 101, "spatial_weight must be between 0 and 100, got 101"),
    ("target_psnr", 0.5, "target_psnr must be between 1 and 100, got 0.5"),
    ("fit_size", 8, "fit_size must be between 16 and 4096, got 8"),
    ("quality", 0, "quality must be between 1 and 100, got 0"),
    ("seed", -1, "seed must be between 0 and"),
    ("color_space", "hsv", "color_space must be one of rgb, lab, got 'hsv'"),
    ("dither", "maybe", "dither must be True or False"),
])
def test_validate_names_the_option_first_with_the_range_and_the_value(name: str, value: object,
                                                                     message: str) -> None:
    with pytest.raises(kmseg.InvalidParameterError) as info:
        options.validate(name, value)
    assert str(info.value).startswith(message) and info.value.param == name


@pytest.mark.parametrize(("name", "value", "result"), [
    ("k", "8", 8), ("k", " AUTO ", "auto"), ("k", 256, 256), ("k", None, None), ("k", 3.0, 3),
    ("max_iter", 10_000, 10_000), ("tol", "0", 0.0), ("spatial_weight", "0.5", 0.5),
    ("seed", 2**32 - 1, 2**32 - 1), ("color_space", "LAB", "lab"), ("format", "jpg", "jpeg"),
    ("dither", True, True), ("dither", False, False), ("target_psnr", None, None),
])
def test_validate_coerces_typed_text_and_accepts_the_bounds(name: str, value: object, result: object) -> None:
    got = options.validate(name, value)
    assert got == result and type(got) is type(result)


def test_the_table_imports_neither_numpy_nor_pillow() -> None:
    code = "import sys, kmseg.options; print(sorted({'numpy', 'PIL'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- the library face


def test_segment_signature_defaults_are_the_tables() -> None:
    import inspect

    params = inspect.signature(kmseg.segment).parameters
    for option in options.for_face("library"):
        assert params[option.name].default == option.default_for("library"), option.name


def _outside(option: options.Option) -> list[object]:
    step = 1 if option.type is int else 0.5
    rng = option.range
    return [v for v in ((None if rng.low is None else rng.low - step),
                        (None if rng.high is None else rng.high + step)) if v is not None]


@pytest.mark.parametrize("name", [o.name for o in options.for_face("library") if o.type in (int, float)])
def test_segment_refuses_just_outside_the_tables_range(name: str) -> None:
    import numpy as np

    option = options.get(name)
    base = {"k": 3, "spatial_weight": 1.0} if name == "fit_size" else {"k": 3}
    if name == "target_psnr":
        base = {"k": "auto"}
    for value in _outside(option):
        with pytest.raises(kmseg.InvalidParameterError) as info:
            kmseg.segment(np.zeros((4, 4, 3), np.uint8), **{**base, name: value})
        assert info.value.param == name and str(info.value).startswith(f"{name} must be"), info.value


def test_segment_takes_the_tables_bounds() -> None:
    import numpy as np

    img = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    assert kmseg.segment(img, 256, max_iter=10_000, n_init=1000, seed=2**32 - 1).k == 16
    assert kmseg.segment(img, 1, max_iter=1, tol=0, seed=0, min_region=0).k == 1
    assert kmseg.segment(img, "auto", target_psnr=100, seed=0).k >= 1
    assert kmseg.segment(img, 2, spatial_weight=100, fit_size=4096, seed=0).spatial_weight == 100
