"""A customer's account in a browser: a password reset by e-mail, the lock after wrong passwords, the time zone."""

import re
import time
from datetime import datetime, timedelta

from playwright.sync_api import Page, expect

from tests.browser import catalog
from tests.browser.customer import (
    PASSWORD,
    exactly,
    log_in,
    log_out,
    new_link,
    new_username,
    order_row,
    place_order,
    sign_up,
)

LOGIN_FAILURE_LIMIT = 10  # settings.AXES_FAILURE_LIMIT's default (LOGIN_FAILURE_LIMIT)


def reset_link_sent_to(live_panel, username: str, timeout: float = 15) -> str:
    """The reset link of the e-mail to `username`, as the console e-mail backend printed it in the server's log."""
    deadline = time.monotonic() + timeout
    pattern = re.compile(rf'account "{re.escape(username)}".*?(http://\S+/password/reset/\S+/\S+/)', re.DOTALL)
    while True:
        found = pattern.search(live_panel.server.log.read_text(errors="replace"))
        if found:
            return found[1]
        assert time.monotonic() < deadline, f"no reset e-mail to {username} in the server's log"
        time.sleep(0.2)


def test_a_forgotten_password_is_reset_by_the_e_mailed_link_and_the_new_one_logs_in(page: Page, live_panel):
    username = new_username()
    sign_up(page, username)
    log_out(page)

    page.goto("/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label(exactly("Email")).or_(page.get_by_label(exactly("E-mail"))).fill(f"{username}@example.com")
    page.get_by_role("button", name="Send the link").click()
    expect(page).to_have_url(re.compile(r"/password/reset/sent/$"))

    page.goto(reset_link_sent_to(live_panel, username))
    new_password = "another-Long-passw0rd"
    page.get_by_label(exactly("New password")).fill(new_password)
    page.get_by_label(exactly("New password confirmation")).fill(new_password)
    page.get_by_role("button", name="Set the password").click()
    expect(page).to_have_url(re.compile(r"/password/reset/done/$"))

    log_in(page, username, new_password)


def test_wrong_passwords_lock_the_username_out_even_from_the_right_password(page: Page, live_panel):
    username = new_username()
    sign_up(page, username)
    log_out(page)

    locked = page.get_by_role("heading", name="Too many failed log-ins")
    for attempt in range(1, LOGIN_FAILURE_LIMIT + 1):
        page.goto("/login/")
        page.get_by_label(exactly("Username")).fill(username)
        page.get_by_label(exactly("Password")).fill(f"wrong-{attempt}")
        page.get_by_role("main").get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        if locked.count():
            break
    expect(locked).to_be_visible()
    assert attempt == LOGIN_FAILURE_LIMIT, attempt

    page.goto("/login/")
    page.get_by_label(exactly("Username")).fill(username)
    page.get_by_label(exactly("Password")).fill(PASSWORD)  # the right one
    with page.expect_response(re.compile(r"/login/$")) as answer:
        page.get_by_role("main").get_by_role("button", name="Log in").click()
    assert answer.value.status == 429
    expect(locked).to_be_visible()


def shown_time(page: Page, order_id: int) -> datetime:
    """When the orders page says the order was placed (its Date column, in the customer's time zone)."""
    page.goto("/orders/")
    text = order_row(page, order_id).locator("td").nth(1).inner_text().strip()
    return datetime.strptime(text, "%Y-%m-%d %H:%M")  # noqa: DTZ007 - a wall-clock reading, compared with another


def choose_time_zone(page: Page, zone: str) -> None:
    page.goto("/settings/")
    page.get_by_label(exactly("Time zone")).select_option(zone)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Your settings were saved.")


def test_the_time_zone_chosen_in_settings_is_the_one_order_times_are_shown_in(page: Page, live_panel):
    username = new_username()
    sign_up(page, username)
    live_panel.credit(username, "5")
    order_id = place_order(
        page, "Browser Followers", live_panel.catalog[catalog.FAST], {"Link": new_link(), "Quantity": "100"}
    )
    choose_time_zone(page, "UTC")
    in_utc = shown_time(page, order_id)
    choose_time_zone(page, "Asia/Kolkata")  # UTC+5:30 all year
    assert shown_time(page, order_id) - in_utc == timedelta(hours=5, minutes=30)
