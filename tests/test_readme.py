"""The Python examples of README.md and the user guide (docs/*.md) run, and print what the pages say.

Each page's ```python blocks run in order in one namespace (a later block may use what an
earlier one defined), in an empty temporary folder. A line ``print(...)  # text`` says what it
prints. A block right after ``<!-- example: not run (reason) -->`` is skipped: it needs something
the tests do not have, such as a Dask scheduler.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- example: not run \((?P<why>[^)]*)\) -->\n)?```python\n(?P<code>.*?)```", re.S)


def python_blocks(text: str) -> list[tuple[int, str, str | None]]:
    """The page's Python blocks: (line of the fence, code, why it is not run or None)."""
    return [(text.count("\n", 0, m.start("code")), m.group("code"), m.group("why")) for m in BLOCK.finditer(text)]


def expected_prints(code: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"print\(.*\)\s+# (.*)$", code, flags=re.M)]


PAGES_WITH_EXAMPLES = [p for p in PAGES if any(why is None for _, _, why in python_blocks(p.read_text()))]


def test_the_pages_hold_examples():
    names = {p.name for p in PAGES_WITH_EXAMPLES}
    assert {"README.md", "library.md", "features.md"} <= names, names


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES_WITH_EXAMPLES])
def test_page_python_blocks(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for line, code, why in python_blocks(page.read_text()):
        if why is not None:
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            # padded with blank lines so that a traceback gives the line in the page
            exec(compile("\n" * line + code, str(page), "exec"), namespace)
        where = f"{page.relative_to(ROOT)}, block at line {line}"
        assert out.getvalue().splitlines() == expected_prints(code), where


def test_skipped_examples_say_why():
    for page in PAGES:
        for line, _, why in python_blocks(page.read_text()):
            assert why is None or why.strip(), f"{page.name}:{line}: a block not run needs a reason"
