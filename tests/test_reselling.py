"""Reselling end to end: our panel (B, in this process) forwards orders to a real provider panel (A, over HTTP).

B's worker runs in-process (`run_once`), A is a second smmpanel on 127.0.0.1
with its own worker moving its simulated orders on (tests/providers_harness.py).
Each test checks what a customer and the panel owner would notice: statuses,
money on both sides, how many orders A really holds, and the order's history.
"""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from smmpanel.catalog.models import Category, Service
from smmpanel.orders.models import Order, OrderEvent, Refill
from smmpanel.providers.models import Provider, ProviderService, UpstreamOrder
from smmpanel.worker.loop import run_once

from .conftest import money_is_conserved

MARKUP = Decimal("1.5")


@pytest.fixture
def reseller(db, settings, provider_panel):
    """B's provider row for panel A, and a local service for each of A's (at 1.5 × A's rate)."""
    settings.PROVIDER_SYNC_SECONDS = 0.2
    provider = Provider.objects.create(
        name="A", api_url=provider_panel.url, api_key=provider_panel.key, timeout_seconds=5, requests_per_second=1000
    )
    category, _ = Category.objects.get_or_create(name="Resold")
    local = {}
    from tests.providers_harness import CATALOG

    for key, (type_, rate, low, high, options) in CATALOG.items():
        svc = Service.objects.create(
            name=f"Resold {key}",
            category=category,
            type=type_,
            rate=Decimal(rate) * MARKUP,
            min=low,
            max=high,
            fulfilment="provider",
            **{k: v for k, v in options.items() if not k.startswith("sim_")},
        )
        ProviderService.objects.create(
            service=svc,
            provider=provider,
            upstream_service=str(provider_panel.services[key]),
            upstream_type=type_,
            upstream_rate=Decimal(rate),
            upstream_dripfeed=options.get("dripfeed", False),
        )
        local[key] = svc
    return provider, local


def drive(until, timeout: float = 30, minutes_per_pass: float = 0):
    """Run B's worker passes until `until()` is true (B's clock may run ahead by `minutes_per_pass` a pass)."""
    deadline = time.monotonic() + timeout
    ahead = timedelta()
    while not until():
        assert time.monotonic() < deadline, "B's orders did not settle in time"
        ahead += timedelta(minutes=minutes_per_pass)
        if not run_once(now=timezone.now() + ahead):
            time.sleep(0.1)


def all_final(*order_ids):
    return lambda: all(Order.objects.get(pk=pk).is_final for pk in order_ids)


def upstream(order_id):
    return UpstreamOrder.objects.filter(order_id=order_id).first()


def test_orders_of_every_kind_are_placed_once_upstream_and_follow_the_providers_status(
    reseller, provider_panel, customer, place, api
):
    _, svc = reseller
    cust = customer("100")
    provider_panel.run_worker()
    before_count, before_balance = provider_panel.order_count(), provider_panel.balance()
    ids = [
        place(cust, svc["default"], quantity="1000"),
        place(cust, svc["default"], quantity="100", runs="3", interval="1"),  # forwarded with its runs
        place(cust, svc["package"]),
        place(cust, svc["custom_comments"], comments="nice\ngreat\nwow"),
        place(cust, svc["mentions"], quantity="100", usernames="alice\nbob"),
        place(cust, svc["poll"], quantity="50", answer_number="2"),
        place(cust, svc["comment_replies"], username="alice", comments="one\ntwo"),
    ]
    drip = ids[1]
    drive(lambda: all(upstream(pk) and upstream(pk).state == "placed" for pk in ids))
    assert provider_panel.order_count() == before_count + len(ids)
    drive(all_final(*[pk for pk in ids if pk != drip]))
    for pk in ids:
        if pk == drip:
            continue
        body = api(cust.key, "status", order=pk)
        assert body["status"] == "Completed", (pk, body)
    # A charged its own prices for what B forwarded; B's customer paid B's (marked-up) prices.
    paid_upstream = before_balance - provider_panel.balance()
    charged_here = sum(Order.objects.get(pk=pk).charge for pk in ids)
    assert paid_upstream > 0
    assert charged_here == (paid_upstream * MARKUP).quantize(Decimal("0.00001"))
    assert provider_panel.ledger_ok()
    money_is_conserved(cust)
    # The history says who did what.
    actions = set(OrderEvent.objects.filter(order_id=ids[0]).values_list("action", flat=True))
    assert {"placed upstream", "status"} <= actions
    # The drip-feed went out as one upstream order carrying its runs.
    assert UpstreamOrder.objects.filter(order_id=drip).count() == 1
    assert provider_panel.order_count() == before_count + len(ids)


def test_an_order_the_provider_refuses_is_canceled_and_refunded_with_its_words(reseller, customer, place):
    _, svc = reseller
    ProviderService.objects.filter(service=svc["seo"]).update(upstream_service="999999")
    cust = customer("10")
    pk = place(cust, svc["seo"], quantity="100", keywords="smm")
    drive(all_final(pk))
    order = Order.objects.get(pk=pk)
    assert order.status == "Canceled" and order.refunded == order.charge
    assert upstream(pk).state == "refused"
    assert "Incorrect service ID" in OrderEvent.objects.filter(order_id=pk).last().message
    money_is_conserved(cust)


def test_a_provider_out_of_funds_is_asked_again_later_and_the_order_stays_pending(
    reseller, provider_panel, customer, place, api
):
    _, svc = reseller
    cust = customer("10")
    provider_panel.set_faults({"funds": 1.0, "actions": ["add"]})
    before = provider_panel.order_count()
    pk = place(cust, svc["default"], quantity="100")
    run_once(now=timezone.now())
    order = Order.objects.get(pk=pk)
    assert (order.status, order.attempts, order.needs_attention) == ("Pending", 1, False)
    assert order.due_at > timezone.now()  # backed off
    assert upstream(pk) is None and provider_panel.order_count() == before
    assert api(cust.key, "status", order=pk)["status"] == "Pending"
    provider_panel.set_faults({})
    Order.objects.filter(pk=pk).update(due_at=timezone.now())
    drive(lambda: upstream(pk) is not None and upstream(pk).state == "placed")
    assert provider_panel.order_count() == before + 1


def test_a_timeout_after_sending_is_never_resent_and_waits_for_a_person(reseller, provider_panel, customer, place):
    provider, svc = reseller
    Provider.objects.filter(pk=provider.pk).update(timeout_seconds=1)
    cust = customer("10")
    provider_panel.set_faults({"add_timeout": 1.0, "hang_seconds": 3, "actions": ["add"]})
    before = provider_panel.order_count()
    pk = place(cust, svc["default"], quantity="100")
    run_once(now=timezone.now())
    order = Order.objects.get(pk=pk)
    assert order.needs_attention and "may or may not have been placed" in order.attention_note
    assert upstream(pk).state == "ambiguous"
    provider_panel.set_faults({})
    for _ in range(3):  # nothing is due: no pass sends it again
        run_once(now=timezone.now())
    assert provider_panel.wait_for(lambda p: p.order_count() == before + 1)
    time.sleep(0.5)
    assert provider_panel.order_count() == before + 1
    # The owner finds it at the provider and links it: from then on it is synced like any other.
    from smmpanel.providers import engine

    upstream_id = max(provider_panel.orders())
    assert engine.link_upstream_id(upstream(pk).pk, str(upstream_id))
    provider_panel.run_worker()
    drive(all_final(pk))
    assert Order.objects.get(pk=pk).status == "Completed"
    assert provider_panel.order_count() == before + 1


def test_a_cancel_is_forwarded_and_refunded_once_the_provider_reports_it(
    reseller, provider_panel, customer, place, api
):
    _, svc = reseller
    cust = customer("50")
    provider_panel.run_worker()
    pk = place(cust, svc["slow"], quantity="1000")
    drive(lambda: upstream(pk) is not None and upstream(pk).state == "placed")
    assert api(cust.key, "cancel", orders=str(pk)) == [{"order": pk, "cancel": 1}]
    drive(all_final(pk))
    order = Order.objects.get(pk=pk)
    assert order.status in ("Canceled", "Partial")
    assert order.refunded == (order.charge * order.remains / order.total).quantize(Decimal("0.00001"))
    assert upstream(pk).cancel_sent_at is not None
    money_is_conserved(cust)


def test_a_refill_is_forwarded_and_its_status_follows_the_providers(reseller, provider_panel, customer, place, api):
    _, svc = reseller
    cust = customer("50")
    provider_panel.run_worker()
    pk = place(cust, svc["default"], quantity="100")
    drive(all_final(pk))
    refill_id = int(api(cust.key, "refill", order=pk)["refill"])
    drive(lambda: Refill.objects.get(pk=refill_id).status == "Completed", timeout=40)
    assert Refill.objects.get(pk=refill_id).upstream.upstream_id


def test_an_order_the_provider_no_longer_knows_goes_to_needs_attention(reseller, provider_panel, customer, place):
    _, svc = reseller
    cust = customer("50")
    pk = place(cust, svc["slow"], quantity="1000")
    drive(lambda: upstream(pk) is not None and upstream(pk).state == "placed")
    provider_panel.set_faults({"forget": 1.0})
    drive(lambda: Order.objects.get(pk=pk).needs_attention)
    assert "does not know its order" in Order.objects.get(pk=pk).attention_note


def test_a_drip_feed_the_provider_cannot_run_is_run_here_one_upstream_order_a_run(
    reseller, provider_panel, customer, place, api
):
    _, svc = reseller
    ProviderService.objects.filter(service=svc["default"]).update(upstream_dripfeed=False)
    cust = customer("50")
    provider_panel.run_worker()
    before = provider_panel.order_count()
    pk = place(cust, svc["default"], quantity="100", runs="3", interval="10")
    # B's clock runs ahead 4 minutes a pass: a run every ~3 passes; A delivers each in a second or two.
    drive(all_final(pk), timeout=60, minutes_per_pass=4)
    runs = UpstreamOrder.objects.filter(order_id=pk).order_by("run")
    assert [(r.run, r.quantity, r.state) for r in runs] == [(1, 100, "placed"), (2, 100, "placed"), (3, 100, "placed")]
    assert provider_panel.order_count() == before + 3
    order = Order.objects.get(pk=pk)
    assert (order.status, order.remains, order.refunded) == ("Completed", 0, Decimal("0.00000"))
    assert api(cust.key, "status", order=pk)["status"] == "Completed"
    money_is_conserved(cust)


def test_a_canceled_drip_feed_run_here_stops_its_runs_and_refunds_what_was_not_delivered(
    reseller, provider_panel, customer, place, api
):
    _, svc = reseller
    ProviderService.objects.filter(service=svc["default"]).update(upstream_dripfeed=False)
    cust = customer("50")
    provider_panel.run_worker()
    pk = place(cust, svc["default"], quantity="100", runs="4", interval="60")
    drive(lambda: UpstreamOrder.objects.filter(order_id=pk, status="Completed").exists(), timeout=30)
    assert api(cust.key, "cancel", order=str(pk)) == [{"order": pk, "cancel": 1}]
    drive(all_final(pk), timeout=30, minutes_per_pass=30)
    order = Order.objects.get(pk=pk)
    assert UpstreamOrder.objects.filter(order_id=pk).count() == 1  # no run sent after the cancel
    assert (order.status, order.remains) == ("Partial", 300)
    assert order.refunded == (order.charge * 3 / 4).quantize(Decimal("0.00001"))
    money_is_conserved(cust)


def test_a_forwarded_subscription_follows_the_provider_and_refunds_the_unused_share(
    reseller, provider_panel, customer, place, api
):
    _, svc = reseller
    cust = customer("100")
    provider_panel.run_worker()
    paid_before = provider_panel.balance()
    refused = api(cust.key, "add", service=svc["subscriptions"].pk, username="nasa", min="10", max="20", delay="0")
    assert refused == {"error": "This service needs posts: the number of new posts to order for"}
    pk = place(cust, svc["subscriptions"], username="nasa", min="10", max="20", posts="3", old_posts="2", delay="0")
    drive(all_final(pk), timeout=60)
    sub = Order.objects.get(pk=pk)
    assert sub.status == "Completed" and sub.posts_done == 5  # as the provider counts: 3 new + 2 old
    paid_upstream = paid_before - provider_panel.wait_for(
        lambda p: p.balance() if p.balance() > paid_before - Decimal("1") else None
    )
    # The customer kept paying only for the share the provider used, at our price.
    kept = sub.charge - sub.refunded
    assert 0 < kept < sub.charge
    body = api(cust.key, "status", order=pk)
    assert body["status"] == "Completed" and body["posts"] == "5"
    assert Decimal(body["charge"]) == kept
    assert paid_upstream > 0
    money_is_conserved(cust)


def test_an_answer_that_comes_after_the_lease_ran_out_still_counts_and_nothing_is_sent_twice(reseller, customer, place):
    """Worker 1 sent the order and waits; its lease runs out; worker 2 finds the attempt unanswered."""
    from smmpanel.providers import engine
    from smmpanel.worker.claims import claim_due

    provider, svc = reseller
    cust = customer("10")
    pk = place(cust, svc["default"], quantity="100")
    now = timezone.now()
    [first] = claim_due(Order.objects.filter(pk=pk), now, 1, 1)
    row = UpstreamOrder.objects.create(
        order_id=pk,
        provider=provider,
        state="submitting",
        submit_token=first.claim_token,
        submitted_at=now,
        quantity=100,
    )
    later = now + timedelta(seconds=2)
    [second] = claim_due(Order.objects.filter(pk=pk).select_related("service__upstream__provider"), later, 60, 1)
    outcome = engine.advance_orders([second], later)[pk]
    # Worker 2 neither resends nor gives up while worker 1 may still get its answer.
    assert outcome.next_due >= now + timedelta(seconds=provider.timeout_seconds)
    assert UpstreamOrder.objects.get(pk=row.pk).state == "submitting"
    assert not Order.objects.get(pk=pk).needs_attention
    # Worker 1's answer arrives: recorded, though its lease is gone.
    assert engine._placed(row, 4242, lease=first.claim_token)
    assert UpstreamOrder.objects.get(pk=row.pk).upstream_id == "4242"
    # Much later worker 2 looks again: placed, so it is synced, never flagged or sent again.
    assert UpstreamOrder.objects.filter(order_id=pk).count() == 1
    assert not Order.objects.get(pk=pk).needs_attention


def test_an_attempt_nobody_answers_goes_to_a_person_after_the_grace_and_is_not_resent(reseller, customer, place):
    from smmpanel.providers import engine
    from smmpanel.worker.claims import claim_due

    provider, svc = reseller
    cust = customer("10")
    pk = place(cust, svc["default"], quantity="100")
    now = timezone.now()
    UpstreamOrder.objects.create(
        order_id=pk, provider=provider, state="submitting", submit_token=1, submitted_at=now, quantity=100
    )
    much_later = now + timedelta(minutes=5)
    [claimed] = claim_due(Order.objects.filter(pk=pk).select_related("service__upstream__provider"), much_later, 60, 1)
    engine.advance_orders([claimed], much_later)
    order = Order.objects.get(pk=pk)
    assert order.needs_attention and "interrupted" in order.attention_note
    assert UpstreamOrder.objects.get(order_id=pk).state == "ambiguous"
    assert engine._placed(UpstreamOrder.objects.get(order_id=pk), 99, lease=2) is False  # not that attempt's
