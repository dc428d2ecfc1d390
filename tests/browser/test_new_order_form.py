"""The new-order form in a browser: each service's type brings exactly its fields, and the charge follows them."""

import re

from playwright.sync_api import Page, expect

from tests.browser import catalog
from tests.browser.customer import choose_service, exactly, new_link, new_username, sign_up


def expect_charge(page: Page, amount: str) -> None:
    """The live charge reads `amount` USD (as many trailing zeros as the panel prints)."""
    expect(page.locator("#charge")).to_have_text(re.compile(rf"^\s*{re.escape(amount)}0*\s*USD\s*$"))


def test_the_form_shows_each_services_own_fields_and_the_charge_follows_them_as_they_change(page: Page, live_panel):
    ids = live_panel.catalog
    sign_up(page, new_username())  # no funds: the charge is shown before anything is paid

    # Default: a link and a quantity; 1.00 USD per 1000.
    choose_service(page, "Browser Followers", ids[catalog.FAST])
    expect(page.get_by_label(exactly("Comments"))).to_have_count(0)
    expect(page.get_by_label("Drip-feed")).to_have_count(0)  # this service does not drip-feed
    page.get_by_label(exactly("Link")).fill(new_link())
    page.get_by_label(exactly("Quantity")).fill("1000")
    expect_charge(page, "1.00")
    page.get_by_label(exactly("Quantity")).fill("2500")
    expect_charge(page, "2.50")

    # Custom Comments: no quantity, the comments are the quantity (8.00 USD per 1000).
    choose_service(page, "Browser Comments", ids[catalog.COMMENTS])
    expect(page.get_by_label(exactly("Quantity"))).to_have_count(0)
    page.get_by_label(exactly("Link")).fill(new_link())
    page.get_by_label(exactly("Comments")).fill("Nice!\nGreat post\nWow")
    expect_charge(page, "0.024")
    page.get_by_label(exactly("Comments")).press("End")
    page.get_by_label(exactly("Comments")).press_sequentially("\nFourth")
    expect_charge(page, "0.032")

    # Drip-feed: its fields appear when the box is ticked, and the runs multiply the charge.
    choose_service(page, "Browser Followers", ids[catalog.SLOW])
    page.get_by_label(exactly("Link")).fill(new_link())
    page.get_by_label(exactly("Quantity")).fill("100")
    expect_charge(page, "0.05")
    runs = page.get_by_label(exactly("Runs"))
    expect(runs).to_be_hidden()
    page.get_by_label("Drip-feed").check()
    expect(runs).to_be_visible()
    runs.fill("3")
    page.get_by_label("Interval (minutes)").fill("5")
    expect_charge(page, "0.15")

    # A subscription: no link; a username and the per-post range instead.
    choose_service(page, "Browser Subscriptions", ids[catalog.SUBSCRIPTION])
    expect(page.get_by_label(exactly("Link"))).to_have_count(0)
    for label in ("Username", "Minimum per post", "Maximum per post", "New posts", "Old posts", "Delay", "Expiry date"):
        expect(page.get_by_label(exactly(label))).to_be_visible()
