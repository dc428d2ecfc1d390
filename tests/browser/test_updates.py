"""Service updates in a browser (issue 16 §2): the owner changes a price in the admin and re-syncs a provider,
and customers read both at /updates/, filter them by kind and search them.

The provider is a real HTTP server on 127.0.0.1 in this process (tests/fake_provider.py), answering the
live panel's `services` calls as the API v2 spec shows; its catalog is changed between syncs.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.customer import exactly, log_in_as_owner, new_username
from tests.fake_provider import fake_provider

FOLLOWERS = "Upstream Followers (updates test)"
LIKES = "Upstream Likes (updates test)"


@pytest.fixture
def upstream(live_panel):
    """The provider, its two services imported into the live panel at 0% markup (as the owner's CLI does)."""
    with fake_provider() as server:
        server.services[0]["name"], server.services[1]["name"] = FOLLOWERS, LIKES
        name = f"Up {new_username()}"
        live_panel.server.manage("provider", "add", name, "--url", server.url, "--key", "k-updates", "--no-check")
        live_panel.server.manage("provider", "sync-services", name, "--markup", "0")
        server.panel_name = name  # type: ignore[attr-defined]  # for the test to pick it in the admin
        yield server
        live_panel.server.manage("provider", "disable", name)


def update_row(page: Page, service: str):
    return page.locator("table.updates tbody tr").filter(has_text=service)


def test_a_price_changed_in_the_admin_and_a_provider_resync_both_show_on_updates(
    page: Page, phone: Page, live_panel, upstream
):
    owner = page
    log_in_as_owner(owner, live_panel, new_username())

    # The owner lowers Likes' price on its change form.
    owner.goto("/admin/catalog/service/?q=Upstream+Likes")
    owner.locator("#result_list tbody tr").filter(has_text=LIKES).locator("th a").click()
    owner.locator("#id_rate").fill("0.40")
    owner.locator("input[name=_save]").click()
    expect(owner.locator("ul.messagelist")).to_contain_text("was changed successfully")

    # The provider raises Followers' price; the owner re-syncs from the providers' list.
    upstream.services[0]["rate"] = "1.10"
    owner.goto("/admin/providers/provider/")
    owner.locator("tr").filter(has_text=upstream.panel_name).locator("input[name=_selected_action]").check()
    owner.locator("select[name=action]").select_option("sync_services")
    owner.get_by_role("button", name="Go").click()
    owner.get_by_role("button", name="Import / sync").click()
    expect(owner.locator("ul.messagelist")).to_contain_text("1 price change")

    # A customer (signed out, on a phone) reads both, newest first.
    phone.goto("/updates/")
    likes, followers = update_row(phone, LIKES).first, update_row(phone, FOLLOWERS).first
    expect(likes).to_contain_text("Price decreased")
    expect(likes).to_contain_text("0.50 → 0.40 USD")
    expect(followers).to_contain_text("Price increased")
    expect(followers).to_contain_text("0.90 → 1.10 USD")
    rows = phone.locator("table.updates tbody tr")
    expect(rows.first).to_contain_text(FOLLOWERS)  # the re-sync came after the owner's edit

    # The kind's tab shows that kind only; a search narrows to a service.
    phone.get_by_role("link", name=exactly("Price increased")).click()
    expect(update_row(phone, FOLLOWERS).first).to_be_visible()
    expect(update_row(phone, LIKES)).to_have_count(0)
    phone.get_by_role("link", name=exactly("All")).click()
    phone.get_by_role("searchbox", name="Search updates by service").fill("Upstream Likes")
    phone.get_by_role("button", name="Search").click()
    expect(phone).to_have_url(re.compile(r"/updates/\?q=Upstream(\+|%20)Likes$"))
    expect(update_row(phone, FOLLOWERS)).to_have_count(0)
    expect(update_row(phone, LIKES).first).to_contain_text("Price decreased")
