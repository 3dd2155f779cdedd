"""``pip-audit`` that also works where PyPI serves only project-level JSON.

pip-audit's default vulnerability service asks PyPI for the JSON of each
installed release (``/pypi/NAME/VERSION/json``). Some indexes and mirrors,
this project's CI machines among them, answer only the project-level JSON
(``/pypi/NAME/json``); pip-audit then skips every package as "not found".
The project-level JSON carries the known vulnerabilities of the project's
latest release, so this wrapper falls back to it when the installed release
*is* the latest one, and skips the package with a clear reason otherwise.
Everything else (arguments, output formats, exit codes) is pip-audit's.

Usage: ``python tools/pip_audit_here.py [pip-audit arguments]``
"""

from __future__ import annotations

import requests
from packaging.version import InvalidVersion, Version
from pip_audit import _cli
from pip_audit._service.interface import (
    Dependency,
    ResolvedDependency,
    ServiceError,
    SkippedDependency,
    VulnerabilityResult,
)
from pip_audit._service.pypi import PyPIService


class ProjectJsonFallback(PyPIService):
    """PyPI's per-release JSON when served, else the project JSON for the latest release."""

    def query(self, spec: Dependency) -> tuple[Dependency, list[VulnerabilityResult]]:
        dep, results = super().query(spec)
        if not (isinstance(dep, SkippedDependency) and "not found on PyPI" in dep.skip_reason):
            return dep, results
        assert isinstance(spec, ResolvedDependency)
        url = f"https://pypi.org/pypi/{spec.canonical_name}/json"
        response = self.session.get(url=url, timeout=self.timeout)
        if response.status_code == 404:
            return dep, []  # not on PyPI at all (a local package)
        try:
            response.raise_for_status()
        except requests.HTTPError as e:
            raise ServiceError(f"{url}: {e}") from e
        doc = response.json()
        latest = doc.get("info", {}).get("version")
        if latest is None or Version(latest) != spec.version:
            reason = (f"only the latest release can be audited through this index: {spec.canonical_name} "
                      f"{spec.version} is installed, the latest is {latest}")
            return SkippedDependency(name=spec.name, skip_reason=reason), []
        return spec, [_result(v) for v in doc.get("vulnerabilities") or [] if v.get("withdrawn") is None]


def _result(v: dict) -> VulnerabilityResult:
    """One entry of PyPI's ``vulnerabilities`` list, as pip-audit's PyPI service reads it."""
    try:
        fixes = sorted(Version(f) for f in v.get("fixed_in", []))
    except InvalidVersion as e:
        raise ServiceError(f"malformed version from PyPI: {v.get('fixed_in')}") from e
    description = (v.get("summary") or v.get("details") or "N/A").replace("\n", " ")
    return VulnerabilityResult.create(ids=[v["id"], *v.get("aliases", [])], description=description,
                                      fix_versions=fixes, published=None)


if __name__ == "__main__":
    _cli.PyPIService = ProjectJsonFallback  # type: ignore[misc]
    _cli.audit()
