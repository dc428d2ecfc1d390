"""Fixtures of the browser tests: Debian's chromium driven by Playwright, and a live panel to drive it at.

- ``chromium_path``: /usr/bin/chromium (or $SMMPANEL_CHROMIUM), else skip with the reason (fail under CI=true).
- ``live_panel``: one panel for the whole package (tests/browser/panel.py): gunicorn and the worker on a
  fresh database (a SQLite file; a throwaway PostgreSQL database when DATABASE_URL is PostgreSQL),
  seeded with tests/browser/catalog.py. Tests share it and keep apart by signing up their own customers.
- ``browser``: headless chromium for the package; ``page`` (1280×800) and ``phone`` (390×844) pages on
  ``live_panel``, each in its own context (own cookies).

Playwright's sync API keeps an event loop running in this thread, where Django refuses ORM calls; the
browser lives only as long as this package's tests, so the rest of the suite never sees it.
"""

import os
from collections.abc import Iterator

import pytest

from tests.browser.panel import LivePanel, database_is_postgres
from tests.conftest import throwaway_database

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000  # two cores shared by everything: a page may take a while under load


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("SMMPANEL_CHROMIUM", "/usr/bin/chromium")
    if not os.access(path, os.X_OK):
        reason = f"no chromium at {path}: `apt-get install chromium` (.ci/run does) or set SMMPANEL_CHROMIUM"
        if _on_ci():
            pytest.fail(reason + "; CI=true requires the browser tests to run", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="package")
def browser(chromium_path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def live_panel(request, tmp_path_factory) -> Iterator[LivePanel]:
    data_dir = tmp_path_factory.mktemp("browser-panel")
    if database_is_postgres():
        admin_url = request.getfixturevalue("postgres_admin_url")
        with throwaway_database(admin_url, prefix="smmpanel_browser") as url:
            yield from _running(LivePanel(url, data_dir))
    else:
        yield from _running(LivePanel(f"sqlite:///{data_dir}/panel.sqlite3", data_dir))


def _running(panel: LivePanel) -> Iterator[LivePanel]:
    try:
        panel.start()
        yield panel
    finally:
        panel.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so a fixture can tell that the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _new_page(browser, live_panel, request, viewport: dict, **options):
    context = browser.new_context(base_url=live_panel.base_url, viewport=viewport, **options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        # What the browser last saw and what the server said, for whoever reads the failure.
        shot = live_panel.server.data_dir / f"{request.node.name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            print(f"last page: {page.url} (screenshot {shot})")
        except Exception as e:  # noqa: BLE001 - a broken page must not hide the test's own failure
            print(f"no screenshot of {page.url}: {e}")
        print(live_panel.logs())
    context.close()


@pytest.fixture
def page(browser, live_panel, request):
    """A desktop-sized page (1280×800) in a fresh context: no cookies, nobody logged in."""
    yield from _new_page(browser, live_panel, request, DESKTOP)


@pytest.fixture
def phone(browser, live_panel, request):
    """A phone-sized page (390×844, touch) in a fresh context."""
    yield from _new_page(browser, live_panel, request, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
