"""A real browser (Debian's Chromium via Playwright) submits the upload form.

Every page opens as if the machine had no internet: a request for any host
but 127.0.0.1 is refused and recorded, and ``test_no_page_asks_another_host``
fails if there was one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

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


@pytest.fixture(scope="module")
def outside() -> list[str]:
    """The module's requests for other hosts (each one refused)."""
    return []


@pytest.fixture()
def new_page(browser, outside):
    """``new_page(**context_options)``: a page of a fresh context that cannot leave this machine."""
    contexts = []

    def offline(route, request) -> None:  # noqa: ANN001
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about") or parts.hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(request.url)
            route.abort()

    def make(**options):
        context = browser.new_context(**options)
        context.route("**/*", offline)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def test_browser_submits_the_form_and_sees_the_result(new_page, server, tmp_path):
    image = tmp_path / "china.jpg"
    image.write_bytes(photo_bytes())
    page = new_page(viewport={"width": 1280, "height": 900})
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


def test_browser_sees_a_readable_error(new_page, server, tmp_path):
    bogus = tmp_path / "drawing.svg"
    bogus.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
    page = new_page()
    page.goto(server.url + "/")
    page.set_input_files("input[name=image]", str(bogus))
    page.click("button[type=submit]")
    page.wait_for_selector(".error")
    assert "SVG" in page.inner_text(".error")

    assert "Error 415" not in page.inner_text(".error")
    assert page.inner_text(".error strong") == "The image is in a format kmseg does not read"


def test_another_k_without_choosing_the_file_again(new_page, server, tmp_path):
    image = tmp_path / "china.jpg"
    image.write_bytes(photo_bytes())
    page = new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.url + "/")
    page.set_input_files("input[name=image]", str(image))
    page.fill("input[name=k]", "4")
    page.fill("input[name=seed]", "2")
    page.click("form.upload button[type=submit]")
    page.wait_for_selector("#segmented")
    assert "china.jpg" in page.inner_text("#kept")
    page.click("form.again button[value='6']")  # the result page's "try another K"
    page.wait_for_selector("#segmented")
    assert page.inner_text("h2") == "Result: 6 colours"
    assert page.locator("#palette tbody tr").count() == 6
    assert page.input_value("input[name=seed]") == "2"  # the other settings came along
    # The plain form works too: a new K, no file chosen.
    page.fill("input[name=k]", "3")
    page.click("form.upload button[type=submit]")
    page.wait_for_selector("#segmented")
    assert page.inner_text("h2") == "Result: 3 colours"
    assert page.locator("a[download='china-k3.png']").count() == 1
    page.click("form.again button[value='5']")
    page.wait_for_selector("#segmented")
    shot = tmp_path / "api-page.png"
    page.screenshot(path=str(shot), clip={"x": 0, "y": 0, "width": 1280, "height": 900})
    if os.environ.get("KMSEG_SCREENSHOTS") == "1":  # the picture of docs/api.md
        shutil.copyfile(shot, Path(__file__).resolve().parents[2] / "docs" / "images" / "api-page.png")


def test_no_page_asks_another_host(new_page, server, outside):
    """Issue 15, item 7: the upload page, its results and errors, and /docs work offline."""
    page = new_page()
    for path in ("/", "/docs", "/openapi.json"):
        page.goto(server.url + path)
        page.wait_for_load_state("networkidle")
    assert page.goto(server.url + "/docs").ok and page.locator("#endpoints").count() == 1
    assert outside == [], outside


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("token"), env={"KMSEG_TOKEN": "open sesame"}) as srv:
        yield srv


def test_a_browser_gives_the_token_when_asked(new_page, token_server, tmp_path):
    image = tmp_path / "china.jpg"
    image.write_bytes(photo_bytes())
    # The browser answers the page's Basic challenge with what its user typed.
    page = new_page(http_credentials={"username": "me", "password": "open sesame"})
    page.goto(token_server.url + "/")
    assert "needs a token" in page.inner_text("#token-hint")
    page.set_input_files("input[name=image]", str(image))
    page.fill("input[name=k]", "5")
    page.click("form.upload button[type=submit]")
    page.wait_for_selector("#segmented")
    assert page.inner_text("h2") == "Result: 5 colours"
    # Without the token: the challenge that makes a browser ask.
    page = new_page()
    page.goto(token_server.url + "/")
    page.set_input_files("input[name=image]", str(image))
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("form.upload button[type=submit]")
    refused = answer.value
    assert refused.status == 401 and refused.headers["www-authenticate"].startswith("Basic ")
    # (Chromium keeps the 401's body from the page while it asks; test_page.py checks the body.)
