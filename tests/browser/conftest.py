"""Browser fixtures: SQLite only (the API tests cover PostgreSQL), one Chromium per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def database_url(tmp_path) -> Iterator[str]:
    """Overrides the SQLite + PostgreSQL parametrization: a migrated SQLite database is enough here."""
    from backend.migrate import upgrade_head
    from tests.fixtures.services import sqlite_url

    url = sqlite_url(tmp_path)
    upgrade_head(url)
    yield url


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _page(browser, bypass_csp: bool) -> Iterator:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, bypass_csp=bypass_csp)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page(browser):
    """A fresh page; a JavaScript exception on it fails the test.

    It bypasses the Content-Security-Policy because Playwright's
    ``wait_for_function("...")`` evaluates its string with eval, which the
    policy forbids; ``strict_page`` keeps the policy (tests/browser/test_access.py).
    """
    yield from _page(browser, bypass_csp=True)


@pytest.fixture
def strict_page(browser):
    """Like ``page``, with the server's Content-Security-Policy enforced as a person's browser does."""
    yield from _page(browser, bypass_csp=False)
