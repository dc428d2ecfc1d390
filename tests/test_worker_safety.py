"""The worker is safe to run many times over: whatever the lease, however many workers, killed or not.

The unit tests pin each guarantee down in-process (a claim's token fences
its writes, a release never postpones a due time set after the claim, a
subscription post exists once, failures back off and end in "needs
attention"). The scenario tests run real `smmpanel worker` processes with a
3 s lease against one database, race customers' cancels against them and
kill one with SIGKILL, then count: no post ordered twice, no refund twice,
the ledger adds up.
"""

import signal
import subprocess
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from smmpanel.orders import services
from smmpanel.orders.models import Order
from smmpanel.orders.validation import validate_order
from smmpanel.providers.models import Provider, ProviderService
from smmpanel.worker.claims import claim_due, release
from smmpanel.worker.loop import MAX_ATTEMPTS, run_once

from .conftest import PYTHON, REPO, money_is_conserved


def place(cust, svc, **fields):
    fields.setdefault("link", f"https://x.test/{time.monotonic_ns()}")
    return services.place_order(cust.account.pk, validate_order(svc, fields))


# --- in-process guarantees -------------------------------------------------------------------


def test_a_cancel_during_a_claim_is_not_postponed_by_the_release(customer, service):
    cust = customer("100")
    svc = service(rate="1", fulfilment="simulated", dripfeed=True, cancel=True)
    order = place(cust, svc, quantity="10", runs="3", interval="43200")  # next run in a month
    now = timezone.now() + timedelta(seconds=3)  # the simulator's first look
    [claimed] = claim_due(Order.objects.all(), now, 60, 10)
    services.request_cancel(cust.account.pk, order.pk)  # the customer, while the worker holds it
    cancel_due = Order.objects.get(pk=order.pk).due_at
    assert release(claimed, now + timedelta(days=30))
    assert Order.objects.get(pk=order.pk).due_at == cancel_due  # still due now, not in a month


def test_a_step_whose_lease_ran_out_changes_nothing(customer, service):
    cust = customer("100")
    order = place(cust, service(rate="1", fulfilment="simulated"), quantity="10")
    now = timezone.now() + timedelta(seconds=3)  # the simulator's first look
    [slow] = claim_due(Order.objects.all(), now, 1, 10)
    [fast] = claim_due(Order.objects.all(), now + timedelta(seconds=2), 60, 10)  # the lease ran out
    assert slow.claim_token != fast.claim_token
    with pytest.raises(services.LeaseLost):
        services.apply_status(order.pk, "Canceled", lease=slow.claim_token)
    assert not release(slow, None)
    after = Order.objects.get(pk=order.pk)
    assert (after.status, after.refunded, after.claim_token) == ("Pending", Decimal("0.00000"), fast.claim_token)
    services.apply_status(order.pk, "In progress", lease=fast.claim_token)
    assert release(fast, now)


def test_a_subscription_post_is_made_once_even_when_asked_twice(customer, service):
    cust = customer("100")
    svc = service(type="Subscriptions", rate="1", min=10, max=100, fulfilment="simulated")
    sub = services.place_order(
        cust.account.pk,
        validate_order(svc, {"username": "nasa", "min": "10", "max": "20", "delay": "0", "old_posts": "5"}),
    )
    first = services.add_post_order(sub.pk, number=1, old=True, link="https://x.test/p1", quantity=10)
    assert first is not None
    assert services.add_post_order(sub.pk, number=1, old=True, link="https://x.test/p1", quantity=10) is None
    assert services.add_post_order(sub.pk, number=3, old=True, link="https://x.test/p3", quantity=10) is None
    assert sub.children.count() == 1
    # And the database itself refuses a second order for one post, whatever code tries.
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(
            account_id=cust.account.pk,
            service=svc,
            type="Default",
            link="https://x.test/p1",
            quantity=10,
            total=10,
            parent=sub,
            post_number=1,
            post_is_old=True,
        )
    money_is_conserved(cust)


def test_a_status_the_table_does_not_allow_is_refused_and_changes_nothing(customer, service):
    cust = customer("100")
    order = place(cust, service(rate="1", fulfilment="manual"), quantity="10")
    from smmpanel.orders.errors import OrderError

    with pytest.raises(OrderError) as refused:
        services.apply_status(order.pk, "Expired")
    assert refused.value.code == "bad_transition"
    services.apply_status(order.pk, "In progress")
    with pytest.raises(OrderError):
        services.apply_status(order.pk, "Pending")
    assert Order.objects.get(pk=order.pk).status == "In progress"
    assert list(order.events.filter(action="status").values_list("old_status", "new_status")) == [
        ("Pending", "In progress")
    ]


def test_failing_steps_back_off_and_end_in_needs_attention_with_the_reason(customer, service, unused_port):
    cust = customer("100")
    provider = Provider.objects.create(
        name="down", api_url=f"http://127.0.0.1:{unused_port}/api/v2", api_key="k" * 20, timeout_seconds=1
    )
    svc = service(rate="1", fulfilment="provider")
    ProviderService.objects.create(service=svc, provider=provider, upstream_service="1")
    order = place(cust, svc, quantity="10")
    now = timezone.now()
    waits = []
    for attempt in range(1, MAX_ATTEMPTS):
        run_once(now=now)
        row = Order.objects.get(pk=order.pk)
        assert (row.attempts, row.needs_attention, row.status) == (attempt, False, "Pending")
        waits.append((row.due_at - now).total_seconds())
        now = row.due_at
    assert waits == sorted(waits) and waits[0] < 10 < waits[-1]  # backing off
    run_once(now=now)
    row = Order.objects.get(pk=order.pk)
    assert row.needs_attention and row.due_at is None
    assert f"Failed {MAX_ATTEMPTS} times in a row" in row.attention_note
    assert "down" in row.attention_note  # the provider's name and what went wrong
    assert row.events.filter(action="needs attention").count() == 1
    money_is_conserved(cust)


@pytest.fixture
def unused_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- real workers, a short lease, one database ----------------------------------------------------

SUBSCRIPTIONS = 8
OLD_POSTS = 500

SETUP = f"""
import json
from decimal import Decimal
from smmpanel.accounts.services import create_customer
from smmpanel.catalog.models import Category, Service
from smmpanel.fulfilment.models import SimulatedService
from smmpanel.orders import services
from smmpanel.orders.validation import validate_order

account, key = create_customer("subscriber", balance=Decimal("100000"))
category = Category.objects.create(name="Auto")
svc = Service.objects.create(name="Auto likes", category=category, type="Subscriptions", rate=Decimal("1"),
                             min=10, max=100, cancel=True, fulfilment="simulated")
SimulatedService.objects.create(service=svc, units_per_minute=10**7, post_every_seconds=86400)
subs = [services.place_order(account.pk, validate_order(svc, {{
    "username": f"user{{i}}", "min": "10", "max": "100", "delay": "0", "old_posts": "{OLD_POSTS}"}})).pk
    for i in range({SUBSCRIPTIONS})]
print(json.dumps({{"account": account.pk, "subs": subs}}))
"""


def progress(server, subs: list[int]) -> dict:
    """{subscription id: [status, old posts done]}, read from the server's database directly."""
    table = Order._meta.db_table
    column = Order._meta.get_field("old_posts_done").column
    marks = ", ".join(["%s"] * len(subs))
    rows = server.sql(f'SELECT id, status, "{column}" FROM {table} WHERE id IN ({marks})', subs)
    return {str(pk): [status, done] for pk, status, done in rows}


CANCEL = """
import json
from smmpanel.orders import services
for pk in SUBS:
    services.request_cancel(ACCOUNT, pk)
print(json.dumps({}))
"""

AUDIT = """
import json
from collections import Counter
from django.db.models import Count, Sum
from smmpanel.accounts.models import Account
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders.models import Order

account = Account.objects.get(pk=ACCOUNT)
ledger = LedgerEntry.objects.filter(account=account)
children = Order.objects.filter(parent_id__in=SUBS)
posts = Counter(children.values_list("parent_id", "post_is_old", "post_number"))
refunds = Counter(ledger.filter(kind="refund").values_list("order_id", "reason"))
subs = {str(s.pk): {"status": s.status, "old": s.old_posts_done, "new": s.posts_done,
                    "children": s.children.count()} for s in Order.objects.filter(pk__in=SUBS)}
print(json.dumps({
    "balance": str(account.balance),
    "ledger": str(ledger.aggregate(s=Sum("amount"))["s"]),
    "charged": str(-(ledger.filter(kind="charge").aggregate(s=Sum("amount"))["s"] or 0)),
    "children_charges": str(children.aggregate(s=Sum("charge"))["s"] or 0),
    "charges_per_order": max(ledger.filter(kind="charge").values("order").annotate(n=Count("id"))
                              .values_list("n", flat=True), default=0),
    "twice_made": [k for k, n in posts.items() if n > 1],
    "twice_refunded": [k for k, n in refunds.items() if n > 1],
    "subs": subs,
    "open_children": children.exclude(status__in=["Completed", "Partial", "Canceled"]).count(),
}))
"""


class Workers:
    def __init__(self, server, lease: float):
        self.server, self.lease, self.procs = server, lease, []

    def start(self, n: int = 1):
        env = {**self.server.env, "WORKER_LEASE_SECONDS": str(self.lease), "WORKER_POLL_SECONDS": "0.05"}
        for _ in range(n):
            log = open(self.server.data_dir / f"worker{len(self.procs)}.log", "ab")  # noqa: SIM115
            self.procs.append(
                subprocess.Popen(
                    [str(PYTHON), "-m", "smmpanel", "worker"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
                )
            )

    def kill_one(self):
        self.procs[0].send_signal(signal.SIGKILL)
        self.procs[0].wait(10)
        self.procs.pop(0)

    def stop(self):
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


def _python(server, code: str, **values) -> dict:
    for name, value in values.items():
        code = f"{name.upper()} = {value!r}\n{code}"
    return server.python(code)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def worker_database(request, tmp_path):
    """The scenario's own database: a SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'workers.sqlite3'}"
    return request.getfixturevalue("throwaway_postgres_db")


def test_racing_workers_with_a_short_lease_and_a_kill_never_order_a_post_twice(panel_server, worker_database):
    server = panel_server(worker_database)
    world = server.python(SETUP)
    subs, account = world["subs"], world["account"]
    workers = Workers(server, lease=3)
    workers.start(2)
    try:
        # Wait until the posts are being made, then kill one worker mid-batch and start another.
        deadline = time.monotonic() + 120
        while sum(done for _, done in progress(server, subs).values()) < OLD_POSTS:
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.3)
        workers.kill_one()
        workers.start(1)
        # Customers cancel three subscriptions while the workers are at them.
        _python(server, CANCEL, subs=subs[:3], account=account)
        deadline = time.monotonic() + 600
        while True:
            state = progress(server, subs)
            if all(status == "Canceled" for status, _ in (state[str(pk)] for pk in subs[:3])) and all(
                done == OLD_POSTS for _, done in (state[str(pk)] for pk in subs[3:])
            ):
                break
            assert time.monotonic() < deadline, f"subscriptions did not finish: {state}"
            time.sleep(0.5)
    finally:
        workers.stop()
    audit = _python(server, AUDIT, subs=subs, account=account)
    assert audit["twice_made"] == [] and audit["twice_refunded"] == []
    assert audit["charges_per_order"] == 1
    for pk in subs:
        sub = audit["subs"][str(pk)]
        assert sub["children"] == sub["old"] + sub["new"], (pk, sub)
        assert sub["old"] <= OLD_POSTS
    # Pay-per-post: the customer paid exactly for the posts made, and the ledger is the balance.
    assert Decimal(audit["charged"]) == Decimal(audit["children_charges"])
    assert Decimal(audit["balance"]) == Decimal(audit["ledger"])
    # Nothing is refunded here (no post order stops short), so what left the balance is what was charged.
    assert Decimal(audit["balance"]) == Decimal("100000") - Decimal(audit["charged"])
