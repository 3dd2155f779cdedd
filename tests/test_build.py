"""The build: setuptools compiles the engine (C + Cython, setup.py) into one
extension module, shipped in a platform wheel; without a compiler the
install fails and says why. Builds run without network (the backend is in
the dev extra) on a copy of the sources, started with the test session
(tests/early.py): they take minutes of CPU, most of it idle otherwise."""

from __future__ import annotations

import importlib.machinery
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from early import Early

ROOT = Path(__file__).resolve().parents[1]


def needs_backend() -> None:
    for backend in ("setuptools", "Cython"):
        pytest.importorskip(backend)  # in the dev extra


def source_copy(tmp_path: Path) -> Path:
    """The files a build reads, copied (the build writes beside them)."""
    tree = tmp_path / "source"
    shutil.copytree(ROOT / "src", tree / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd", "*.egg-info", "_kernels.c"))
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    return tree


def wheel_build(**env: str) -> Early:
    """``pip wheel`` of a copy of the sources into FOLDER/wheels, with ``env`` added to the environment."""
    def prepare(folder: Path) -> tuple[list[str], dict]:
        cmd = [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
               "-w", str(folder / "wheels"), str(source_copy(folder))]
        return cmd, {"env": {**os.environ, **env}}
    return Early(prepare)


WHEEL = wheel_build()
NO_COMPILER = wheel_build(CC="kmseg-no-such-compiler", LDSHARED="kmseg-no-such-compiler -shared")


@pytest.mark.early(WHEEL)
def test_the_wheel_carries_the_engine_and_uses_it(tmp_path):
    needs_backend()
    done, folder = WHEEL.result(timeout=900)
    wheels = folder / "wheels"
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout + done.stderr
    assert "-ffp-contract=off" in log and "-fno-fast-math" in log  # gcc/clang: no FMA, no fast-math
    (wheel,) = wheels.glob("kmseg-*.whl")
    assert not wheel.name.endswith("-none-any.whl")  # a platform wheel: it holds compiled code
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert [n for n in names if n.startswith("kmseg/engine/_kernels.")] == [
        f"kmseg/engine/_kernels{importlib.machinery.EXTENSION_SUFFIXES[0]}"]
    assert "kmseg/app/example.jpg" in names and "kmseg/_version.py" in names  # package data, every module
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, timeout=600, capture_output=True)
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "import numpy as np, kmseg\n"
            "from kmseg.engine import _kernels\n"
            "img = np.random.default_rng(0).integers(0, 256, (60, 80, 3)).astype(np.uint8)\n"
            "s = kmseg.segment(img, 5, seed=0)\n"
            "print(_kernels.__file__.startswith(sys.argv[1]), kmseg.__file__.startswith(sys.argv[1]), s.k)\n")
    out = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, check=True,
                         timeout=600, env={"PATH": "/usr/bin:/bin"})
    assert out.stdout.split() == ["True", "True", "5"]


@pytest.mark.early(NO_COMPILER)
def test_without_a_compiler_the_build_fails_and_says_so():
    needs_backend()
    done, folder = NO_COMPILER.result(timeout=900)
    wheels = folder / "wheels"
    assert done.returncode != 0
    log = done.stdout + done.stderr
    assert "it needs a C compiler" in log and "kmseg-no-such-compiler" in log  # what is missing, and the command
    assert not wheels.exists() or not list(wheels.iterdir())  # no wheel without the engine


def test_make_reinstalls_when_any_engine_source_changes():
    """`make test` and `make run` rebuild the engine when one of its sources
    changes: the Makefile's BUILD_DEPS names every file setup.py compiles."""
    import ast
    tree = ast.parse((ROOT / "setup.py").read_text())
    parts = next(ast.literal_eval(node.value) for node in ast.walk(tree) if isinstance(node, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "PARTS" for t in node.targets))
    wanted = {f"src/kmseg/engine/{name}" for wrapper, c_name in parts
              for name in (f"{wrapper}.pyx", f"{c_name}.c", f"{c_name}.h")}
    assert len(wanted) >= 15
    database = subprocess.run(["make", "-pn", "-C", str(ROOT)], capture_output=True, text=True).stdout
    line = next(l for l in database.splitlines() if l.startswith("BUILD_DEPS :="))
    deps = set(line.split(":=", 1)[1].split())
    assert wanted <= deps, f"not in the Makefile's BUILD_DEPS: {sorted(wanted - deps)}"
