"""Adding funds in a real browser (issue 15): a customer tops up through the (fake) Stripe checkout and by a
manual transfer the owner approves in the admin, and sees the balance move and the payments listed.

Its own live panel (gunicorn and the worker), because the gateway's settings go in through the server's
environment as an owner's would: STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET and STRIPE_API_BASE name the
fake Stripe on 127.0.0.1, whose webhooks go to the live server's notification URL. The manual transfer
gateway is enabled the way `smmpanel demo` enables it.
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, _new_page
from tests.browser.customer import log_in_as_owner, new_username, sign_up
from tests.browser.panel import LivePanel, database_is_postgres
from tests.conftest import throwaway_database
from tests.fake_gateways.stripe import FakeStripe

ENABLE_MANUAL = "from smmpanel.demo.seed import seed_gateways; seed_gateways(); print('{}')"


@pytest.fixture(scope="module")
def fake_stripe_live() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture(scope="module")
def paying_panel(request, tmp_path_factory, fake_stripe_live) -> Iterator[LivePanel]:
    data_dir = tmp_path_factory.mktemp("paying-panel")

    def running(url: str) -> Iterator[LivePanel]:
        panel = LivePanel(url, data_dir)
        panel.server.env.update(fake_stripe_live.settings())
        fake_stripe_live.webhook_url = f"{panel.base_url}/payments/notify/stripe/"
        try:
            panel.start(seed=ENABLE_MANUAL)  # no catalog: nothing is ordered here
            yield panel
        finally:
            panel.stop()

    if database_is_postgres():
        with throwaway_database(request.getfixturevalue("postgres_admin_url"), prefix="smmpanel_browser") as url:
            yield from running(url)
    else:
        yield from running(f"sqlite:///{data_dir}/panel.sqlite3")


@pytest.fixture
def customer_page(browser, paying_panel, request):
    yield from _new_page(browser, paying_panel, request, DESKTOP)


@pytest.fixture
def owner_page(browser, paying_panel, request):
    yield from _new_page(browser, paying_panel, request, DESKTOP)


@pytest.fixture
def phone_page(browser, paying_panel, request):
    yield from _new_page(browser, paying_panel, request, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)


def add_funds(page: Page, way: str, amount: str) -> None:
    """From the menu: Add funds, pick the way to pay by its name, type the amount, continue."""
    page.get_by_role("navigation").get_by_role("link", name="Add funds").click()
    page.get_by_label(re.compile(re.escape(way))).check()
    page.get_by_label("Amount (USD)").fill(amount)
    page.get_by_role("button", name="Continue").click()


def test_a_customer_tops_up_by_card_and_by_a_transfer_the_owner_approves(
    customer_page: Page, owner_page: Page, paying_panel
):
    page = customer_page
    username = new_username()
    sign_up(page, username)

    # By card: off to the gateway's checkout page, pay there, back on the payment's page, paid.
    add_funds(page, "Stripe", "25")
    expect(page.get_by_role("heading", name="Fake Stripe Checkout")).to_be_visible()
    expect(page.locator("#amount")).to_have_text("25.00 USD")
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/funds/payments/\d+/$"))
    expect(page.locator("#payment-words")).to_have_text(
        "Paid: 25.00 USD reached your balance. Your balance is now 25.00 USD."
    )
    expect(page.get_by_role("navigation").get_by_role("link", name="25.00 USD")).to_be_visible()

    # By transfer: the owner's instructions, the reference, then waiting for the owner.
    add_funds(page, "Bank transfer", "10")
    expect(page.get_by_text("IBAN XX00 DEMO")).to_be_visible()
    page.get_by_label("Transfer reference").fill("BANK-REF-778")
    page.get_by_role("button", name="I have paid").click()
    expect(page.locator("#payment-words")).to_contain_text("Waiting for the panel's owner")
    transfer_url = page.url

    # The owner finds it among the payments and approves it, after the confirmation page.
    owner = owner_page
    log_in_as_owner(owner, paying_panel, f"owner_{username}")
    owner.goto("/admin/payments/payment/?q=BANK-REF-778")
    row = owner.locator("#result_list tbody tr").filter(has_text="BANK-REF-778")
    expect(row).to_have_count(1)
    row.locator("input.action-select").check()
    owner.locator("select[name=action]").select_option(label="Approve manual transfers (credit the balance)")
    owner.get_by_role("button", name="Go").click()
    expect(owner.get_by_text("BANK-REF-778")).to_be_visible()  # what is about to be approved
    owner.get_by_role("button", name="Approve and credit").click()
    expect(owner.locator(".messagelist")).to_contain_text("Approved and credited")

    # The customer's page, left open, tells by itself (it asks every few seconds while waiting).
    assert page.url == transfer_url
    expect(page.locator("#payment-words")).to_have_text(
        "Paid: 10.00 USD reached your balance. Your balance is now 35.00 USD."
    )
    # The balance and the list agree.
    page.get_by_role("link", name="Your payments").click()
    rows = page.locator("table.payments tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Bank transfer")
    expect(rows.nth(0)).to_contain_text("10.00")
    expect(rows.nth(1)).to_contain_text("25.00")
    for i in range(2):
        expect(rows.nth(i).locator(".badge")).to_have_text("Paid")
    page.goto("/funds/")
    expect(page.locator("#balance")).to_have_text("35.00 USD")


def test_on_a_phone_the_payment_pages_fit_the_screen(phone_page: Page):
    page = phone_page
    sign_up(page, new_username())
    widths = {}
    for path in ("/funds/add/", "/funds/payments/", "/funds/"):
        page.goto(path)
        widths[path] = page.evaluate("document.documentElement.scrollWidth")
    page.goto("/funds/add/")
    page.get_by_label(re.compile("Bank transfer")).check()
    page.get_by_label("Amount (USD)").fill("10")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_label("Transfer reference")).to_be_visible()
    widths["manual transfer"] = page.evaluate("document.documentElement.scrollWidth")
    assert {p: w for p, w in widths.items() if w > PHONE["width"]} == {}
