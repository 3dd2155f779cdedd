"""A real browser (Debian's Chromium via Playwright) submits the upload form."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from apitools import photo_bytes, running_server

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        return f"no Chromium at {CHROMIUM}"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test cannot run under CI: {reason}")
        print(f"skipping the browser test: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("browser")) as srv:
        yield srv


def test_browser_submits_the_form_and_sees_the_result(browser, server, tmp_path):
    image = tmp_path / "china.jpg"
    image.write_bytes(photo_bytes())
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(server.url + "/")
    assert page.title() == "kmseg"
    page.set_input_files("input[name=image]", str(image))
    page.fill("input[name=k]", "6")
    page.fill("input[name=seed]", "4")
    page.select_option("select[name=color_space]", "lab")
    page.click("button[type=submit]")
    page.wait_for_selector("#segmented")
    assert "6 colours" in page.inner_text("h2")
    sizes = page.eval_on_selector_all(
        "img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])"
    )
    assert sizes == [[True, 640, 427], [True, 640, 427]]
    assert page.locator("#palette tbody tr").count() == 6
    assert page.locator("a[download]").count() >= 4
    # The browser's form keeps what was asked for.
    assert page.input_value("input[name=k]") == "6"
    assert page.input_value("select[name=color_space]") == "lab"
    page.screenshot(path=str(tmp_path / "result.png"), full_page=True)
    # A download link hands over the segmented PNG itself.
    with page.expect_download() as info:
        page.click("a[download$='-k6.png']")
    saved = tmp_path / "downloaded.png"
    info.value.save_as(saved)
    assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert errors == [], errors  # no CSP violation or other console error


def test_browser_sees_a_readable_error(browser, server, tmp_path):
    bogus = tmp_path / "drawing.svg"
    bogus.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
    page = browser.new_page()
    page.goto(server.url + "/")
    page.set_input_files("input[name=image]", str(bogus))
    page.click("button[type=submit]")
    page.wait_for_selector(".error")
    assert "SVG" in page.inner_text(".error")
