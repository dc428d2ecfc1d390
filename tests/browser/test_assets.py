"""Every page loads only from the panel itself (no CDN, no third party), all of it, without a script error;
the dashboard draws its chart."""

import time

from playwright.sync_api import Page, expect

from tests.browser import catalog
from tests.browser.customer import (
    ADMIN_PAGES,
    ANONYMOUS_PAGES,
    CUSTOMER_PAGES,
    log_in_as_owner,
    new_link,
    new_username,
    place_order,
    sign_up,
)


class Watch:
    """What a page asked for beyond the panel, what failed to load, and what went wrong in its scripts."""

    def __init__(self, page: Page, base_url: str):
        self.base_url = base_url
        self.foreign: set[str] = set()
        self.failed: set[str] = set()
        self.errors: list[str] = []
        page.on("request", self._request)
        page.on("response", self._response)
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.on("console", lambda msg: self._console(page, msg))

    def _request(self, request) -> None:
        if not request.url.startswith((self.base_url + "/", "data:", "blob:")):
            self.foreign.add(request.url)

    def _response(self, response) -> None:
        if response.status >= 400:
            self.failed.add(f"{response.status} {response.url}")

    def _console(self, page: Page, msg) -> None:
        # A failed load is also a console error, without its URL: the responses above name it.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.errors.append(f"{page.url}: {msg.text}")


def visit(page: Page, paths: list[str]) -> None:
    for path in paths:
        answer = page.goto(path)
        assert answer is not None and answer.status == 200, (path, answer and answer.status)
        page.wait_for_load_state("networkidle")  # htmx's requests after the load too


def test_every_page_loads_only_from_the_panel_and_without_script_errors(page: Page, live_panel):
    watch = Watch(page, live_panel.base_url)
    visit(page, ANONYMOUS_PAGES)

    username = new_username()
    sign_up(page, username)
    live_panel.credit(username, "5")
    order_id = place_order(
        page, "Browser Followers", live_panel.catalog[catalog.FAST], {"Link": new_link(), "Quantity": "100"}
    )
    visit(page, [*CUSTOMER_PAGES, f"/orders/{order_id}/"])

    # The owner's side: the admin and its dashboard (its chart's library is served locally too).
    page.context.clear_cookies()
    log_in_as_owner(page, live_panel, f"owner_{username}")
    visit(page, ADMIN_PAGES)

    assert watch.foreign == set(), f"asked for outside the panel: {sorted(watch.foreign)}"
    assert watch.failed == set(), f"failed to load: {sorted(watch.failed)}"
    assert watch.errors == [], "\n".join(watch.errors)


def test_the_dashboard_draws_its_chart_of_orders_per_day(page: Page, live_panel):
    log_in_as_owner(page, live_panel, f"owner_{new_username()}")
    chart = page.get_by_role("img", name="Orders per day over the last 30 days")
    expect(chart).to_be_visible()
    # Drawn, not just present: the canvas gets painted pixels (axes and labels at least; it may animate in).
    count_painted = (
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"
    )
    deadline = time.monotonic() + 10
    while (painted := chart.evaluate(count_painted)) <= 1000 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert painted > 1000, painted
