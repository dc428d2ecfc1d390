"""The API page in a browser: a key is shown in full once, copied with a button, and never again."""

from decimal import Decimal

from playwright.sync_api import Page, expect

from tests.browser.customer import new_username, sign_up


def test_a_new_key_is_shown_once_copies_to_the_clipboard_works_and_is_gone_on_the_next_visit(page: Page, live_panel):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_up(page, new_username())
    page.goto("/api/")
    expect(page.get_by_text("You have no API key yet.")).to_be_visible()

    page.get_by_label("I understand that my current key stops working at once.").check()
    page.once("dialog", lambda dialog: dialog.accept())  # "Generate a new key? …"
    page.get_by_role("button", name="Generate new key").click()
    shown = page.locator("#new-key")
    expect(shown).to_be_visible()
    key = shown.inner_text().strip()
    assert len(key) >= 32, key

    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key

    # The key works against the API at once.
    answer = page.request.post("/api/v2", form={"key": key, "action": "balance"}).json()
    assert answer["currency"] == "USD" and Decimal(answer["balance"]) == 0, answer

    # Seen again, the page has only its first characters.
    page.goto("/api/")
    html = page.content()
    assert key not in html
    hint = page.locator("code.key-hint").inner_text().rstrip("…")
    assert hint and key.startswith(hint) and len(hint) < len(key) // 2, hint


def test_generating_a_key_asks_for_confirmation_and_declining_makes_none(page: Page, live_panel):
    sign_up(page, new_username())
    page.goto("/api/")
    page.get_by_label("I understand that my current key stops working at once.").check()
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Generate new key").click()
    page.reload()  # nothing was sent: still no key
    expect(page.get_by_text("You have no API key yet.")).to_be_visible()
    expect(page.locator("#new-key")).to_have_count(0)
