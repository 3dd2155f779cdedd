"""The examples of README.md and the user guide (docs/*.md) run, and print what the pages say.

Each page's ```python blocks run in order in one namespace (a later block may use what an
earlier one defined), in an empty temporary folder. A line ``print(...)  # text`` says what it
prints.

Each page's ```console transcripts run in order with bash in one temporary folder holding the
sample photos under the names the pages use (``photo.jpg`` and ``china.jpg`` are scikit-learn's
china.jpg, ``other.jpg`` and ``flower.jpg`` its flower.jpg), with this Python's ``bin`` first on
the PATH. Each ``$ command``'s output (stdout and stderr) must be the lines shown, except for
what changes from run to run: times ("0.09 s"), rates ("5.7 images/s"), and the seed a command
without ``--seed`` draws; a line "..." stands for any lines (abridged output).

A block right after ``<!-- example: not run (reason) -->`` is skipped: it needs something the
tests do not have, such as a running server or a Dask scheduler.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SAMPLES = {"photo.jpg": "china.jpg", "china.jpg": "china.jpg", "other.jpg": "flower.jpg", "flower.jpg": "flower.jpg"}


def blocks(text: str, language: str) -> list[tuple[int, str, str | None]]:
    """The page's blocks in one language: (line of the fence, body, why it is not run or None)."""
    fence = re.compile(r"(<!-- example: not run \((?P<why>[^)]*)\) -->\n)?```" + language + r"\n(?P<code>.*?)```", re.S)
    return [(text.count("\n", 0, m.start("code")), m.group("code"), m.group("why")) for m in fence.finditer(text)]


def python_blocks(text: str) -> list[tuple[int, str, str | None]]:
    return blocks(text, "python")


def expected_prints(code: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"print\(.*\)\s+# (.*)$", code, flags=re.M)]


PAGES_WITH_EXAMPLES = [p for p in PAGES if any(why is None for _, _, why in python_blocks(p.read_text()))]
PAGES_WITH_TRANSCRIPTS = [p for p in PAGES if any(why is None for _, _, why in blocks(p.read_text(), "console"))]


def test_the_pages_hold_examples():
    names = {p.name for p in PAGES_WITH_EXAMPLES}
    assert {"README.md", "library.md", "features.md"} <= names, names
    assert {"README.md", "cli.md"} <= {p.name for p in PAGES_WITH_TRANSCRIPTS}


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
        for language in ("python", "console"):
            for line, _, why in blocks(page.read_text(), language):
                assert why is None or why.strip(), f"{page.name}:{line}: a block not run needs a reason"


def commands(transcript: str) -> list[tuple[str, list[str]]]:
    """A console transcript's commands (``$ ...``, with ``\\`` continuation lines) and their output lines."""
    out: list[tuple[str, list[str]]] = []
    for line in transcript.rstrip("\n").split("\n"):
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out and out[-1][0].endswith("\\") and not out[-1][1]:
            out[-1] = (out[-1][0] + "\n" + line, [])
        else:
            assert out, f"a transcript starts with output: {line!r}"
            out[-1][1].append(line)
    return out


def normalised(lines: list[str], seeded: bool) -> list[str]:
    """Lines with the figures that change between runs replaced by placeholders."""
    result = []
    for line in lines:
        line = re.sub(r"\b\d+(\.\d+)? s\b", "<seconds> s", line)
        line = re.sub(r"\b\d+(\.\d+)? images/s\b", "<rate> images/s", line)
        if not seeded:
            line = re.sub(r"\bseed \d+", "seed <drawn>", line)
        result.append("..." if line.strip() == "..." else line.rstrip())
    return result


def matches(expected: list[str], got: list[str]) -> bool:
    if not expected:
        return not got
    if expected[0] == "...":
        return any(matches(expected[1:], got[i:]) for i in range(len(got) + 1))
    return bool(got) and expected[0] == got[0] and matches(expected[1:], got[1:])


@pytest.mark.parametrize("page", PAGES_WITH_TRANSCRIPTS, ids=[p.relative_to(ROOT).as_posix() for p in PAGES_WITH_TRANSCRIPTS])
def test_page_console_transcripts(page: Path, tmp_path: Path) -> None:
    images = importlib.resources.files("sklearn.datasets.images")
    for name, sample in SAMPLES.items():
        shutil.copy(images / sample, tmp_path / name)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    separator = "@@ next command @@"
    for line, transcript, why in blocks(page.read_text(), "console"):
        if why is not None:
            continue
        steps = commands(transcript)
        # one bash for the block, so that `echo $?` sees the previous command's status
        script = "".join(f"status=$?; echo '{separator}'; (exit $status); {cmd} 2>&1\n" for cmd, _ in steps)
        run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        outputs = run.stdout.split(separator + "\n")[1:]
        assert len(outputs) == len(steps), run.stdout + run.stderr
        for (cmd, expected), printed in zip(steps, outputs):
            seeded = "--seed" in cmd
            got = normalised(printed.rstrip("\n").split("\n"), seeded) if printed.strip() else []
            want = normalised(expected, seeded)
            assert matches(want, got), (f"{page.relative_to(ROOT)}, block at line {line}: $ {cmd}\n"
                                        "expected:\n" + "\n".join(want) + "\nprinted:\n" + "\n".join(got))
