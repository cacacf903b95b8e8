"""Fixtures for browser tests: kb served by uvicorn in a thread, driven by a real Chromium.

pytest-playwright is not used: these fixtures start Playwright's sync API themselves. Playwright
runs its own event loop in the main thread, so the server runs in a separate thread with its own
loop (``uvicorn.Server.run`` creates one there).

Every test here is marked ``browser``. Without Chromium they are skipped, unless
``REQUIRE_BROWSER`` is set (as CI does), in which case they fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import serving

BROWSER_DIR = Path(__file__).resolve().parent
DEFAULT_TIMEOUT_MS = 10_000
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if BROWSER_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


# --- the server -------------------------------------------------------------------------------


@pytest.fixture
def live_server(app):
    """The test ``app`` (bound to the test engine) served on a free 127.0.0.1 port; yields its base URL."""
    with serving(app) as url:
        yield url


# --- the browser ------------------------------------------------------------------------------


def _browser_required() -> bool:
    return os.environ.get("REQUIRE_BROWSER", "") not in ("", "0")


@pytest.fixture(scope="session")
def browser():
    executable = shutil.which("chromium")
    if executable is None:
        if _browser_required():
            pytest.fail(
                "Chromium is required (REQUIRE_BROWSER=1) but was not found; install it with apt-get install -y chromium"
            )
        pytest.skip("Chromium not found on PATH (apt-get install -y chromium); set REQUIRE_BROWSER=1 to fail instead")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _is_error_document_status(message, error_documents: set[str]) -> bool:
    """Chromium logs 'Failed to load resource: ... status of 4xx' for non-2xx documents too.

    Pages that answer a form with 401/422 or refuse with 403 are normal here, so that message is
    ignored for such documents only; failed scripts, styles and images still count as errors
    (``on_response`` below reports them).
    """
    location = (message.location or {}).get("url", "")
    return location in error_documents and message.text.startswith(
        "Failed to load resource: the server responded with a status of"
    )


@pytest.fixture
def page(browser):
    """A fresh context and page per test. Fails the test if the page had JS errors or CSP violations."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    problems: list[str] = []
    error_documents: set[str] = set()
    console_errors = []

    def on_console(message):
        if message.type == "error":  # judged at the end, when every response has been seen
            console_errors.append(message)

    def on_page_error(error):
        problems.append(f"page error: {error}")

    def on_response(response):
        # Subresources (scripts, styles, images, fetches) must load; documents may be 4xx on purpose.
        if response.status >= 400 and response.request.resource_type == "document":
            error_documents.add(response.url)
        elif response.status >= 400:
            problems.append(f"{response.request.resource_type} {response.url} answered {response.status}")

    def on_request_failed(request):
        # ERR_ABORTED is a load cut short by the next navigation, not a fault of the page.
        if request.resource_type != "document" and "ERR_ABORTED" not in (request.failure or ""):
            problems.append(f"{request.resource_type} {request.url} failed: {request.failure}")

    pg = context.new_page()
    pg.on("console", on_console)
    pg.on("pageerror", on_page_error)
    pg.on("response", on_response)
    pg.on("requestfailed", on_request_failed)
    try:
        yield pg
    finally:
        context.close()
    for message in console_errors:
        if not _is_error_document_status(message, error_documents):
            location = message.location or {}
            problems.append(f"console error: {message.text} ({location.get('url', '?')}:{location.get('lineNumber', '?')})")
    assert not problems, "the page had errors:\n" + "\n".join(problems)


# --- helpers ----------------------------------------------------------------------------------


def login_as(page, base_url: str, email: str, password: str) -> None:
    """Sign in through the real login form and wait for the answer page to load.

    With a wrong password the browser stays on the login page, which then shows the error.
    """
    page.goto(f"{base_url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


@pytest.fixture(name="login_as")
def login_as_fixture():
    """``login_as(page, base_url, email, password)`` for tests, without importing a conftest."""
    return login_as
