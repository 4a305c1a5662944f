"""Browser fixtures of the web tests: a headless Chromium (Debian's, driven by Playwright) per
module that asks for one. Not per session: Playwright's sync API keeps an event loop running in
the main thread while it is open, and every later test that runs its own loop (datasette.client)
would fail with "Cannot run the event loop while another loop is running"."""

from __future__ import annotations

import shutil

import pytest
from support import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling out, which this network refuses.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots():
    """The folder of the browser tests' screenshots (kept for people to look at)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
