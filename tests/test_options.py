"""The option table itself (kmseg.options)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from option_checks import Seen, disagreements
from PIL import Image

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
    ("k", 0, "k must be between 1 and 256, or 'auto', got 0"),
    ("k", 257, "k must be between 1 and 256, or 'auto', got 257"),
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
    ("color_space", "hsv", "color_space must be one of rgb, lab, oklab, got 'hsv'"),
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


# ---------------------------------------------------------------- the command line


def _segment_parser() -> Any:
    import argparse

    from kmseg.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def _cli_actions(command: str) -> dict[str, Any]:
    parser = _segment_parser()[command]
    return {flag: action for action in parser._actions for flag in action.option_strings}


def _accepts(action: Any, text: str) -> bool:
    import argparse

    try:
        value = action.type(text)
    except argparse.ArgumentTypeError:
        return False
    return action.choices is None or value in action.choices


def _step(option: options.Option) -> float:
    return 1 if option.type is int else 1e-9 * max(1.0, abs(option.range.high or 1.0))


def cli_seen(command: str = "segment") -> dict[str, Seen]:
    """What the parser of ``kmseg COMMAND`` offers for every table option it has:
    its default, its choices, and its bounds found by trying values."""
    actions = _cli_actions(command)
    seen: dict[str, Seen] = {}
    for option in options.OPTIONS:
        action = actions.get(option.flags[-1])
        if action is None:
            continue
        s = Seen(default=action.default)
        if option.choices:
            s.choices = [c for c in action.choices if _accepts(action, c)]
        elif option.type in (int, float):
            rng, step = option.range, _step(option)
            # The bound holds where the value is taken and the next one is refused.
            for attr, bound, beyond in (("low", rng.low, -step), ("high", rng.high, step)):
                if bound is None:
                    far = -10**12 if beyond < 0 else 10**12
                    setattr(s, attr, far if _accepts(action, repr(far)) else "closed")
                elif _accepts(action, repr(bound)) and not _accepts(action, repr(bound + beyond)):
                    setattr(s, attr, bound)
                else:
                    setattr(s, attr, f"not at {bound}")
            if rng.low is None:
                s.low = None if s.low == -10**12 else s.low
            if rng.high is None:
                s.high = None if s.high == 10**12 else s.high
        if option.words:
            assert all(_accepts(action, w) for w in option.words), option.name
        if option.override_for("cli") is not None:
            s.override = option.override_for("cli").name
        seen[option.name] = s
    return seen


def test_the_segment_command_matches_the_table() -> None:
    assert disagreements("cli", cli_seen("segment")) == []


@pytest.mark.parametrize("command", ["serve", "app"])
def test_the_server_commands_max_pixels_matches_the_table(command: str) -> None:
    seen = cli_seen(command)
    assert list(seen) == ["max_pixels"]
    assert [d for d in disagreements("cli", seen) if "was not found" not in d] == []


def test_the_cli_check_sees_a_face_that_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison can fail: a parser built with another range is caught."""
    import dataclasses

    wide = dataclasses.replace(options.get("n_init"), range=options.Range(1, None))
    monkeypatch.setitem(options._BY_NAME, "n_init", wide)
    seen = cli_seen("segment")
    monkeypatch.undo()
    assert disagreements("cli", seen) == ["cli: n_init: high is 'not at 1000', the table says 1000"]


def test_n_init_5000_is_a_usage_error_before_any_image_is_read(tmp_path: Path) -> None:
    from cli_helpers import no_traceback, run_kmseg, save_photo

    save_photo(tmp_path / "photo.jpg", 32, 24)
    r = run_kmseg("segment", "photo.jpg", "-k", "4", "--n-init", "5000", cwd=tmp_path)
    assert r.returncode == 2 and no_traceback(r.stderr)
    errors = [line for line in r.stderr.splitlines() if "error" in line]
    assert errors == ["kmseg segment: error: argument --n-init: must be between 1 and 1000, got 5000"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg"]


@pytest.mark.parametrize(("args", "option"), [
    (("--seed", "4294967296"), "--seed"), (("--quality", "0"), "--quality"), (("--jobs", "0"), "--jobs"),
    (("--max-pixels", "0"), "--max-pixels"), (("--format", "bmp"), "--format"),
])
def test_every_out_of_range_value_is_a_usage_error(tmp_path: Path, args: tuple[str, ...], option: str) -> None:
    from kmseg.cli import main

    assert main(["segment", str(tmp_path / "missing.jpg"), "-k", "4", *args]) == 2


# ---------------------------------------------------------------- batch


def test_batch_parameters_have_the_tables_defaults() -> None:
    import dataclasses
    import inspect

    from kmseg import batch

    fields = {f.name: f.default for f in dataclasses.fields(batch.SegmentParams)}
    signature = inspect.signature(batch.segment_many).parameters
    for option in options.for_face("batch"):
        if option.name in fields and option.name != "k":
            assert fields[option.name] == option.default_for("batch"), option.name
        assert option.name in signature, f"segment_many lacks {option.name}"
        if option.name != "k":
            assert signature[option.name].default == option.default_for("batch"), option.name


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"quality": 0}, "quality"), ({"quality": 101}, "quality"), ({"n_init": 5000}, "n_init"),
    ({"spatial_weight": 101}, "spatial_weight"), ({"min_region": -1}, "min_region"),
    ({"k": "auto", "target_psnr": 0.5}, "target_psnr"), ({"target_psnr": 30}, "target_psnr"),
    ({"dither": "yes"}, "dither"), ({"jobs": 0}, "jobs"), ({"palette_format": "pdf"}, "palette_format"),
    ({"spatial_weight": 1, "k": "auto"}, "spatial_weight"), ({"fit_size": 8}, "fit_size"),
])
def test_segment_many_refuses_bad_values_before_any_work(kwargs: dict[str, Any], param: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from kmseg import batch

    def no_work(*args: Any, **kw: Any) -> Any:
        raise AssertionError("images were looked for before the parameters were checked")

    monkeypatch.setattr("kmseg.batch._many.find_images", no_work)  # where segment_many looks it up
    with pytest.raises(kmseg.InvalidParameterError) as info:
        batch.segment_many([tmp_path], tmp_path / "out", **{"k": 3, **kwargs})
    assert info.value.param == param
    assert not (tmp_path / "out").exists()


def test_segment_many_takes_the_feature_options(tmp_path: Path) -> None:
    import json

    from cli_helpers import save_photo

    from kmseg import batch

    save_photo(tmp_path / "in" / "a.jpg", 48, 32)
    save_photo(tmp_path / "in" / "b.png", 40, 30, shift=2)
    runs = {
        "spatial": {"k": 4, "spatial_weight": 2.0, "fit_size": 32, "min_region": 20, "dither": True},
        "auto": {"k": "auto", "target_psnr": 25.0},
        "palette": {"k": None, "palette": [[0, 0, 0], [255, 255, 255], [200, 40, 40]]},
    }
    for name, kwargs in runs.items():
        results = batch.segment_many([tmp_path / "in"], tmp_path / name, seed=1, manifest=False, jobs=1,
                                     **kwargs)
        assert [r.status for r in results] == ["done", "done"], [r.reason for r in results]
        for r in results:
            with Image.open(r.outputs["image"]) as im:
                params = json.loads(im.text["kmseg-params"])
            if name == "spatial":
                assert params["spatial_weight"] == 2.0 and params["min_region"] == 20 and params["dither"]
                assert r.summary["regions"] <= r.summary["regions_before"]
            elif name == "auto":
                assert params["target_psnr"] == 25.0 and r.summary["psnr"] >= 25.0
            else:
                assert params["palette"] == runs["palette"]["palette"] and r.summary["k"] <= 3


# ---------------------------------------------------------------- the web app


def _started_app() -> Any:
    from streamlit.testing.v1 import AppTest

    from kmseg.app import SCRIPT

    at = AppTest.from_file(str(SCRIPT), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture()
def _app_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from kmseg.app._state import ENV_MAX_PIXELS, ENV_MAX_UPLOAD_MB

    monkeypatch.delenv(ENV_MAX_PIXELS, raising=False)
    monkeypatch.delenv(ENV_MAX_UPLOAD_MB, raising=False)


def app_seen(at: Any) -> dict[str, list[Seen]]:
    """What the app's widgets offer, read through AppTest, keyed by the
    option each widget declares it shows (kmseg.app._state.WIDGETS)."""
    from kmseg.app._state import WIDGETS

    kinds = ("number_input", "slider", "radio", "toggle")
    widgets = {w.key: w for kind in kinds for w in at.get(kind) if w.key in WIDGETS}
    numeric = {w.key for kind in ("number_input", "slider") for w in at.get(kind)}
    assert numeric <= set(WIDGETS), f"number widgets not tied to an option: {numeric - set(WIDGETS)}"
    seen: dict[str, list[Seen]] = {}
    for key, (name, override) in WIDGETS.items():
        w = widgets[key]
        s = Seen(default=w.value, override=override)
        if hasattr(w, "min") and hasattr(w, "max"):
            s.low, s.high = w.min, w.max
        if key == "color_space":
            assert len(w.options) == len(options.get(name).choices)
        seen.setdefault(name, []).append(s)
    if any(u.key == "palette_upload" for u in at.get("file_uploader")):
        seen["palette"] = [Seen()]  # a file: no range or default to compare
    return seen


@pytest.mark.usefixtures("_app_env")
def test_the_web_apps_widgets_match_the_table() -> None:
    assert disagreements("app", app_seen(_started_app())) == []


@pytest.mark.usefixtures("_app_env")
def test_the_app_starts_from_the_libraries_defaults_and_converges() -> None:
    at = _started_app()
    assert at.sidebar.number_input(key="max_iter").value == 300 == options.get("max_iter").default
    assert at.sidebar.number_input(key="seed").value is None  # random until the user fixes one
    assert next(m.value for m in at.metric if m.label == "Converged") == "yes"
    drawn = int(next(m.value for m in at.metric if m.label == "Seed"))
    again = _started_app()  # another session draws another seed
    assert int(next(m.value for m in again.metric if m.label == "Seed")) != drawn or drawn == 0


@pytest.mark.usefixtures("_app_env")
def test_which_k_names_the_k_that_automatic_k_chooses() -> None:
    import io
    import re

    import numpy as np

    from imagetools import sample_image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(sample_image("china.jpg")[::4, ::4])).save(buf, "PNG")
    at = _started_app()
    at.file_uploader(key="upload").upload("china.png", buf.getvalue(), "image/png").run()
    # Seed 0 on this image: the old chart (its own fits on a copy) said 5, k="auto" chooses 4.
    at.sidebar.number_input(key="seed").set_value(0).run()
    caption = next(c.value for c in at.sidebar.caption if "elbow" in c.value)
    elbow = int(re.search(r"elbow is at \*\*K = (\d+)", caption).group(1))
    assert elbow == kmseg.segment(buf.getvalue(), "auto", seed=0).k
    at.toggle(key="auto_k").set_value(True).run()
    assert next(m.value for m in at.metric if m.label == "Clusters") == str(elbow)
