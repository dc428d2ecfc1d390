"""The panel's layout as a phone shows it: the top menu folds behind a button that opens it."""

from playwright.sync_api import expect


def test_on_a_phone_the_menu_is_folded_until_its_button_opens_it(phone):
    phone.goto("/")
    menu = phone.get_by_role("navigation")
    log_in = menu.get_by_role("link", name="Log in")
    expect(log_in).to_be_hidden()

    phone.locator("label[for=menu-toggle]").tap()

    expect(log_in).to_be_visible()
    log_in.tap()
    expect(phone).to_have_url("/login/")


def test_on_a_desktop_the_menu_is_open_without_a_button(page):
    page.goto("/")
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()
    expect(page.locator("label[for=menu-toggle]")).to_be_hidden()
