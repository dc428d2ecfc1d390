"""Support tickets in a real browser: a customer opens a ticket about an order, the owner answers it in the
admin, and the customer sees the unread count in the menu, then the answer in the ticket's thread."""

import re
import time
import uuid

from playwright.sync_api import Page, expect

from tests.browser import catalog
from tests.browser.conftest import DESKTOP, TIMEOUT_MS
from tests.browser.customer import log_in_as_owner, new_link, new_username, place_order, sign_up


def mailed(live_panel, text: str, timeout: float = 15) -> str:
    """The e-mail holding `text`, as the console e-mail backend printed it in the server's log."""
    deadline = time.monotonic() + timeout
    while True:
        log = live_panel.server.log.read_text(errors="replace")
        if text in log:
            return log[log.rfind("Subject:", 0, log.index(text)) : log.index(text) + 400]
        assert time.monotonic() < deadline, f"no e-mail with {text!r} in the server's log"
        time.sleep(0.2)


def test_a_customer_asks_about_an_order_the_owner_answers_in_the_admin_and_the_customer_reads_it(
    page: Page, browser, live_panel
):
    username = new_username()
    sign_up(page, username)
    live_panel.credit(username, "5")
    order_id = place_order(
        page, "Browser Followers", live_panel.catalog[catalog.FAST], {"Link": new_link(), "Quantity": "100"}
    )

    # The customer opens a ticket from the menu: about that order, asking for a refill.
    menu = page.get_by_role("navigation")
    menu.get_by_role("link", name="Tickets").click()
    page.get_by_role("link", name="New ticket").click()
    page.get_by_label("Subject").select_option(label="Order")
    page.get_by_label("Order ids").fill(f"#{order_id}")
    page.get_by_label("Request").select_option(label="Refill")
    expect(page.get_by_label("Payment id or transaction")).to_be_hidden()  # only for a payment
    page.get_by_label("Message").fill("The <b>followers</b> dropped, please refill.")
    page.get_by_role("button", name="Open ticket").click()
    expect(page.get_by_text(re.compile(r"Ticket #\d+ opened"))).to_be_visible()
    ticket_id = int(re.search(r"/tickets/(\d+)/$", page.url)[1])
    expect(page.locator(".thread")).to_contain_text("The <b>followers</b> dropped")  # as typed, not as markup
    expect(menu.locator(".unread-count")).to_have_count(0)

    # The owner, in a browser of their own, finds it among the open tickets and answers.
    owner_context = browser.new_context(base_url=live_panel.base_url, viewport=DESKTOP)
    owner_context.set_default_timeout(TIMEOUT_MS)
    try:
        admin = owner_context.new_page()
        log_in_as_owner(admin, live_panel, f"owner_{uuid.uuid4().hex[:8]}")
        admin.goto("/admin/tickets/ticket/?state__exact=open")
        admin.get_by_role("link", name=str(ticket_id), exact=True).click()
        expect(admin.get_by_role("link", name=f"#{order_id}")).to_have_attribute(
            "href", f"/admin/orders/order/{order_id}/change/"
        )
        expect(admin.locator(".ticket-thread")).to_contain_text("The <b>followers</b> dropped")
        answer = f"Refill started for you ({uuid.uuid4().hex[:6]})."
        admin.get_by_role("textbox", name="Answer").fill(answer)
        admin.get_by_role("button", name="Save", exact=True).click()
        expect(admin.locator(".messagelist")).to_contain_text("was changed successfully")
    finally:
        owner_context.close()
    assert f"{username}@example.com" in mailed(live_panel, answer)

    # The customer sees one unread answer in the menu on any page, reads it, and the count is gone.
    page.goto("/orders/")
    expect(menu.get_by_role("link", name="Tickets").locator(".unread-count")).to_have_text("1")
    menu.get_by_role("link", name="Tickets").click()
    row = page.locator(f"#ticket-{ticket_id}")
    expect(row).to_contain_text("New answer")
    expect(row).to_contain_text("Answered")
    row.get_by_role("link", name=str(ticket_id)).click()
    expect(page.locator(".thread .from-staff")).to_contain_text(answer)
    expect(menu.locator(".unread-count")).to_have_count(0)
