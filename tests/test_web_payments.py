"""Adding funds from the customer panel (issue 15): the Add funds page, off to the gateway and back, a manual
transfer's instructions and reference, the payment's page that says only what is true, the payments list.

Stripe is the fake of tests/fake_gateways on 127.0.0.1, configured as an owner's environment would
(STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE); its webhooks are posted to the panel's
notification URL through Django's test client, in-process.
"""

import re
import threading
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from smmpanel.ledger.models import LedgerEntry
from smmpanel.payments import gateways, services
from smmpanel.payments.models import Gateway, Payment
from tests.conftest import money_is_conserved
from tests.fake_gateways.fixtures import fake_stripe  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


def _meta(headers: dict) -> dict:
    out = {}
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        out[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    return out


@pytest.fixture
def stripe(fake_stripe, settings):  # noqa: F811 - the fixture imported above
    """The fake Stripe, set up by "environment" (settings); its webhooks reach /payments/notify/stripe/."""
    for name, value in fake_stripe.settings().items():
        setattr(settings, name, value)

    def deliver(body: bytes, headers: dict) -> int:
        headers = dict(headers)
        content_type = headers.pop("Content-Type", "application/json")
        return (
            Client()
            .post("/payments/notify/stripe/", data=body, content_type=content_type, **_meta(headers))
            .status_code
        )

    fake_stripe.deliver = deliver
    assert gateways.by_name("stripe") is not None  # made from the environment on first need
    return fake_stripe


@pytest.fixture
def manual(db):
    gateway = Gateway.objects.create(
        name="bank",
        kind="manual",
        enabled=True,
        display_name="Bank transfer",
        min_amount=Decimal(5),
        max_amount=Decimal(500),
        instructions="IBAN XX00 1234\nMention your username.",
    )
    gateway.bonuses.create(min_amount=Decimal(100), percent=Decimal(5))
    return gateway


@pytest.fixture
def shopper(customer, client):
    cust = customer("0")
    client.force_login(cust.user)
    return cust


def session_of(response) -> str:
    found = re.search(r"/pay/(cs_test_\w+)$", response["Location"])
    assert found, response["Location"]
    return found[1]


def words(response) -> str:
    """What the payment's page says (its sentence, tags and spaces removed)."""
    found = re.search(r'<p id="payment-words">(.*?)</p>', response.content.decode(), re.S)
    assert found, response.content.decode()
    return " ".join(re.sub(r"<[^>]+>", "", found[1]).split())


def test_the_add_funds_page_lists_the_enabled_gateways_with_limits_fee_and_bonus(client, shopper, stripe, manual):
    Gateway.objects.filter(name="stripe").update(fee_percent=Decimal("2.9"), fee_fixed=Decimal("0.30"), position=1)
    Gateway.objects.create(name="off", kind="manual", enabled=False, display_name="Switched off")
    body = client.get("/funds/add/").content.decode()
    assert "Card (Stripe)" in body and "Bank transfer" in body  # the env's Stripe is enabled with defaults
    assert "Switched off" not in body
    assert body.index("Bank transfer") < body.index("Card (Stripe)")  # the owner's order
    assert "1.00 to 10000.00 USD" in body and "5.00 to 500.00 USD" in body
    assert "fee 2.9 % + 0.30 USD, added to what you pay" in body
    assert "bonus +5 % on 100.00 USD or more" in body
    assert 'name="gateway" id="gateway-stripe" value="stripe"' in body


def test_the_add_funds_form_may_lead_to_the_gateways_checkout_pages_and_nowhere_else(client, shopper, stripe, manual):
    """The post ends in a redirect to the gateway's page, which a browser checks against form-action."""
    policy = client.get("/funds/add/")["Content-Security-Policy"]
    form_action = next(d for d in policy.split(";") if d.strip().startswith("form-action")).split()[1:]
    assert set(form_action) == {"'self'", "https://checkout.stripe.com", stripe.base_url}
    # Every other page keeps 'self' alone.
    assert "checkout.stripe.com" not in client.get("/funds/")["Content-Security-Policy"]


def test_without_any_gateway_the_panel_says_to_ask_the_owner(client, shopper):
    assert "contact the panel's owner" in client.get("/funds/add/").content.decode()
    funds = client.get("/funds/").content.decode()
    assert "contact the panel's owner" in funds and "/funds/add/" not in funds.split("<main")[1]


def test_the_funds_page_and_the_menu_lead_to_adding_funds(client, shopper, manual):
    body = client.get("/funds/").content.decode()
    assert body.count('href="/funds/add/"') == 2  # the menu and the funds page
    assert 'href="/funds/payments/"' in body


def test_paying_by_card_goes_to_the_gateway_and_comes_back_paid_once_the_gateway_says_so(client, shopper, stripe):
    answer = client.post("/funds/add/", {"gateway": "stripe", "amount": "25"})
    assert answer.status_code == 302 and answer["Location"].startswith(stripe.base_url + "/pay/")
    session_id = session_of(answer)
    payment = Payment.objects.get(account=shopper.account)
    assert stripe.session(session_id)["success_url"] == f"http://testserver/funds/payments/{payment.pk}/"

    # Back without paying (anyone can open the return URL): Stripe is asked, and says not paid.
    waiting = client.get(f"/funds/payments/{payment.pk}/")
    assert words(waiting).startswith("Waiting for the network")
    assert 'hx-trigger="every 5s"' in waiting.content.decode()  # the page asks again by itself
    assert f'href="{stripe.base_url}/pay/{session_id}"' in waiting.content.decode()  # and leads back to pay
    assert shopper.balance() == 0

    stripe.pay(session_id)  # the webhook arrives
    paid = client.get(f"/funds/payments/{payment.pk}/")
    assert words(paid) == "Paid: 25.00 USD reached your balance. Your balance is now 25.00 USD."
    assert "every 5s" not in paid.content.decode()
    assert list(LedgerEntry.objects.filter(payment=payment).values_list("kind", "amount")) == [("deposit", 25)]
    money_is_conserved(shopper)


def test_a_lost_webhook_is_found_by_the_return_page_through_the_gateways_api(client, shopper, stripe):
    session_id = session_of(client.post("/funds/add/", {"gateway": "stripe", "amount": "40"}))
    stripe.drop_webhooks = True
    stripe.pay(session_id)  # paid at Stripe; the panel is told nothing
    payment = Payment.objects.get(account=shopper.account)
    assert payment.state == Payment.State.PENDING

    page = client.get(f"/funds/payments/{payment.pk}/?session_id={session_id}")
    assert words(page) == "Paid: 40.00 USD reached your balance. Your balance is now 40.00 USD."
    client.get(f"/funds/payments/{payment.pk}/")  # again: nothing more
    assert shopper.balance() == Decimal(40)
    assert LedgerEntry.objects.filter(payment=payment).count() == 1


def test_the_page_left_open_finds_a_lost_webhook_by_itself_asking_the_gateway_at_most_every_10_seconds(
    client, shopper, stripe
):
    session_id = session_of(client.post("/funds/add/", {"gateway": "stripe", "amount": "15"}))
    payment = Payment.objects.get(account=shopper.account)

    def asked() -> int:
        return sum(1 for r in stripe.requests if r.method == "GET" and session_id in r.path)

    for _ in range(3):  # the page, then its part polling itself: one question to Stripe
        assert words(client.get(f"/funds/payments/{payment.pk}/?part=state")).startswith("Waiting")
    assert asked() == 1
    stripe.drop_webhooks = True
    stripe.pay(session_id)
    cache.clear()  # ten seconds later
    polled = client.get(f"/funds/payments/{payment.pk}/?part=state")
    assert words(polled) == "Paid: 15.00 USD reached your balance. Your balance is now 15.00 USD."
    assert asked() == 2 and shopper.balance() == Decimal(15)


def test_an_expired_checkout_says_expired_and_credits_nothing(client, shopper, stripe):
    session_id = session_of(client.post("/funds/add/", {"gateway": "stripe", "amount": "10"}))
    stripe.expire(session_id)
    payment = Payment.objects.get(account=shopper.account)
    page = client.get(f"/funds/payments/{payment.pk}/")
    assert words(page).startswith("Expired: the time to pay ran out and nothing was credited.")
    assert shopper.balance() == 0


def test_a_gateway_out_of_reach_leaves_the_page_saying_waiting(client, shopper, stripe, settings):
    session_id = session_of(client.post("/funds/add/", {"gateway": "stripe", "amount": "10"}))
    stripe.drop_webhooks = True
    stripe.pay(session_id)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    settings.PAYMENTS_HTTP_TIMEOUT = 2
    payment = Payment.objects.get(account=shopper.account)
    page = client.get(f"/funds/payments/{payment.pk}/")
    assert page.status_code == 200 and words(page).startswith("Waiting for the network")
    assert shopper.balance() == 0


def test_a_gateway_that_cannot_be_reached_is_said_above_the_form(client, shopper, stripe, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    answer = client.post("/funds/add/", {"gateway": "stripe", "amount": "10"})
    assert answer.status_code == 400
    assert "Card (Stripe) cannot be reached right now: please try again in a few minutes" in answer.content.decode()
    assert shopper.balance() == 0


def test_a_refused_amount_or_gateway_is_said_next_to_its_box_and_makes_no_payment(client, shopper, stripe, manual):
    cases = [
        ({"gateway": "stripe", "amount": "0.50"}, "The smallest amount by Card (Stripe) is 1.00 USD"),
        ({"gateway": "stripe", "amount": "20000"}, "The largest amount by Card (Stripe) is 10000.00 USD"),
        ({"gateway": "stripe", "amount": "ten"}, "Amount must be a number of USD"),
        ({"gateway": "stripe", "amount": "1.234"}, "Amount must be a number of USD"),
        ({"gateway": "bank", "amount": "1000"}, "The largest amount by Bank transfer is 500.00 USD"),
        ({"gateway": "nope", "amount": "10"}, "Choose how to pay."),
        ({"amount": "10"}, "Choose how to pay."),
    ]
    for data, expected in cases:
        answer = client.post("/funds/add/", data)
        assert answer.status_code == 400, data
        assert expected in answer.content.decode(), (data, answer.content.decode())
    assert not Payment.objects.exists()


def test_a_manual_transfer_shows_the_instructions_then_takes_the_reference_once(client, shopper, manual):
    page = client.post("/funds/add/", {"gateway": "bank", "amount": "100"})
    body = page.content.decode()
    assert page.status_code == 200
    assert "IBAN XX00 1234<br>Mention your username." in body
    assert 'id="to-pay">Transfer 100.00 USD' in body and "Bonus: +5.00 USD once approved" in body
    assert not Payment.objects.exists()  # nothing until the customer says they paid
    once = re.search(r'name="once" value="([^"]+)"', body)[1]

    empty = client.post("/funds/add/", {"gateway": "bank", "amount": "100", "reference": " ", "once": once})
    assert empty.status_code == 400 and "Enter the transfer&#x27;s reference." in empty.content.decode()
    once = re.search(r'name="once" value="([^"]+)"', empty.content.decode())[1]

    form = {"gateway": "bank", "amount": "100", "reference": "TX-42", "once": once}
    sent = client.post("/funds/add/", form)
    payment = Payment.objects.get(account=shopper.account)
    assert sent.status_code == 302 and sent["Location"] == f"/funds/payments/{payment.pk}/"
    assert (payment.state, payment.reference, payment.bonus) == (Payment.State.PENDING, "TX-42", Decimal(5))
    shown = client.get(sent["Location"])
    assert words(shown).startswith("Waiting for the panel's owner to find your transfer")
    assert "TX-42" in shown.content.decode()

    again = client.post("/funds/add/", form, follow=True)  # a reload, a double click: the same form once more
    assert again.redirect_chain == [(f"/funds/payments/{payment.pk}/", 302)]
    assert "That form was already sent: this is your transfer." in again.content.decode()
    other = client.post("/funds/add/", {**form, "reference": "TX-43"})  # the same form, changed
    assert other.status_code == 302 and other["Location"] == "/funds/payments/"
    assert Payment.objects.count() == 1

    services.approve_manual(payment.pk, None)
    shown = client.get(f"/funds/payments/{payment.pk}/")
    assert words(shown) == (
        "Paid: 100.00 USD and a bonus of 5.00 USD reached your balance. Your balance is now 105.00 USD."
    )
    funds = client.get("/funds/").content.decode()
    assert f'href="/funds/payments/{payment.pk}/">Payment #{payment.pk}</a>' in funds  # the ledger links it
    assert ">Bonus</span>" in funds
    money_is_conserved(shopper)


def test_the_payments_list_shows_each_payment_of_the_customer_only(client, shopper, customer, manual, stripe):
    Gateway.objects.filter(name="stripe").update(fee_percent=Decimal(3))
    mine_card = session_of(client.post("/funds/add/", {"gateway": "stripe", "amount": "50"}))
    stripe.pay(mine_card)
    mine_transfer = services.submit_manual(shopper.account, "bank", Decimal(120), "TX-1")
    theirs = services.submit_manual(customer("0").account, "bank", Decimal(7), "THEIRS")

    body = client.get("/funds/payments/").content.decode()
    rows = re.findall(r'<tr id="payment-(\d+)">(.*?)</tr>', body, re.S)
    assert [int(pk) for pk, _ in rows] == [mine_transfer.pk, mine_transfer.pk - 1]  # newest first, mine only
    cells = [
        [" ".join(re.sub(r"<[^>]+>", "", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for _, row in rows
    ]
    assert cells[0][2:] == ["Bank transfer", "120.00", "0.00", "+6.00", "Waiting"]
    assert cells[1][2:] == ["Card (Stripe)", "50.00", "1.50", "", "Paid"]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d", cells[0][1])
    assert client.get(f"/funds/payments/{theirs.pk}/").status_code == 404  # another customer's: not found
    assert client.get("/funds/payments/999999/").status_code == 404


def test_the_payment_pages_need_a_login(client, manual):
    for path in ("/funds/add/", "/funds/payments/", "/funds/payments/1/"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer["Location"].startswith("/login/"), path


def send_at_once(clients: list, forms: list[dict]) -> list:
    """Each client posts its form to /funds/add/, all released together (a barrier); their answers."""
    barrier, answers = threading.Barrier(len(clients)), []

    def send(c, form):
        try:
            barrier.wait(timeout=20)
            answers.append(c.post("/funds/add/", form))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=pair) for pair in zip(clients, forms, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return answers


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_form", [True, False], ids=["one form", "control: each its own form"])
def test_one_transfer_form_sent_many_times_at_once_makes_one_payment(customer, manual, same_form):
    """Double clicks and reloads race: the form's key lets exactly one of them make the payment. The control
    (each request with a form of its own) shows the requests do race: each makes its payment."""
    cust = customer("0")
    clients = []
    for _ in range(8):
        c = Client()
        c.force_login(cust.user)
        clients.append(c)
    page = clients[0].post("/funds/add/", {"gateway": "bank", "amount": "20"}).content.decode()
    once = re.search(r'name="once" value="([^"]+)"', page)[1]
    forms = [
        {"gateway": "bank", "amount": "20", "reference": "TX-RACE", "once": once if same_form else f"{once}-{i}"}
        for i in range(len(clients))
    ]
    answers = send_at_once(clients, forms)
    assert [a.status_code for a in answers] == [302] * len(clients)
    made = Payment.objects.filter(account=cust.account)
    assert made.count() == (1 if same_form else len(clients))
    assert {a["Location"] for a in answers} == {f"/funds/payments/{p.pk}/" for p in made}


def test_a_refund_after_the_money_was_spent_shows_the_refund_and_the_debt(client, shopper, stripe, service, place):
    session_id = session_of(client.post("/funds/add/", {"gateway": "stripe", "amount": "20"}))
    stripe.pay(session_id)
    place(shopper, service(rate="10", min=1000, max=1000), quantity=1000)  # 10.00 of the 20.00 spent
    stripe.refund(session_id)  # the whole 20.00 back at the gateway: 10.00 taken, 10.00 owed
    payment = Payment.objects.get(account=shopper.account)

    page = client.get(f"/funds/payments/{payment.pk}/")
    assert words(page).startswith("Refunded: the payment was given back to you")
    funds = client.get("/funds/").content.decode()
    assert 'id="balance">0.00 USD' in funds
    assert "You owe 10.00 USD" in funds and ">Chargeback</span>" in funds
    listed = client.get("/funds/payments/").content.decode()
    assert re.search(rf'<tr id="payment-{payment.pk}">.*?Refunded</span>', listed, re.S)
    money_is_conserved(shopper)
