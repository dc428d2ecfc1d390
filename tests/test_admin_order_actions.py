"""No admin action leaves an order where nobody looks at it again: each action on each state an order can be in.

After the action, and again after a worker pass (the provider a real HTTP
server on 127.0.0.1), the order is final, or "needs attention" with its
reason, or due for the worker, which then does something with it; an open
manual order is a person's own queue. And the money adds up.
"""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from smmpanel.orders import services
from smmpanel.orders.models import Order, Status
from smmpanel.orders.validation import validate_order
from smmpanel.providers.models import Provider, ProviderService, UpstreamOrder
from smmpanel.worker.loop import run_once

from .conftest import money_is_conserved, new_link
from .fake_provider import fake_provider

ORDERS = "/admin/orders/order/"
State = UpstreamOrder.State

# Each action as the admin posts it, its confirmation page answered.
ACTIONS = {
    "cancel_and_refund": {"apply": "1"},
    "mark_completed": {},
    "mark_partial": {},
    "set_counts": {"apply": "1", "status": "In progress", "start_count": "100", "remains": "500"},
    "look_again": {},
    "resend_upstream": {},
}


@pytest.fixture
def upstream():
    with fake_provider() as server:
        yield server


@pytest.fixture
def shop(db, customer, service, upstream):
    cust = customer("100")
    provider = Provider.objects.create(name="Upstream X", api_url=upstream.url, api_key="k" * 32, timeout_seconds=5)
    forwarded = service(rate="2", fulfilment="provider", cancel=True)
    ProviderService.objects.create(service=forwarded, provider=provider, upstream_service="1")
    kinds = {
        "provider": forwarded,
        "manual": service(rate="2", fulfilment="manual", cancel=True),
        "simulated": service(rate="2", fulfilment="simulated", sim_units_per_minute=1),
    }

    def place(kind: str) -> Order:
        return services.place_order(
            cust.account.pk, validate_order(kinds[kind], {"link": new_link(), "quantity": "1000"})
        )

    def upstream_row(order: Order, state: str, **fields) -> UpstreamOrder:
        return UpstreamOrder.objects.create(
            order=order, provider=provider, state=state, submitted_at=timezone.now(), quantity=1000, **fields
        )

    def placed(order: Order) -> None:
        upstream_id = next(upstream.ids)
        upstream.placed[upstream_id] = 1000
        upstream_row(order, State.PLACED, upstream_id=str(upstream_id))
        services.apply_status(order.pk, Status.IN_PROGRESS, actor="provider")

    return cust, place, upstream_row, placed


def provider_not_yet_sent(place, upstream_row, placed):
    return place("provider")


def provider_sending_ambiguous(place, upstream_row, placed):
    order = place("provider")
    upstream_row(order, State.AMBIGUOUS, message="No answer after sending.")
    services.flag_attention(order.pk, "No answer after sending: check at the provider.")
    return order


def provider_sending_interrupted(place, upstream_row, placed):
    order = place("provider")  # a worker died after committing its attempt, an hour ago
    row = upstream_row(order, State.SUBMITTING, submit_token=1)
    UpstreamOrder.objects.filter(pk=row.pk).update(submitted_at=timezone.now() - timedelta(hours=1))
    return order


def provider_in_progress(place, upstream_row, placed):
    order = place("provider")
    placed(order)
    return order


def provider_needing_attention(place, upstream_row, placed):
    order = place("provider")
    placed(order)
    services.flag_attention(order.pk, "The provider did not know this order 3 times.")
    return order


def provider_cancel_requested(place, upstream_row, placed):
    order = place("provider")
    placed(order)
    services.request_cancel(order.account_id, order.pk)
    return order


def provider_completed(place, upstream_row, placed):
    order = place("provider")
    placed(order)
    services.apply_status(order.pk, Status.COMPLETED, actor="provider")
    return order


def manual_pending(place, upstream_row, placed):
    return place("manual")


def manual_in_progress(place, upstream_row, placed):
    order = place("manual")
    services.apply_status(order.pk, Status.IN_PROGRESS, remains=400, actor="admin")
    return order


def manual_cancel_requested(place, upstream_row, placed):
    order = place("manual")
    services.request_cancel(order.account_id, order.pk)
    return order


def manual_canceled(place, upstream_row, placed):
    order = place("manual")
    services.apply_status(order.pk, Status.CANCELED, actor="admin")
    return order


def simulated_pending(place, upstream_row, placed):
    return place("simulated")


STATES = [
    provider_not_yet_sent,
    provider_sending_ambiguous,
    provider_sending_interrupted,
    provider_in_progress,
    provider_needing_attention,
    provider_cancel_requested,
    provider_completed,
    manual_pending,
    manual_in_progress,
    manual_cancel_requested,
    manual_canceled,
    simulated_pending,
]


def nobody_looks(order_id: int) -> str | None:
    """Why nobody would ever look at this order again (None: someone will)."""
    order = Order.objects.select_related("service").get(pk=order_id)
    if order.is_final:
        return None
    if order.needs_attention:
        return None if order.attention_note.strip() else "needs attention, but says not why"
    if not order.service.kind.worker_driven:
        return None  # an open manual order is on a person's list by being open
    if order.due_at is None:
        return f"{order.status}, not due, not flagged: no worker and no person will look at it"
    if UpstreamOrder.objects.filter(order=order, state=State.AMBIGUOUS).exists():
        return "due, but the worker never resends an ambiguous sending: it will wait for nobody"
    return None


@pytest.mark.parametrize("state", STATES, ids=[s.__name__ for s in STATES])
@pytest.mark.parametrize("action", list(ACTIONS))
def test_no_admin_action_leaves_an_order_where_nobody_looks(client, shop, upstream, action, state):
    cust, place, upstream_row, placed = shop
    order = state(place, upstream_row, placed)
    owner = get_user_model().objects.create_superuser("owner", "owner@example.com", "pw-owner-1")
    client.force_login(owner)

    response = client.post(ORDERS, {"action": action, "_selected_action": [order.pk], **ACTIONS[action]})
    assert response.status_code == 302  # done, back to the list (no page asking again)
    assert nobody_looks(order.pk) is None, f"after {action}: {nobody_looks(order.pk)}"

    run_once(now=timezone.now() + timedelta(minutes=1))  # what the worker makes of it
    assert nobody_looks(order.pk) is None, f"after {action} and a worker pass: {nobody_looks(order.pk)}"
    money_is_conserved(cust)


def test_look_again_on_an_ambiguous_sending_says_what_to_do_instead(client, shop):
    _, place, upstream_row, placed = shop
    order = provider_sending_ambiguous(place, upstream_row, placed)
    client.force_login(get_user_model().objects.create_superuser("owner", "owner@example.com", "pw-owner-1"))
    response = client.post(ORDERS, {"action": "look_again", "_selected_action": [order.pk]}, follow=True)
    words = [str(m) for m in response.context["messages"]]
    assert any(f"#{order.pk} still needs attention" in w and "resend" in w for w in words), words
    order.refresh_from_db()
    assert order.needs_attention and order.attention_note.startswith("No answer after sending")
