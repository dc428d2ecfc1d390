"""Rules a customer meets in the browser: a mass order is all or nothing, an error sits by its field,
and another customer's order is a page that does not exist."""

import re

from playwright.sync_api import Page, expect

from tests.browser import catalog
from tests.browser.customer import choose_service, new_link, new_username, place_order, sign_up


def signed_up_with_funds(page: Page, live_panel, amount: str = "10") -> str:
    username = new_username()
    sign_up(page, username)
    live_panel.credit(username, amount)
    return username


def test_a_mass_order_with_one_bad_line_places_nothing_and_names_that_line(page: Page, live_panel):
    signed_up_with_funds(page, live_panel)
    fast = live_panel.catalog[catalog.FAST]
    lines = [
        f"{fast}|{new_link()}|100",
        f"{fast}|{new_link()}|5",  # below the service's minimum of 10
        f"{fast}|{new_link()}|200",
    ]
    page.goto("/order/mass/")
    page.get_by_label("Orders").fill("\n".join(lines))
    page.get_by_role("button", name="Place orders").click()

    errors = page.locator("#mass-errors")
    expect(errors).to_contain_text("Nothing was placed")
    expect(errors.get_by_role("listitem")).to_have_count(1)
    expect(errors.get_by_role("listitem")).to_contain_text("Line 2")
    expect(errors.get_by_role("listitem")).to_contain_text(lines[1])
    # Nothing was charged, and the orders page has nothing to show.
    page.goto("/funds/")
    expect(page.locator("#balance")).to_contain_text("10.00")
    expect(page.locator("table.ledger").get_by_text("Charge")).to_have_count(0)

    # With the bad line corrected, all three are placed at once.
    page.goto("/order/mass/")
    page.get_by_label("Orders").fill("\n".join([lines[0], lines[1].replace("|5", "|50"), lines[2]]))
    page.get_by_role("button", name="Place orders").click()
    expect(page.locator(".messages")).to_contain_text("3 orders placed.")
    page.goto("/funds/")
    expect(page.locator("table.ledger").get_by_text("Charge")).to_have_count(3)


def test_a_refused_order_shows_the_reason_next_to_the_field_and_charges_nothing(page: Page, live_panel):
    signed_up_with_funds(page, live_panel)
    choose_service(page, "Browser Followers", live_panel.catalog[catalog.FAST])
    page.get_by_label("Link").fill(new_link())
    page.get_by_label("Quantity").fill("5")  # the minimum is 10
    page.get_by_role("button", name="Place order").click()

    quantity_field = page.locator("#field-quantity")
    expect(quantity_field.locator(".errorlist")).to_be_visible()
    expect(quantity_field.locator(".errorlist")).to_contain_text(re.compile(r"10"))
    expect(page.get_by_label("Quantity")).to_have_value("5")  # what was typed is kept
    page.goto("/funds/")
    expect(page.locator("table.ledger").get_by_text("Charge")).to_have_count(0)


def test_another_customers_order_is_a_page_that_does_not_exist(browser, live_panel, page: Page):
    signed_up_with_funds(page, live_panel)
    order_id = place_order(
        page, "Browser Followers", live_panel.catalog[catalog.FAST], {"Link": new_link(), "Quantity": "100"}
    )
    assert page.goto(f"/orders/{order_id}/").status == 200  # its owner sees it

    other = browser.new_context(base_url=live_panel.base_url)
    try:
        intruder = other.new_page()
        sign_up(intruder, new_username())
        mine = intruder.goto(f"/orders/{order_id}/")
        nobodys = intruder.goto("/orders/999999999/")
        assert (mine.status, nobodys.status) == (404, 404)
        # Nor can it be refilled or canceled from there.
        for action in ("refill", "cancel"):
            answer = intruder.request.post(
                f"/orders/{order_id}/{action}/",
                headers={"X-CSRFToken": _csrf_token(other), "Referer": live_panel.base_url + "/orders/"},
            )
            assert answer.status == 404, (action, answer.status)
    finally:
        other.close()


def _csrf_token(context) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")


def test_the_same_order_form_sent_twice_places_one_order_and_charges_once(page: Page, live_panel):
    """As when a slow answer makes a customer press "Place order" again, or reload the page that placed it.

    (Chromium itself sends a double click once, so the page's own form data is posted twice.)
    """
    signed_up_with_funds(page, live_panel)
    link = new_link()
    choose_service(page, "Browser Followers", live_panel.catalog[catalog.FAST])
    page.get_by_label("Link").fill(link)
    page.get_by_label("Quantity").fill("100")
    expect(page.locator("#charge")).to_contain_text("USD")
    form = page.locator("#order-form").evaluate("f => new URLSearchParams(new FormData(f)).toString()")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    answers = [page.request.post("/order/", data=form, headers=headers) for _ in range(2)]
    assert [a.status for a in answers] == [200, 200]
    assert answers[0].url == answers[1].url and re.search(r"/orders/\d+/$", answers[0].url), [a.url for a in answers]

    page.goto("/orders/")
    page.get_by_role("searchbox").fill(link)
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.orders tbody tr")).to_have_count(1)
    page.goto("/funds/")
    expect(page.locator("table.ledger").get_by_text("Charge")).to_have_count(1)
