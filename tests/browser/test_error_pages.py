"""The panel's own 404 page, as a browser shows it: in the panel's look, with the way back."""

from playwright.sync_api import expect

from tests.browser.customer import new_username, sign_up


def test_a_missing_order_shows_the_panels_styled_404_with_a_way_back(page):
    sign_up(page, new_username())
    response = page.goto("/orders/99999/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    # The panel's stylesheet applies (the card around the message, the panel's font), not the browser's defaults.
    card = page.locator("section.error-page")
    assert card.evaluate("e => getComputedStyle(e).borderTopStyle") != "none"
    assert "Times" not in page.evaluate("getComputedStyle(document.body).fontFamily")
    expect(page.get_by_role("navigation").get_by_role("link", name="Orders")).to_be_visible()  # the menu too
    page.get_by_role("link", name="Back to the panel").click()
    expect(page).not_to_have_url("/orders/99999/")
