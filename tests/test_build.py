"""The build: the C passes compiled at install (hatch_build.py), shipped in
the wheel, and refused when stale or missing (kmseg then uses Numba)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "kmseg" / "_ckernels.c"


def hatch_build():
    pytest.importorskip("hatchling")  # in the dev extra; the hook runs inside pip's build otherwise
    spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_a_compiler_the_build_says_why_and_leaves_nothing(tmp_path, monkeypatch):
    build = hatch_build()
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    reason = build.build_library(SOURCE, tmp_path / "lib.so")
    assert reason is not None and "failed" in reason
    assert list(tmp_path.iterdir()) == []  # no half-written library
    monkeypatch.setenv("CC", "")
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to find
    assert "no C compiler" in build.build_library(SOURCE, tmp_path / "lib.so")


def test_a_library_built_from_another_source_is_refused(tmp_path):
    # An editable install whose _ckernels.c changed since the build must not run the old passes.
    build = hatch_build()
    from kmseg import _ckernels

    edited = tmp_path / "_ckernels.c"
    edited.write_bytes(SOURCE.read_bytes() + b"\n/* edited */\n")
    stale = tmp_path / "stale.so"
    assert build.build_library(edited, stale) is None
    with pytest.raises(ImportError, match="another _ckernels.c"):
        _ckernels._load(stale)
    fresh = tmp_path / "fresh.so"
    assert build.build_library(SOURCE, fresh) is None
    assert _ckernels._load(fresh).count_nonzero  # the same source: accepted
    other = tmp_path / "other.c"  # some other library: no digest, no passes
    other.write_text("int answer(void) { return 42; }\n")
    assert build.build_library(other, tmp_path / "other.so") is None
    with pytest.raises(ImportError, match="not usable"):
        _ckernels._load(tmp_path / "other.so")
    with pytest.raises(ImportError, match="not usable"):
        _ckernels._load(tmp_path / "missing.so")


def test_the_wheel_carries_the_library_and_uses_it(tmp_path):
    hatch_build()
    from kmseg import _ckernels  # noqa: F401  (skips nothing: the install built it, or this fails)

    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(ROOT)], check=True, timeout=600, capture_output=True)
    (wheel,) = wheels.glob("kmseg-*.whl")
    assert not wheel.name.endswith("-none-any.whl")  # a platform wheel: it holds compiled code
    with zipfile.ZipFile(wheel) as zf:
        assert "kmseg/libkmseg-kernels.so" in zf.namelist() and "kmseg/_ckernels.c" in zf.namelist()
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, timeout=600, capture_output=True)
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from kmseg import _jit\n"
            "m = _jit.compiled()\n"
            "print(m.__name__, m.__file__.startswith(sys.argv[1]))\n")
    out = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, check=True,
                         timeout=600, env={"PATH": "/usr/bin:/bin", "KMSEG_KERNELS": "c"})
    assert out.stdout.split() == ["kmseg._ckernels", "True"]
