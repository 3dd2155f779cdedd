"""The examples in the public docstrings run and print what they show."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import kmseg

# Faces need their extras and the deprecated shims warn on import; neither holds examples.
SKIP = ("kmseg.app", "kmseg.api", "kmseg.manifest", "kmseg.storage", "kmseg.__main__")


def _modules() -> list[str]:
    names = ["kmseg"]
    for info in pkgutil.walk_packages(kmseg.__path__, "kmseg."):
        if not info.name.startswith(SKIP):
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed (see the output above)"


def test_there_are_examples_to_run() -> None:
    finder = doctest.DocTestFinder()
    total = sum(len(t.examples) for name in _modules() for t in finder.find(importlib.import_module(name)))
    assert total >= 10, f"only {total} docstring examples found: the public functions should show their use"
