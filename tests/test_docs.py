"""The user guide builds with MkDocs in strict mode, and README.md's own links lead somewhere.

A broken link or anchor between the guide's pages fails the strict build; README.md is not part
of the build (it is the repository's front page), so its relative links are checked here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=project, capture_output=True, text=True, timeout=300)


def test_guide_builds_strictly(tmp_path: Path) -> None:
    r = build(ROOT, tmp_path / "site")
    assert r.returncode == 0, r.stderr
    for page in ("install", "library", "features", "cli", "webapp", "api", "algorithm", "performance",
                 "scaling", "limits", "hardening"):
        assert (tmp_path / "site" / page / "index.html").is_file(), page


def test_guide_pages_load_nothing_from_other_hosts(tmp_path: Path) -> None:
    assert build(ROOT, tmp_path / "site").returncode == 0
    outside = re.compile(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="(?:https?:)?//', re.I)
    offenders = [str(p.relative_to(tmp_path)) for p in (tmp_path / "site").rglob("*.html") if outside.search(p.read_text())]
    assert not offenders, offenders


def test_strict_build_fails_on_a_broken_link(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", project)
    shutil.copytree(ROOT / "docs", project / "docs")
    with open(project / "docs" / "limits.md", "a") as f:
        f.write("\nSee [the set-up](install.md#no-such-section) and [a page](no-such-page.md).\n")
    r = build(project, tmp_path / "site")
    assert r.returncode != 0
    assert "no-such-section" in r.stderr and "no-such-page.md" in r.stderr, r.stderr


def test_readme_links_lead_to_files_and_anchors() -> None:
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(((?!https?:|#)[^)\s]+)\)", readme)
    assert targets, "README.md links to no file"
    for target in targets:
        path, _, anchor = target.partition("#")
        assert (ROOT / path).exists(), f"README.md links to {path}, which does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", (ROOT / path).read_text(), flags=re.M)
            slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
            assert anchor in slugs, f"README.md links to {target}: no such heading in {path}"
