"""Build kmseg's compiled passes (src/kmseg/_ckernels.c) into a shared library.

Hatchling runs this at every build of the wheel, editable installs included.
The library is plain C loaded with ctypes (kmseg/_ckernels.py), so it needs a
C compiler but no Python headers. Without a compiler the build goes on with a
warning and kmseg uses Numba for the same passes (kmseg/_jit.py).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

LIBRARY = "libkmseg-kernels.so"  # kmseg._ckernels.LIBRARY
# No contraction into FMA: every sum rounds as the Numba twin's (kmseg/_kernels.py) does.
FLAGS = ["-O3", "-fPIC", "-shared", "-std=c99", "-fno-math-errno", "-fno-fast-math", "-ffp-contract=off"]


def compiler() -> str | None:
    """The C compiler: $CC, else cc, gcc or clang on the PATH."""
    if os.environ.get("CC"):
        return os.environ["CC"]
    return next((path for name in ("cc", "gcc", "clang") if (path := shutil.which(name))), None)


def build_library(source: Path, target: Path) -> str | None:
    """Compile ``source`` into ``target`` (atomically); the reason on failure, else None."""
    cc = compiler()
    if cc is None:
        return "no C compiler found (set CC, or install gcc)"
    tmp = None
    cmd = [*shlex.split(cc), *FLAGS]
    try:
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]  # kmseg._ckernels.source_digest
        fd, tmp = tempfile.mkstemp(prefix=".lib-", suffix=".so", dir=target.parent)
        os.close(fd)
        cmd += [f'-DKMSEG_SOURCE_DIGEST="{digest}"', "-o", tmp, str(source), "-lm"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return f"{shlex.join(cmd)} failed:\n{done.stderr.strip()}"
        os.replace(tmp, target)
        return None
    except OSError as exc:
        return f"{shlex.join(cmd)}: {exc}"
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


class CKernelsHook(BuildHookInterface):
    """Compile the library: beside the package's sources for an editable
    install (which imports from src/), else in a private folder from which
    it goes into the wheel."""

    _scratch: str | None = None

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        package = Path(self.root, "src", "kmseg")
        if version == "editable":
            target = package / LIBRARY
        else:
            self._scratch = tempfile.mkdtemp(prefix="kmseg-build-")
            target = Path(self._scratch, LIBRARY)
        failure = build_library(package / "_ckernels.c", target)
        if failure is not None:
            self.app.display_warning(f"kmseg: the C passes were not built, Numba will be used: {failure}")
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(target)] = f"kmseg/{LIBRARY}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
