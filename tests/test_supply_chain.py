"""Supply chain: the libraries that parse untrusted input have security floors,
and ``pip-audit`` finds no known vulnerability in the installed set.

The audit is pip-audit with PyPI's vulnerability service, through
``tools/pip_audit_here.py``: where the index serves only project-level JSON
(CI's machines do), a package whose installed release is the latest one is
audited from that JSON, others are listed as skipped. Under ``CI=true`` an
unreachable service is a failure; elsewhere the audit test skips and says
why. ``KMSEG_AUDIT_TIMEOUT`` bounds it (default 300 s). The audit, mostly
waiting on the network, starts with the test session (tests/early.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib.metadata import version as installed_version
from pathlib import Path

import pytest
from early import Early
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI") == "true"

#: The latest security release of each parser of untrusted input, and what it fixed
#: (the guide's "Supply chain" section, docs/hardening.md, says the same for users).
SECURITY_RELEASES: dict[str, tuple[str, str]] = {
    "pillow": ("13.0.0", "12.3.0: GHSA-8v84-f9pq-wr9x, PYSEC-2026-2253..2257 (decompression bombs in font/"
                         "GD loaders); 12.1.1: CVE-2026-25990 (PSD out-of-bounds write); 13.0.0: fixes "
                         "recorded for 12.3.0 by distribution trackers, and Pillow patches only its latest "
                         "release"),
    "starlette": ("1.3.1", "GHSA-82w8-qh3p-5jfq / CVE-2026-54283 (request.form() limits ignored: DoS); "
                           "1.0.1: CVE-2026-48710; 0.47.2: CVE-2025-54121 (multipart rollover blocks the loop)"),
    "python-multipart": ("0.0.31", "GHSA-v9pg-7xvm-68hf (negative Content-Length buffers the whole body); "
                                   "0.0.30: CVE-2026-53537/53538/53539; 0.0.27: CVE-2026-42561 (unbounded "
                                   "part headers); 0.0.26: CVE-2026-40347; 0.0.18: CVE-2024-53981"),
    "h11": ("0.16.0", "CVE-2025-43859 (request smuggling through chunked-encoding trailers)"),
}


def _requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    out: dict[str, Requirement] = {}
    for text in reqs:
        req = Requirement(text)
        out.setdefault(req.name.lower(), req)
    return out


def _floor(req: Requirement) -> Version | None:
    floors = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=", ">")]
    return max(floors) if floors else None


@pytest.mark.parametrize("name", sorted(SECURITY_RELEASES))
def test_parser_floor_is_at_least_its_security_release(name: str) -> None:
    minimum, why = SECURITY_RELEASES[name]
    req = _requirements().get(name)
    assert req is not None, f"pyproject.toml does not list {name}"
    floor = _floor(req)
    assert floor is not None and floor >= Version(minimum), (
        f"pyproject.toml has {req}; it must be at least {name}>={minimum} ({why})")
    assert Version(installed_version(name)) in req.specifier, f"installed {name} does not satisfy {req}"


def test_docs_state_the_floors() -> None:
    page = (ROOT / "docs" / "hardening.md").read_text().replace(" ", "")
    missing = [f"{name}>={_floor(req)}" for name, req in _requirements().items()
               if name in SECURITY_RELEASES and f"{name}>={_floor(req)}" not in page]
    assert not missing, f"docs/hardening.md does not state the floors {missing}"


def _service_trouble(doc: dict | None, stderr: str) -> str | None:
    """Why the audit could not ask the vulnerability service, or None."""
    if doc is None:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        return lines[-1] if lines else "pip-audit printed no report"
    skipped = {d["name"].lower(): d.get("skip_reason", "") for d in doc.get("dependencies", []) if "skip_reason" in d}
    # Pillow is on PyPI: "not found" for it means the service did not answer properly.
    if "pillow" in skipped:
        return f"the PyPI vulnerability service did not answer: {skipped['pillow']}"
    return None


AUDIT = Early(lambda folder: ([sys.executable, str(ROOT / "tools" / "pip_audit_here.py"), "--local", "--skip-editable",
                                "--format", "json", "--progress-spinner", "off", "--timeout", "30"], {}))


@pytest.mark.early(AUDIT)
def test_pip_audit_finds_no_known_vulnerability(capsys: pytest.CaptureFixture[str]) -> None:
    timeout = float(os.environ.get("KMSEG_AUDIT_TIMEOUT", "300"))
    try:
        r, _ = AUDIT.result(timeout=timeout)
    except subprocess.TimeoutExpired:
        trouble: str | None = f"pip-audit did not finish within {timeout:.0f} s"
        doc = None
    else:
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            doc = None
        trouble = _service_trouble(doc, r.stderr)
        if "No module named pip_audit" in r.stderr:
            trouble = "pip-audit is not installed (pip install -e '.[dev]')"
    if trouble:
        if IN_CI:
            pytest.fail(f"dependency audit could not run under CI: {trouble}")
        with capsys.disabled():
            print(f"\nskipping the dependency audit: {trouble}")
        pytest.skip(f"dependency audit could not run (outside CI): {trouble}")
    assert doc is not None
    found = [f"{d['name']} {d['version']}: {v['id']} ({', '.join(v.get('aliases', []))}) "
             f"fixed in {', '.join(v.get('fix_versions', [])) or 'no release yet'}"
             for d in doc["dependencies"] for v in d.get("vulns", [])]
    audited = sum(1 for d in doc["dependencies"] if "skip_reason" not in d)
    skipped = [f"{d['name']}: {d['skip_reason']}" for d in doc["dependencies"] if "skip_reason" in d]
    with capsys.disabled():
        print(f"\npip-audit: {audited} packages audited, {len(skipped)} skipped, {len(found)} known vulnerabilities")
        for line in skipped:
            print(f"  skipped {line}")
    assert not found, "known vulnerabilities in the installed packages:\n" + "\n".join(found)
    assert audited > 0


def test_audit_report_classification() -> None:
    """The audit test tells "could not ask" from "asked, nothing found" (fake reports)."""
    answered = {"dependencies": [{"name": "pillow", "version": "13.0.0", "vulns": []},
                                 {"name": "kmseg", "skip_reason": "Dependency not found on PyPI"}]}
    unanswered = {"dependencies": [{"name": "Pillow", "skip_reason": "Dependency not found on PyPI and could "
                                                                     "not be audited: pillow (13.0.0)"}]}
    assert _service_trouble(answered, "") is None
    assert "did not answer" in (_service_trouble(unanswered, "") or "")
    assert "ConnectionError" in (_service_trouble(None, "Traceback ...\nrequests.ConnectionError: refused\n") or "")
