"""The owner's side of payments (issue 15): gateways with masked keys, the payments list and its filters, each
payment's notifications, the decisions (approve / reject a manual transfer, settle one needing attention),
each behind its own permission and a confirmation page, made at most once; and the dashboard's deposits.
"""

import html
import re
import threading
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test import Client

from smmpanel.ledger.models import LedgerEntry
from smmpanel.payments import gateways, services
from smmpanel.payments.models import Gateway, Payment
from tests.conftest import money_is_conserved
from tests.fake_gateways.fixtures import fake_stripe  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/payments/payment/"
SECRET_KEY = "sk_live_DO_NOT_SHOW_4f1a9c"
SIGNING = "whsec_DO_NOT_SHOW_77e2"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()  # the dashboard keeps its sums a minute
    yield
    cache.clear()


@pytest.fixture
def owner(client):
    user = get_user_model().objects.create_superuser("owner", "owner@example.com", "pw-owner-1")
    client.force_login(user)
    return client


def staff(username: str, *perms: str) -> Client:
    user = get_user_model().objects.create_user(username, password="pw-staff-1", is_staff=True)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="payments", codename=codename))
    logged_in = Client()
    logged_in.force_login(user)
    return logged_in


@pytest.fixture
def bank(db):
    gw = Gateway.objects.create(name="bank", kind="manual", enabled=True, display_name="Bank transfer")
    gw.bonuses.create(min_amount=Decimal(50), percent=Decimal(10))
    return gw


def act(client, action: str, payments, **fields):
    """An admin action on these payments: first its confirmation page, then (apply) the action itself."""
    data = {"action": action, "_selected_action": [p.pk for p in payments], **fields}
    return client.post(CHANGELIST, data, follow=True)


def actions_offered(page) -> set[str]:
    """The actions the changelist's select offers (none at all: no select)."""
    body = page.content.decode()
    if 'name="action"' not in body:
        return set()
    select = body.split('name="action"')[1].split("</select>")[0]
    return set(re.findall(r'<option value="(\w+)"', select))


def said(response) -> list[str]:
    """The messages the page shows (read from the page: a response's context mixes threads' renders)."""
    listed = re.search(r'<ul class="messagelist">(.*?)</ul>', response.content.decode(), re.S)
    return [html.unescape(m).strip() for m in re.findall(r"<li[^>]*>(.*?)</li>", listed[1], re.S)] if listed else []


def listed_by(client, url: str) -> set[int]:
    """The payments a changelist URL lists (a filter Django does not know would redirect with ?e=1)."""
    page = client.get(url)
    assert page.status_code == 200, url
    return {int(pk) for pk in re.findall(r'name="_selected_action" value="(\d+)"', page.content.decode())}


def deposits(payment) -> list:
    return list(LedgerEntry.objects.filter(payment=payment).order_by("id").values_list("kind", "amount"))


# --- gateways ---------------------------------------------------------------------------------------


def gateway_form(gw: Gateway, **changes) -> dict:
    data = {
        "name": gw.name,
        "kind": gw.kind,
        "enabled": "on" if gw.enabled else "",
        "display_name": gw.display_name,
        "position": gw.position,
        "min_amount": gw.min_amount,
        "max_amount": gw.max_amount,
        "fee_percent": gw.fee_percent,
        "fee_fixed": gw.fee_fixed,
        "fee_payer": gw.fee_payer,
        "instructions": gw.instructions,
        "api_key": "",
        "webhook_secret": "",
        "merchant_id": gw.merchant_id,
        "bonuses-TOTAL_FORMS": "0",
        "bonuses-INITIAL_FORMS": "0",
        "bonuses-MIN_NUM_FORMS": "0",
        "bonuses-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != "" or k in ("api_key", "webhook_secret")}


def test_a_gateways_keys_never_render_back_and_an_empty_box_keeps_them(owner):
    gw = Gateway.objects.create(name="card", kind="stripe", api_key=SECRET_KEY, webhook_secret=SIGNING)
    url = f"/admin/payments/gateway/{gw.pk}/change/"
    for page in (owner.get(url), owner.get("/admin/payments/gateway/")):
        body = page.content.decode()
        assert page.status_code == 200
        assert SECRET_KEY not in body and SIGNING not in body and "DO_NOT_SHOW" not in body
    assert ">set here<" in owner.get("/admin/payments/gateway/").content.decode()
    body = owner.get(url).content.decode()
    assert body.count("A key is set. Leave empty to keep the current key.") == 2
    assert 'type="password" name="api_key"' in body

    saved = owner.post(url, gateway_form(gw, display_name="Cards"))  # the key boxes left empty
    assert saved.status_code == 302, saved.content.decode()
    gw.refresh_from_db()
    assert (gw.display_name, gw.api_key, gw.webhook_secret) == ("Cards", SECRET_KEY, SIGNING)

    owner.post(url, gateway_form(gw, api_key="sk_live_NEW_one"))
    gw.refresh_from_db()
    assert (gw.api_key, gw.webhook_secret) == ("sk_live_NEW_one", SIGNING)

    # A view-only staff user's page shows every field as text: never the keys.
    viewed = staff("gateway-viewer", "view_gateway").get(url)
    assert viewed.status_code == 200 and "card" in viewed.content.decode()
    assert "sk_live_NEW_one" not in viewed.content.decode() and SIGNING not in viewed.content.decode()
    assert "set here" in viewed.content.decode()


def test_a_gateway_without_a_key_does_not_offer_to_keep_one_and_takes_bonus_rules_inline(owner):
    gw = Gateway.objects.create(name="crypto", kind="cryptomus")
    body = owner.get(f"/admin/payments/gateway/{gw.pk}/change/").content.decode()
    assert "Leave empty to keep the current key" not in body
    assert body.count("Not set. The environment") == 2
    data = gateway_form(
        gw,
        **{
            "bonuses-TOTAL_FORMS": "1",
            "bonuses-0-min_amount": "100",
            "bonuses-0-percent": "5",
        },
    )
    assert owner.post(f"/admin/payments/gateway/{gw.pk}/change/", data).status_code == 302
    assert list(gw.bonuses.values_list("min_amount", "percent")) == [(Decimal(100), Decimal(5))]


# --- payments: the list, its filters, each payment's notifications -----------------------------------


@pytest.fixture
def stripe(fake_stripe, settings):  # noqa: F811 - the fixture imported above
    for name, value in fake_stripe.settings().items():
        setattr(settings, name, value)

    def deliver(body: bytes, headers: dict) -> int:
        return notify(body, headers).status_code

    fake_stripe.deliver = deliver
    assert gateways.by_name("stripe") is not None
    return fake_stripe


def notify(body: bytes, headers: dict):
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"}
    return Client().post("/payments/notify/stripe/", data=body, content_type="application/json", **meta)


def paid_less(stripe, account, asked: str, received_cents: int) -> Payment:
    """A Stripe payment whose verified message says less arrived than was asked: it needs attention."""
    payment = services.start_payment(account, "stripe", asked, return_url_base="http://testserver/funds/payments/")
    session = dict(stripe.session(payment.external_id), status="complete", payment_status="paid")
    session["amount_total"] = received_cents
    body, headers = stripe.event("checkout.session.completed", session)
    assert notify(body, headers).status_code == 200
    payment.refresh_from_db()
    assert payment.needs_attention and payment.credited == 0
    return payment


def test_the_payments_list_filters_by_gateway_state_attention_and_customer(owner, customer, bank, stripe):
    alice, bob = customer("0", username="alice"), customer("0", username="bob")
    transfer = services.submit_manual(alice.account, "bank", Decimal(20), "ALICE-REF")
    short = paid_less(stripe, bob.account, "30", 2500)
    paid = services.start_payment(alice.account, "stripe", "10", return_url_base="http://testserver/funds/payments/")
    stripe.pay(paid.external_id)

    def listed(query: str) -> set[int]:
        return listed_by(owner, CHANGELIST + query)

    assert listed("") == {transfer.pk, short.pk, paid.pk}
    assert listed("?attention=yes") == {short.pk}
    assert listed(f"?gateway__id__exact={bank.pk}") == {transfer.pk}
    assert listed("?state__exact=paid") == {paid.pk}
    assert listed("?customer=alice") == {transfer.pk, paid.pk}
    assert listed("?q=ALICE-REF") == {transfer.pk}
    body = owner.get(CHANGELIST + "?attention=yes").content.decode()
    assert "Paid less than asked: received 25.00 of 30.00 USD" in body
    assert '?attention=yes">1 payment needs attention</a>' in owner.get("/admin/").content.decode()


def test_each_payment_shows_its_notifications_read_only(owner, customer, stripe):
    cust = customer("0")
    payment = services.start_payment(cust.account, "stripe", "12", return_url_base="http://testserver/funds/payments/")
    stripe.pay(payment.external_id)
    body = owner.get(f"/admin/payments/payment/{payment.pk}/change/").content.decode()
    assert "credited 12.00 USD" in body  # what was done about it
    assert "checkout.session.completed" in body  # its raw body
    assert "Stripe-Signature" in body  # the header it was verified by
    assert not re.search(r'<(textarea|select|input type="(text|checkbox|number)")[^>]*name="notifications-', body)
    assert 'name="state"' not in body and 'value="Save"' not in body


# --- the decisions -----------------------------------------------------------------------------------


def test_approving_a_transfer_asks_first_then_credits_it_once_and_says_so_the_second_time(owner, customer, bank):
    cust = customer("0")
    payment = services.submit_manual(cust.account, "bank", Decimal(50), "REF-50")

    confirm = act(owner, "approve_transfers", [payment])
    assert "Approve and credit" in confirm.content.decode() and "REF-50" in confirm.content.decode()
    assert deposits(payment) == []  # nothing until confirmed

    done = act(owner, "approve_transfers", [payment], apply="1")
    assert said(done) == [f"Approved and credited: #{payment.pk}"]
    assert deposits(payment) == [("deposit", Decimal(50)), ("bonus", Decimal(5))]

    again = act(owner, "approve_transfers", [payment], apply="1")
    assert said(again) == [f"Already decided, nothing changed: #{payment.pk}"]
    assert deposits(payment) == [("deposit", Decimal(50)), ("bonus", Decimal(5))]
    assert cust.balance() == Decimal(55)
    money_is_conserved(cust)


def test_rejecting_a_transfer_asks_why_credits_nothing_and_a_credited_one_stays_credited(owner, customer, bank):
    cust = customer("0")
    wrong = services.submit_manual(cust.account, "bank", Decimal(10), "NO-SUCH-TX")
    right = services.submit_manual(cust.account, "bank", Decimal(15), "GOOD-TX")
    act(owner, "approve_transfers", [right], apply="1")

    no_reason = act(owner, "reject_transfers", [wrong], apply="1")
    assert "This field is required" in no_reason.content.decode()
    assert Payment.objects.get(pk=wrong.pk).state == Payment.State.PENDING

    done = act(owner, "reject_transfers", [wrong, right], apply="1", reason="Not on the bank statement")
    messages = said(done)
    assert f"Rejected: #{wrong.pk}" in messages
    assert any(m.startswith(f"#{right.pk}: This payment was credited already") for m in messages)
    wrong.refresh_from_db()
    assert wrong.state == Payment.State.CANCELED and "Not on the bank statement" in wrong.attention_reason
    assert deposits(wrong) == []
    assert said(act(owner, "reject_transfers", [wrong], apply="1", reason="again")) == [
        f"Already decided, nothing changed: #{wrong.pk}"
    ]
    assert cust.balance() == Decimal(15)


def test_settling_a_payment_that_needs_attention_credits_what_the_owner_says_once(owner, customer, stripe):
    cust = customer("0")
    payment = paid_less(stripe, cust.account, "30", 2500)

    confirm = act(owner, "settle", [payment])
    assert "Paid less than asked" in confirm.content.decode() and 'name="credit"' in confirm.content.decode()
    done = act(owner, "settle", [payment], apply="1", credit="25")
    assert said(done) == [f"Settled: #{payment.pk}"]
    again = act(owner, "settle", [payment], apply="1", credit="25")
    assert said(again) == [f"Already decided, nothing changed: #{payment.pk}"]
    assert deposits(payment) == [("deposit", Decimal(25))]
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID and not payment.needs_attention
    money_is_conserved(cust)


def test_a_view_only_staff_user_sees_payments_but_cannot_decide(customer, bank):
    cust = customer("0")
    payment = services.submit_manual(cust.account, "bank", Decimal(20), "REF-20")
    viewer = staff("viewer", "view_payment")
    page = viewer.get(CHANGELIST)
    assert page.status_code == 200 and "REF-20" in page.content.decode()
    assert not actions_offered(page) & {"approve_transfers", "reject_transfers", "settle"}

    for action in ("approve_transfers", "reject_transfers", "settle"):
        act(viewer, action, [payment], apply="1", reason="x", credit="20")
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING and deposits(payment) == []

    # "change" is not enough either: approving is a permission of its own.
    changer = staff("changer", "view_payment", "change_payment")
    act(changer, "approve_transfers", [payment], apply="1")
    assert deposits(payment) == []

    approver = staff("approver", "view_payment", "approve_payment")
    assert actions_offered(approver.get(CHANGELIST)) >= {"approve_transfers", "reject_transfers"}
    assert "settle" not in actions_offered(approver.get(CHANGELIST))
    act(approver, "approve_transfers", [payment], apply="1")
    assert deposits(payment) == [("deposit", Decimal(20))]


# --- the dashboard -----------------------------------------------------------------------------------


def test_the_dashboard_shows_deposits_fees_and_bonuses_per_gateway_per_day(owner, customer, bank, stripe):
    Gateway.objects.filter(name="stripe").update(fee_percent=Decimal(3))
    cust = customer("0")
    card = services.start_payment(cust.account, "stripe", "100", return_url_base="http://testserver/funds/payments/")
    stripe.pay(card.external_id)  # 100 deposited, 3.00 fee paid by the customer
    for amount in (60, 10):
        services.approve_manual(services.submit_manual(cust.account, "bank", Decimal(amount), "R").pk, None)
    services.submit_manual(cust.account, "bank", Decimal(500), "NOT-YET")  # not approved: not a deposit

    body = owner.get("/admin/").content.decode()
    section = body[body.index("Deposits by gateway") :]
    bank_row = re.search(r'<tr class="dash-gateway">.*?>bank</a>.*?</tr>', section, re.S)[0]
    assert bank_row.count("70.00 USD") == 3  # today, 7 days, 30 days
    assert "6.00 USD" in bank_row  # the 10 % bonus on 60
    stripe_row = re.search(r'<tr class="dash-gateway">.*?>stripe</a>.*?</tr>', section, re.S)[0]
    assert stripe_row.count("100.00 USD") == 3 and "3.00 USD" in stripe_row
    total = re.search(r'<tr class="dash-deposit-total">.*?</tr>', section, re.S)[0]
    assert total.count("170.00 USD") == 3
    days = re.findall(r'<tr class="dash-deposit-day">(.*?)</tr>', section, re.S)
    assert len(days) == 2 and all(re.search(r"<th scope=\"row\">\d{4}-\d\d-\d\d</th>", d) for d in days)
    link = re.search(r'<a href="([^"]+)">bank</a>', section)[1].replace("&amp;", "&")
    paid_by_bank = Payment.objects.filter(gateway=bank, state="paid").values_list("pk", flat=True)
    assert listed_by(owner, link) == set(paid_by_bank)
    assert "Revenue" in body and "Profit" in body  # beside the orders' figures
    assert '?attention=yes">0 payments need attention</a>' in body


@pytest.mark.django_db(transaction=True)
def test_owners_approving_one_transfer_at_once_credit_it_once_and_the_others_are_told(customer, bank):
    cust = customer("0")
    payment = services.submit_manual(cust.account, "bank", Decimal(20), "REF-RACE")
    owners = []
    for i in range(6):
        user = get_user_model().objects.create_superuser(f"owner{i}", f"o{i}@example.com", "pw-owner-1")
        c = Client()
        c.force_login(user)
        owners.append(c)
    barrier, answers = threading.Barrier(len(owners)), []

    def approve(c):
        try:
            barrier.wait(timeout=20)
            answers.append(said(act(c, "approve_transfers", [payment], apply="1")))
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(c,)) for c in owners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(answers) == sorted(
        [[f"Approved and credited: #{payment.pk}"]] + [[f"Already decided, nothing changed: #{payment.pk}"]] * 5
    )
    assert deposits(payment) == [("deposit", Decimal(20))]
    money_is_conserved(cust)


def test_asking_the_gateway_again_settles_a_payment_whose_webhook_was_lost(owner, customer, stripe):
    cust = customer("0")
    lost = services.start_payment(cust.account, "stripe", "9", return_url_base="http://testserver/funds/payments/")
    waiting = services.start_payment(cust.account, "stripe", "4", return_url_base="http://testserver/funds/payments/")
    stripe.drop_webhooks = True
    stripe.pay(lost.external_id)
    answer = act(owner, "ask_gateway", [lost, waiting])
    assert said(answer) == [
        f"Changed by the gateway's answer: #{lost.pk}",
        f"Nothing new from the gateway: #{waiting.pk}",
    ]
    assert deposits(lost) == [("deposit", Decimal(9))] and deposits(waiting) == []
    assert said(act(owner, "ask_gateway", [lost])) == [f"Nothing new from the gateway: #{lost.pk}"]
