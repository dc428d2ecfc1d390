"""The panel's layout as a phone shows it: the top menu folds behind a button, and no page is wider than the screen."""

from playwright.sync_api import expect

from tests.browser import catalog
from tests.browser.conftest import PHONE
from tests.browser.customer import (
    ANONYMOUS_PAGES,
    CUSTOMER_PAGES,
    log_in_as_owner,
    new_link,
    new_username,
    place_order,
    sign_up,
)

PHONE_WIDTH = PHONE["width"]


def test_on_a_phone_the_menu_is_folded_until_its_button_opens_it(phone):
    phone.goto("/")
    menu = phone.get_by_role("navigation")
    log_in = menu.get_by_role("link", name="Log in")
    expect(log_in).to_be_hidden()

    phone.locator("label[for=menu-toggle]").tap()

    expect(log_in).to_be_visible()
    log_in.tap()
    expect(phone).to_have_url("/login/")


def test_on_a_phone_the_menu_opens_from_the_keyboard_too(phone):
    """The menu's toggle takes the focus (Tab) and opens with Space, as a keyboard or screen reader user needs."""
    phone.goto("/")
    log_in = phone.get_by_role("navigation").get_by_role("link", name="Log in")
    toggle = phone.get_by_role("checkbox", name="Menu")
    for _ in range(5):  # the brand link first, then the toggle
        phone.keyboard.press("Tab")
        if toggle.evaluate("e => e === document.activeElement"):
            break
    expect(toggle).to_be_focused()
    phone.keyboard.press("Space")
    expect(log_in).to_be_visible()


def test_on_a_desktop_the_menu_is_open_without_a_button(page):
    page.goto("/")
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()
    expect(page.locator("label[for=menu-toggle]")).to_be_hidden()


def too_wide_on(phone, paths: list[str]) -> dict[str, int]:
    """{path: page width} of the pages wider than the phone's screen."""
    widths = {}
    for path in paths:
        assert phone.goto(path).status == 200, path
        widths[path] = phone.evaluate("document.documentElement.scrollWidth")
    return {path: width for path, width in widths.items() if width > PHONE_WIDTH}


def test_on_a_phone_no_page_is_wider_than_the_screen(phone, live_panel):
    """Wide tables scroll inside their box; the page itself never scrolls sideways."""
    too_wide = too_wide_on(phone, ANONYMOUS_PAGES)
    username = new_username()
    sign_up(phone, username)
    live_panel.credit(username, "5")
    order_id = place_order(
        phone, "Browser Followers", live_panel.catalog[catalog.FAST], {"Link": new_link(), "Quantity": "100"}
    )
    too_wide.update(too_wide_on(phone, [*CUSTOMER_PAGES, f"/orders/{order_id}/"]))
    assert too_wide == {}, f"pages wider than the {PHONE_WIDTH}px screen: {too_wide}"


def test_on_a_phone_the_owners_dashboard_is_no_wider_than_the_screen(phone, live_panel):
    log_in_as_owner(phone, live_panel, f"owner_{new_username()}")
    assert too_wide_on(phone, ["/admin/"]) == {}


# What each list keeps in view on a phone (the other columns are on the row's own page, or on a wider screen).
PHONE_COLUMNS = {
    "/funds/": ["Date", "Kind", "Amount", "Balance"],
    "/subscriptions/": ["ID", "Username", "Posts", "Charge", "Status"],
    "/dripfeed/": ["ID", "Runs", "Charge", "Status"],
    "/orders/": ["ID", "Link", "Charge", "Status"],
}


def _seed_lists(live_panel, username: str) -> None:
    """A subscription with a dozen posts and a drip-feed order for the customer, placed as the API places them."""
    sub_id, drip_id = live_panel.catalog[catalog.SUBSCRIPTION], live_panel.catalog[catalog.SLOW]
    live_panel.server.python(f"""
import json
from django.contrib.auth import get_user_model
from smmpanel.accounts.services import account_for
from smmpanel.catalog.models import Service
from smmpanel.orders import services
from smmpanel.orders.validation import validate_order
account = account_for(get_user_model().objects.get(username={username!r}))
fields = {{"username": "a_rather_long_username_{username}", "min": "100", "max": "100", "delay": "0"}}
sub = services.place_order(account.pk, validate_order(Service.objects.get(pk={sub_id}), fields))
for n in range(1, 13):
    services.add_post_order(sub.pk, number=n, old=False, link=f"https://x.com/{username}/{{n}}", quantity=100)
drip = {{"link": "https://x.com/{username}/drip", "quantity": "100", "runs": "3", "interval": "60"}}
services.place_order(account.pk, validate_order(Service.objects.get(pk={drip_id}), drip))
print(json.dumps({{}}))
""")


def test_on_a_phone_every_list_shows_its_chosen_columns_whole(phone, live_panel):
    """No list hides the columns that matter past the edge of its box, nor squeezes a cell to a letter per line."""
    username = new_username()
    sign_up(phone, username)
    live_panel.credit(username, "50")
    _seed_lists(live_panel, username)
    for path, wanted in PHONE_COLUMNS.items():
        assert phone.goto(path).status == 200, path
        box = phone.locator(".table-wrap").first
        # The table fits its box: nothing to scroll to sideways, so every shown column is whole on screen.
        overflow = box.evaluate("e => e.scrollWidth - e.clientWidth")
        assert overflow <= 0, f"{path}: the table is {overflow}px wider than its box"
        shown = [h.strip() for h in box.locator("th:visible").all_inner_texts()]
        assert shown == wanted, path
        # Every visible cell holds its words on as few lines as they need: a badge or a number on one line.
        for cell in box.locator("td:visible .badge, td.num:visible").all():
            assert cell.evaluate("e => e.getClientRects().length <= 1 && e.scrollWidth <= e.clientWidth + 1"), path
