"""The Content-Security-Policy every page sends holds for the panel's own pages: walking them, the browser
reports no violation (and it does report one, when a page breaks the policy)."""

import time

from playwright.sync_api import Page

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

# Every page's scripts: report each violation to the test, as the browser sees it.
REPORT = """document.addEventListener('securitypolicyviolation', e =>
    window.__cspViolation(`${location.pathname}: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`));"""


class Violations:
    """What the browser refused under the policy (events and its console's words), and pages sent without one."""

    def __init__(self, page: Page):
        self.seen: list[str] = []
        self.unguarded: list[str] = []
        page.expose_function("__cspViolation", lambda text: self.seen.append(text))
        page.add_init_script(REPORT)
        page.on("console", lambda msg: self._console(page, msg))
        page.on("response", self._response)

    def _console(self, page: Page, msg) -> None:
        if "Content Security Policy" in msg.text:
            self.seen.append(f"{page.url}: {msg.text}")

    def _response(self, response) -> None:
        if response.request.resource_type == "document" and "content-security-policy" not in response.headers:
            self.unguarded.append(response.url)


def visit(page: Page, paths: list[str]) -> None:
    for path in paths:
        answer = page.goto(path)
        assert answer is not None and answer.status == 200, (path, answer and answer.status)
        page.wait_for_load_state("networkidle")  # htmx's requests after the load too


def test_no_page_of_the_panel_or_the_admin_breaks_its_content_security_policy(page: Page, live_panel):
    violations = Violations(page)
    visit(page, ANONYMOUS_PAGES)
    username = new_username()
    sign_up(page, username)
    live_panel.credit(username, "5")
    # The new-order form swaps its fields in with htmx as the customer chooses.
    order_id = place_order(
        page, "Browser Followers", live_panel.catalog[catalog.FAST], {"Link": new_link(), "Quantity": "100"}
    )
    visit(page, [*CUSTOMER_PAGES, f"/orders/{order_id}/"])
    page.context.clear_cookies()
    log_in_as_owner(page, live_panel, f"owner_{username}")
    visit(page, [*ADMIN_PAGES, f"/admin/orders/order/{order_id}/change/", "/admin/orders/order/?customer=buyer"])

    assert violations.unguarded == [], "pages without a policy"
    assert violations.seen == [], "\n".join(violations.seen)


def test_an_inline_script_is_refused_and_reported(page: Page, live_panel):
    violations = Violations(page)
    visit(page, ["/"])
    page.evaluate("""() => { const s = document.createElement('script');
        s.textContent = 'window.ran = true'; document.body.appendChild(s); }""")
    assert page.evaluate("() => window.ran === undefined")
    # The report arrives from the browser's event loop: let Playwright deliver it, within a deadline.
    deadline = time.monotonic() + 10
    while not any("script-src" in v for v in violations.seen) and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert any("script-src" in v for v in violations.seen), violations.seen
