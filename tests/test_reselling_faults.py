"""Reselling under each fault panel A (the provider) can inject, two smmpanels talking over real HTTP: no order
lost, none placed twice at A (counted there, by link), money conserved, and every order needing attention
shows in the admin with its reason.
"""

import time

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from smmpanel.orders.models import Order
from smmpanel.providers import engine
from smmpanel.providers.models import UpstreamOrder
from smmpanel.worker.loop import run_once

from .conftest import money_is_conserved
from .reselling import a_links, a_orders, drive, imported_catalog, link, settled  # noqa: F401 - imported_catalog is the `imported` fixture

FAULTS = {
    "latency": {"latency": [0.05, 0.3]},
    "add_timeout": {"add_timeout": 0.5, "hang_seconds": 5},
    "add_drop": {"add_drop": 0.5},
    "http_5xx": {"http_5xx": 0.4},
    "http_500_after_add": {"http_500_after_add": 0.5},
    "html": {"html": 0.4},
    "funds": {"funds": 0.5},
    "rate_limit": {"rate_limit": 0.4},
    "forget": {"forget": 0.3},
    "odd_shapes": {"spellings": True, "string_ids": True, "numbers": True, "bare_string_errors": True},
}

XDIST_SHARDS = 3  # ten faults, each ten seconds or more of waiting on panel A: three shards (docs/testing.md)


@pytest.mark.parametrize("fault", FAULTS)
def test_under_each_fault_no_order_is_lost_or_placed_twice_and_money_is_conserved(
    fault, imported, provider_panel, customer, api, client
):
    _, local = imported
    provider_panel.run_worker()
    provider_panel.set_faults({"seed": 7, **FAULTS[fault]})
    cust = customer("100")
    pks = [
        api(cust.key, "add", service=local["default"].pk, link=link(fault), quantity="100")["order"] for _ in range(12)
    ]
    # With the fault on for a while, then off until everything settles (a person's cases aside).
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        if not run_once(now=timezone.now()):
            time.sleep(0.05)
    provider_panel.set_faults({})
    Order.objects.filter(pk__in=pks, needs_attention=False).update(due_at=timezone.now())
    drive(settled(pks), timeout=90)

    held = a_links(provider_panel)
    orders = list(Order.objects.filter(pk__in=pks))
    for order in orders:
        assert held[order.link] <= 1, f"{order} placed {held[order.link]} times at A"
        if order.status == "Completed":
            assert held[order.link] == 1
    waiting = [o for o in orders if o.needs_attention]
    if fault in CLEAR_REFUSALS:
        assert not waiting, [o.attention_note for o in waiting]  # retried later: nothing for a person
    # Each order waiting for a person shows in the admin's "needs attention" list with its reason.
    admin = get_user_model().objects.create_superuser(f"owner-{fault}", "o@example.com", "pw")
    client.force_login(admin)
    page = client.get("/admin/orders/order/?attention=yes").content.decode().replace("&#x27;", "'")
    for order in waiting:
        assert f">{order.pk}<" in page and order.attention_note[:40] in page
    # The owner settles them as the note says: found at A, linked; not there, sent again.
    ids_at_a = {url: pk for pk, url in a_orders(provider_panel)}
    for order in waiting:
        row = UpstreamOrder.objects.get(order=order)
        if row.state == "ambiguous" and order.link in ids_at_a:
            assert engine.link_upstream_id(row.pk, str(ids_at_a[order.link]), user=admin)
        elif row.state == "ambiguous":
            assert engine.resend(order.pk, user=admin)
        else:  # placed, and A forgot it: A's order is there, so nothing to place again
            from smmpanel.orders import services

            services.resume(order.pk, "Checked at A.", user=admin)
    drive(lambda: Order.objects.filter(pk__in=pks, status="Completed").count() == len(pks), timeout=90)
    # No order lost, none placed twice.
    held = a_links(provider_panel)
    assert [held[o.link] for o in orders] == [1] * len(orders)
    money_is_conserved(cust)
    assert provider_panel.ledger_ok()


# Faults where A says clearly that it did nothing (or answers slowly / oddly but readably). Not a 502/503
# page: a proxy answers that also after the provider stored the order, so an add answered so waits for a person.
CLEAR_REFUSALS = ("latency", "funds", "rate_limit", "odd_shapes")
