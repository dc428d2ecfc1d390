"""A new customer's first hour, in a real browser: sign up, log in, order each kind, follow, refill, cancel, pay.

One long test on purpose: it is the acceptance of issue 8 as a customer lives it,
each step starting from what the previous one left on the page. The worker runs
beside the server, so orders move by themselves while the test reloads pages.
"""

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser import catalog
from tests.browser.customer import (
    log_in,
    log_out,
    new_link,
    new_username,
    order_row,
    place_order,
    sign_up,
    wait_for_status,
)


def ledger_row(page: Page, order_id: int, kind: str):
    """The funds page's row of `kind` (Charge, Refund) for one order."""
    return (
        page.locator("table.ledger tbody tr")
        .filter(has=page.get_by_role("link", name=f"#{order_id}"))
        .filter(has_text=kind)
    )


def test_a_new_customer_orders_each_kind_follows_them_refills_cancels_and_sees_it_all_in_the_ledger(
    page: Page, live_panel
):
    ids = live_panel.catalog
    username = new_username()

    # Sign up (logged in at once), log out, log in again.
    sign_up(page, username)
    log_out(page)
    log_in(page, username)
    # No online payments yet: the owner credits the balance, and the page shows it.
    live_panel.credit(username, "20")
    page.goto("/funds/")
    expect(page.locator("#balance")).to_contain_text("20")

    # Four orders through the form, each with the fields its type asks for.
    default = place_order(
        page, "Browser Followers", ids[catalog.FAST], {"Link": new_link(), "Quantity": "1000"}
    )  # 1000 × 1.00 / 1000 = 1.00 USD
    comments = place_order(
        page, "Browser Comments", ids[catalog.COMMENTS], {"Link": new_link(), "Comments": "Nice!\nGreat post\nWow"}
    )  # 3 comments × 8.00 / 1000
    dripfeed = place_order(
        page,
        "Browser Followers",
        ids[catalog.SLOW],
        {"Link": new_link(), "Quantity": "100"},
        dripfeed=(3, 5),  # 3 runs of 100, 5 minutes apart: still going when it is canceled
    )
    subscription = place_order(
        page,
        "Browser Subscriptions",
        ids[catalog.SUBSCRIPTION],
        {"Username": "nasa", "Minimum per post": "10", "Maximum per post": "20", "New posts": "2"},
    )

    # They progress: the quick ones complete, the drip-feed delivers, the subscription posts.
    wait_for_status(page, default, "Completed")
    wait_for_status(page, comments, "Completed")
    wait_for_status(page, dripfeed, "In progress")
    wait_for_status(page, subscription, "Completed")
    page.goto("/orders/")
    for order_id in (default, comments, dripfeed, subscription):
        expect(order_row(page, order_id)).to_be_visible()
    # The status tabs show each order under its own status only.
    page.get_by_role("link", name="Completed", exact=True).click()
    expect(order_row(page, default)).to_be_visible()
    expect(order_row(page, dripfeed)).to_have_count(0)
    page.get_by_role("link", name="In progress", exact=True).click()
    expect(order_row(page, dripfeed)).to_be_visible()
    expect(order_row(page, default)).to_have_count(0)
    page.goto("/dripfeed/")
    expect(page.get_by_role("link", name=str(dripfeed), exact=True)).to_be_visible()
    page.goto("/subscriptions/")
    expect(page.get_by_role("link", name=str(subscription), exact=True)).to_be_visible()
    page.get_by_role("link", name=str(subscription), exact=True).click()  # its page lists the posts' orders
    expect(page.get_by_role("row").filter(has_text="post 2")).to_have_count(1)

    # Only where the rules allow: a service without refill or cancel offers neither.
    page.goto(f"/orders/{comments}/")
    expect(page.get_by_role("heading", name=f"Order #{comments}")).to_be_visible()
    expect(page.get_by_role("button", name="Refill")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)

    # A refill of the completed order, from its page.
    page.goto(f"/orders/{default}/")
    page.get_by_role("button", name="Refill").click()
    expect(page.locator(".messages")).to_contain_text(re.compile(r"Refill #\d+ requested\."))
    page.goto("/refills/")
    expect(page.get_by_role("link", name=str(default), exact=True)).to_be_visible()

    # A cancel of the drip-feed order still in progress: it ends Canceled or Partial, the rest refunded.
    page.goto(f"/orders/{dripfeed}/")
    page.once("dialog", lambda dialog: dialog.accept())  # a confirmation, if the page asks for one
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".messages")).to_contain_text("Cancel requested")
    wait_for_status(page, dripfeed, "Canceled", "Partial")

    # The ledger: the deposit, a charge per order, and the refund of the canceled one.
    page.goto("/funds/")
    ledger = page.locator("table.ledger")
    expect(ledger).to_contain_text("Deposit")
    for order_id in (default, comments, dripfeed, subscription):
        expect(ledger_row(page, order_id, "Charge")).to_have_count(1)
    expect(ledger_row(page, dripfeed, "Refund")).to_have_count(1)
    expect(ledger_row(page, default, "Refund")).to_have_count(0)

    # The same history as a spreadsheet: one CSV line per ledger row shown.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    lines = Path(download.value.path()).read_text().strip().splitlines()
    assert lines[0].startswith("id,time,kind,amount"), lines[0]
    assert len(lines) - 1 == ledger.locator("tbody tr").count(), lines
    assert sum(",refund," in line for line in lines) == ledger.locator("tbody tr").filter(has_text="Refund").count()
