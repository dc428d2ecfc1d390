"""The catalog in a browser: it narrows as you type, keeps the search in the address, and leads to an order."""

import re

from playwright.sync_api import Page, expect

from tests.browser import catalog
from tests.browser.customer import new_username, sign_up


def service_row(page: Page, name: str):
    return page.locator("table.services tbody tr").filter(has_text=name)


def test_the_catalog_narrows_as_you_type_and_its_order_button_opens_that_service(page: Page, live_panel):
    ids = live_panel.catalog
    sign_up(page, new_username())
    page.goto("/services/")
    expect(service_row(page, catalog.FAST)).to_be_visible()
    expect(service_row(page, catalog.COMMENTS)).to_be_visible()

    # Typing filters the list in place (no button pressed), and the address follows.
    page.get_by_role("searchbox", name="Search services").press_sequentially("Custom Comm")
    expect(service_row(page, catalog.FAST)).to_have_count(0)
    expect(service_row(page, catalog.COMMENTS)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/services/\?q=Custom(\+|%20)Comm$"))

    # The address is the search: reloading it shows the same narrowed list.
    page.reload()
    expect(service_row(page, catalog.FAST)).to_have_count(0)
    expect(page.get_by_role("searchbox", name="Search services")).to_have_value("Custom Comm")

    # Back in history is the whole catalog again.
    page.go_back()
    expect(service_row(page, catalog.FAST)).to_be_visible()

    # "Order" opens the new-order form on that service.
    service_row(page, catalog.COMMENTS).get_by_role("link", name="Order").click()
    expect(page.get_by_label("Service")).to_have_value(str(ids[catalog.COMMENTS]))
    expect(page.get_by_label("Comments")).to_be_visible()
