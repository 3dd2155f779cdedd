"""The package's layering holds: import-linter's contracts (pyproject.toml)
are kept, the list of private modules they forbid to the faces is complete,
and a face importing a private module breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "kmseg"
FACES = ("cli", "api", "app", "batch")


def lint_imports(root: Path, src: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(src.parent)}
    return subprocess.run([str(exe), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def private_core_modules(src: Path) -> set[str]:
    names = set()
    for path in src.rglob("_*.py"):
        rel = path.relative_to(src.parent).with_suffix("")
        if path.name.startswith("__") or rel.parts[1] in FACES:
            continue
        names.add(".".join(rel.parts))
    return names


def test_the_contracts_are_kept() -> None:
    done = lint_imports(ROOT, SRC)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


def test_the_forbidden_list_names_every_private_core_module() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    forbidden = next(c for c in config if c["id"] == "faces-public")["forbidden_modules"]
    assert set(forbidden) == private_core_modules(SRC)


def test_a_face_importing_a_private_module_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(SRC, tmp_path / "src" / "kmseg", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    cli = tmp_path / "src" / "kmseg" / "cli.py"
    cli.write_text(cli.read_text() + "\nfrom kmseg.engine import _colorfit  # noqa\n")
    done = lint_imports(tmp_path, tmp_path / "src" / "kmseg")
    assert done.returncode != 0
    assert "kmseg.cli -> kmseg.engine._colorfit" in done.stdout


@pytest.mark.parametrize(("old", "new", "name"), [("kmseg.manifest", "kmseg.batch.manifest", "Manifest"),
                                                  ("kmseg.storage", "kmseg.batch.storage", "write_bytes")])
def test_moved_modules_keep_their_old_names_with_a_warning(old: str, new: str, name: str) -> None:
    import importlib

    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)
