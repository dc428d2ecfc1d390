"""A customer's (and the owner's) steps in the browser, for the browser tests and the screenshot script;
and the pages each of them reaches.

Each step goes through the pages as a person would: the labels they read, the
buttons they press. Nothing here knows an id a person could not see on a page.
"""

import itertools
import re
import time
import uuid

from playwright.sync_api import Page, expect

PASSWORD = "a-Long-browser-passw0rd"

# Pages anyone reaches, then every page a signed-in customer reaches from the menu (and the order's own page).
ANONYMOUS_PAGES = ["/", "/signup/", "/login/", "/password/reset/", "/services/", "/updates/", "/api/docs/"]
CUSTOMER_PAGES = [
    "/order/",
    "/order/mass/",
    "/orders/",
    "/refills/",
    "/subscriptions/",
    "/dripfeed/",
    "/services/",
    "/updates/",
    "/funds/",
    "/funds/add/",
    "/funds/payments/",
    "/api/",
    "/api/docs/",
    "/settings/",
    "/tickets/",
    "/tickets/new/",
]
ADMIN_PAGES = [
    "/admin/",
    "/admin/orders/order/",
    "/admin/accounts/account/",
    "/admin/catalog/service/",
    "/admin/updates/serviceupdate/",
]
_numbers = itertools.count(1)


def exactly(label: str) -> re.Pattern:
    """A label as a person reads it, whether or not the form adds Django's ":" after it."""
    return re.compile(rf"^{re.escape(label)}:?$")


def new_username() -> str:
    return f"buyer_{uuid.uuid4().hex[:8]}"


def new_link() -> str:
    """A link no other order uses (one active order per link is a rule of the panel)."""
    return f"https://instagram.com/p/browser-{uuid.uuid4().hex[:8]}-{next(_numbers)}"


def sign_up(page: Page, username: str) -> None:
    """Sign up from the landing page; the panel logs the new customer in."""
    page.goto("/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("E-mail").fill(f"{username}@example.com")
    page.get_by_label(exactly("Password")).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("Welcome! Your account is ready.")).to_be_visible()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label(exactly("Password")).fill(password)
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation").get_by_role("link", name=username)).to_be_visible()


def swapped(page: Page, target: str, action) -> None:
    """Do `action` (a change htmx answers by swapping the element with id `target`) and wait until it is in place.

    Waiting for the response is not enough: htmx swaps the answer in after it arrives.
    """
    page.evaluate(
        """target => { window.__swapped = new Promise(resolve => {
            const settled = event => {
                if (event.detail.target && event.detail.target.id === target) {
                    document.body.removeEventListener('htmx:afterSettle', settled);
                    resolve(true);
                }
            };
            document.body.addEventListener('htmx:afterSettle', settled);
        }); }""",
        target,
    )
    action()
    page.evaluate("() => window.__swapped")


def choose_service(page: Page, category: str, service_id: int) -> None:
    """Pick a category, then a service in it; the form swaps in that service's fields (htmx)."""
    page.goto("/order/")
    category_select = page.get_by_label("Category")
    if category_select.locator("option:checked").inner_text() != category:
        swapped(page, "service-part", lambda: category_select.select_option(label=category))
    service_select = page.get_by_label("Service")
    if service_select.input_value() != str(service_id):
        swapped(page, "service-part", lambda: service_select.select_option(str(service_id)))
    expect(service_select).to_have_value(str(service_id))
    expect(page.locator("#service-info")).to_be_visible()


def place_order(page: Page, category: str, service_id: int, fields: dict[str, str], **options) -> int:
    """Fill the new-order form by its labels, see the charge, place it; the new order's id (from its page).

    options: dripfeed=(runs, interval) ticks the drip-feed box and fills both.
    """
    choose_service(page, category, service_id)
    for label, value in fields.items():
        field = page.get_by_label(exactly(label))
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    if "dripfeed" in options:
        runs, interval = options["dripfeed"]
        page.get_by_label("Drip-feed").check()
        page.get_by_label(exactly("Runs")).fill(str(runs))
        page.get_by_label("Interval (minutes)").fill(str(interval))
    # The charge follows the fields as they change: an amount in USD before anything is placed.
    expect(page.locator("#charge")).to_contain_text("USD")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_text(re.compile(r"Order #\d+ placed\."))).to_be_visible()
    found = re.search(r"/orders/(\d+)/$", page.url)
    assert found, page.url
    return int(found[1])


def order_row(page: Page, order_id: int):
    """The orders page's row of one order (the row whose ID link is that order's)."""
    return page.locator("table.orders tbody tr").filter(has=page.get_by_role("link", name=str(order_id), exact=True))


def order_status(page: Page, order_id: int) -> str:
    """The order's status as the orders page shows it, found by the page's search."""
    page.goto("/orders/")
    page.get_by_role("searchbox").fill(str(order_id))
    page.get_by_role("button", name="Search").click()
    row = order_row(page, order_id)
    expect(row).to_have_count(1)
    return row.locator(".badge").inner_text().strip()


def wait_for_status(page: Page, order_id: int, *wanted: str, timeout: float = 90) -> str:
    """Look the order up on the orders page until its status is one of `wanted` (the worker moves it meanwhile)."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        status = order_status(page, order_id)
        if status in wanted:
            return status
        if not seen or seen[-1] != status:
            seen.append(status)
        assert time.monotonic() < deadline, f"order #{order_id} never became {wanted}; statuses seen: {seen}"
        time.sleep(1)


def log_in_as_owner(page: Page, live_panel, username: str) -> None:
    """Make a staff user (as the owner would) and log in at /admin/ with it."""
    password = "owner-Long-passw0rd"
    live_panel.make_owner(username, password)
    page.goto("/admin/login/")
    page.get_by_label(exactly("Username")).fill(username)
    page.get_by_label(exactly("Password")).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")
