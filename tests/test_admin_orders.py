"""The owner's order pages: actions that settle orders (once, however often clicked), filters, refills, history."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.utils import timezone

from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders import services
from smmpanel.orders.models import OrderEvent, Refill, Status
from smmpanel.orders.validation import validate_order
from smmpanel.providers.models import Provider, ProviderService, UpstreamOrder

from .conftest import money_is_conserved, new_link

ORDERS = "/admin/orders/order/"


@pytest.fixture
def owner_client(client, db):
    owner = get_user_model().objects.create_superuser("owner", "owner@example.com", "pw-owner-1")
    client.force_login(owner)
    return client


@pytest.fixture
def manual(customer, service):
    """manual(quantity=1000) -> (customer, order) of a manual service at 2 USD per 1000."""
    cust = customer("10")
    svc = service(rate="2", fulfilment="manual", cancel=True, refill=True)

    def make(quantity=1000, who=cust):
        req = validate_order(svc, {"link": new_link(), "quantity": str(quantity)})
        return who, services.place_order(who.account.pk, req)

    return make


def act(owner_client, action, *orders, **extra):
    data = {"action": action, "_selected_action": [o.pk for o in orders], **extra}
    return owner_client.post(ORDERS, data, follow=True)


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)] or [str(m) for m in response.context["messages"]]


def refunds(order) -> list:
    return list(LedgerEntry.objects.filter(order=order, kind="refund").values_list("reason", "amount"))


# --- cancel and refund ----------------------------------------------------------------------


def test_cancel_and_refund_clicked_twice_refunds_exactly_once_and_says_so(owner_client, manual):
    cust, order = manual()
    assert cust.balance() == Decimal("8.00000")

    first = act(owner_client, "cancel_and_refund", order, apply="1")
    assert first.status_code == 200
    assert f"Canceled, 2.00 USD refunded in all: #{order.pk}" in said(first)
    order.refresh_from_db()
    assert (order.status, order.refunded) == (Status.CANCELED, Decimal("2.00000"))
    assert cust.balance() == Decimal("10.00000")

    second = act(owner_client, "cancel_and_refund", order, apply="1")
    assert f"Already final, nothing changed and nothing refunded: #{order.pk}" in said(second)
    assert refunds(order) == [("canceled", Decimal("2.00000"))]
    assert cust.balance() == Decimal("10.00000")
    money_is_conserved(cust)


def test_cancel_and_refund_of_a_half_delivered_order_refunds_the_undelivered_half(owner_client, manual):
    cust, order = manual()
    services.apply_status(order.pk, Status.IN_PROGRESS, remains=500, actor="admin")
    act(owner_client, "cancel_and_refund", order, apply="1")
    order.refresh_from_db()
    assert (order.status, order.refunded) == (Status.PARTIAL, Decimal("1.00000"))
    assert cust.balance() == Decimal("9.00000")
    money_is_conserved(cust)


def test_cancel_and_refund_is_in_the_orders_history_with_the_owners_name(owner_client, manual):
    _, order = manual()
    act(owner_client, "cancel_and_refund", order, apply="1")
    event = OrderEvent.objects.filter(order=order, action="status").last()
    assert (event.actor, event.user.username, event.new_status) == ("admin", "owner", "Canceled")
    page = owner_client.get(f"{ORDERS}{order.pk}/change/").content.decode()
    assert "Canceled and refunded in the admin." in page


def test_cancel_and_refund_asks_first_and_changes_nothing_until_confirmed(owner_client, manual):
    cust, order = manual()
    ask = act(owner_client, "cancel_and_refund", order)
    page = ask.content.decode()
    assert "Cancel and refund" in page and f"#{order.pk}" in page and 'name="apply"' in page
    order.refresh_from_db()
    assert (order.status, order.refunded) == (Status.PENDING, Decimal(0))
    assert cust.balance() == Decimal("8.00000")


# --- marking and setting ----------------------------------------------------------------------


def test_mark_completed_completes_and_refunds_nothing(owner_client, manual):
    cust, order = manual()
    act(owner_client, "mark_completed", order)
    order.refresh_from_db()
    assert (order.status, order.remains, order.refunded) == (Status.COMPLETED, 0, Decimal(0))
    assert cust.balance() == Decimal("8.00000")
    # and a later cancel cannot take it back
    act(owner_client, "cancel_and_refund", order, apply="1")
    assert cust.balance() == Decimal("8.00000")


def test_mark_partial_refunds_what_remains(owner_client, manual):
    cust, order = manual()
    services.apply_status(order.pk, Status.IN_PROGRESS, remains=250, actor="admin")
    act(owner_client, "mark_partial", order)
    order.refresh_from_db()
    assert (order.status, order.refunded) == (Status.PARTIAL, Decimal("0.50000"))
    act(owner_client, "mark_partial", order)
    assert refunds(order) == [("partial", Decimal("0.50000"))]
    money_is_conserved(cust)


def test_set_counts_asks_first_then_sets_start_count_and_remains(owner_client, manual):
    cust, order = manual()
    ask = act(owner_client, "set_counts", order)
    assert "Set status, start count, remains" in ask.content.decode()
    order.refresh_from_db()
    assert order.status == Status.PENDING  # nothing yet

    done = act(owner_client, "set_counts", order, apply="1", status="In progress", start_count="1200", remains="300")
    assert f"Set: #{order.pk}" in said(done)
    order.refresh_from_db()
    assert (order.status, order.start_count, order.remains) == (Status.IN_PROGRESS, 1200, 300)

    act(owner_client, "set_counts", order, apply="1", status="Partial", start_count="", remains="")
    order.refresh_from_db()
    assert (order.status, order.refunded) == (Status.PARTIAL, Decimal("0.60000"))  # 2 × 300 / 1000
    money_is_conserved(cust)


def test_set_counts_refuses_a_change_the_rules_do_not_allow(owner_client, manual):
    _, order = manual()
    services.apply_status(order.pk, Status.IN_PROGRESS, actor="admin")
    # In progress never goes back to Pending; the form offers no Pending, and a forged one is refused.
    response = act(owner_client, "set_counts", order, apply="1", status="Pending", start_count="", remains="")
    order.refresh_from_db()
    assert order.status == Status.IN_PROGRESS
    assert "Set status, start count, remains" in response.content.decode()  # the form again, with its error


# --- provider orders: resend -------------------------------------------------------------------


@pytest.fixture
def provider_order(customer, service):
    """An order of a provider's service whose placing upstream was ambiguous (it needs attention)."""
    cust = customer("10")
    svc = service(rate="2", fulfilment="provider")
    provider = Provider.objects.create(name="Upstream X", api_url="https://x.test/api/v2", api_key="k" * 32)
    ProviderService.objects.create(service=svc, provider=provider, upstream_service="7")
    order = services.place_order(cust.account.pk, validate_order(svc, {"link": new_link(), "quantity": "1000"}))
    UpstreamOrder.objects.create(
        order=order, provider=provider, state=UpstreamOrder.State.AMBIGUOUS, submitted_at=timezone.now(), quantity=1000
    )
    services.flag_attention(order.pk, "No answer after sending.")
    return provider, order


def test_resend_forgets_the_ambiguous_attempt_once(owner_client, provider_order):
    _, order = provider_order
    first = act(owner_client, "resend_upstream", order)
    assert f"Will be sent to their provider again: #{order.pk}" in said(first)
    order.refresh_from_db()
    assert not order.needs_attention and order.due_at is not None
    assert not UpstreamOrder.objects.filter(order=order).exists()

    second = act(owner_client, "resend_upstream", order)
    assert f"No ambiguous placing to resend, nothing sent: #{order.pk}" in said(second)
    assert OrderEvent.objects.filter(order=order, action="resend").count() == 1


# --- filters ------------------------------------------------------------------------------------


def listed(owner_client, query: str) -> set[int]:
    response = owner_client.get(f"{ORDERS}?{query}")
    assert response.status_code == 200
    return {o.pk for o in response.context["cl"].result_list}


def test_orders_filter_by_provider_customer_status_and_attention(owner_client, manual, provider_order, customer):
    provider, sent = provider_order
    _, mine = manual()
    other = customer("10")
    _, theirs = manual(who=other)
    services.apply_status(theirs.pk, Status.COMPLETED, actor="admin")

    assert listed(owner_client, f"provider={provider.pk}") == {sent.pk}
    assert listed(owner_client, f"customer={other.user.username}") == {theirs.pk}
    assert listed(owner_client, "status__exact=Completed") == {theirs.pk}
    assert listed(owner_client, "attention=yes") == {sent.pk}
    assert listed(owner_client, f"service__id__exact={mine.service_id}") == {mine.pk, theirs.pk}
    page = owner_client.get(f"{ORDERS}?customer={other.user.username}").content.decode()
    assert f'value="{other.user.username}"' in page  # the customer box keeps what was typed


# --- refills and history ------------------------------------------------------------------------


def test_refill_actions_settle_a_refill_once(owner_client, manual):
    cust, order = manual()
    services.apply_status(order.pk, Status.COMPLETED, actor="admin")
    refill = services.request_refill(cust.account.pk, order.pk)
    data = {"action": "mark_completed", "_selected_action": [refill.pk]}
    owner_client.post("/admin/orders/refill/", data, follow=True)
    refill.refresh_from_db()
    assert refill.status == Refill.Status.COMPLETED
    again = owner_client.post("/admin/orders/refill/", {**data, "action": "mark_rejected"}, follow=True)
    assert f"Already settled, nothing changed: #{refill.pk}" in said(again)
    refill.refresh_from_db()
    assert refill.status == Refill.Status.COMPLETED


def test_the_order_history_lists_every_change_read_only(owner_client, manual):
    _, order = manual()
    act(owner_client, "mark_completed", order)
    page = owner_client.get("/admin/orders/orderevent/")
    assert page.status_code == 200
    assert f"/admin/orders/order/{order.pk}/change/" in page.content.decode()
    assert owner_client.get("/admin/orders/orderevent/add/").status_code == 403


@pytest.mark.parametrize("page", ["/admin/orders/order/", "/admin/orders/refill/", "/admin/orders/orderevent/"])
def test_a_customer_cannot_open_the_order_admin(client, customer, page):
    cust = customer("1")
    client.force_login(cust.user)
    response = client.get(page)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
