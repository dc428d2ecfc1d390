"""A batch of claimed rows is released in one statement under the rules of `release`, and read cheaply.

`release_many` (what the worker uses for a whole group) must keep every
guarantee of `release`: only rows the claim still holds are released, a due
time someone set after the claim is kept, each row gets its own next due time
and attempts. `claim_due` reads the queryset's select_related objects once
each and shares them among the rows.
"""

import time
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from smmpanel.orders import services
from smmpanel.orders.models import Order
from smmpanel.orders.validation import validate_order
from smmpanel.worker.claims import claim_due, release_many


def place(cust, svc, **fields):
    fields.setdefault("link", f"https://x.test/{time.monotonic_ns()}")
    return services.place_order(cust.account.pk, validate_order(svc, fields))


def claim_all(now, lease=60):
    return claim_due(Order.objects.select_related("service"), now, lease, 100)


def test_a_batch_release_gives_each_row_its_own_due_time_and_attempts(customer, service):
    cust = customer("100")
    svc = service(rate="1", fulfilment="manual")
    orders = [place(cust, svc, quantity="10") for _ in range(3)]
    now = timezone.now()
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(due_at=now - timedelta(seconds=1))
    rows = claim_all(now)
    assert sorted(r.pk for r in rows) == sorted(o.pk for o in orders)
    wanted = {
        rows[0].pk: (now + timedelta(seconds=10), 0),
        rows[1].pk: (None, 3),
        rows[2].pk: (now + timedelta(hours=1), None),
    }
    assert release_many([(row, *wanted[row.pk]) for row in rows]) == 3
    for row in rows:
        after = Order.objects.get(pk=row.pk)
        due, attempts = wanted[row.pk]
        assert after.due_at == due
        assert after.attempts == (row.attempts if attempts is None else attempts)
        assert (after.locked_until, after.claim_token) == (None, None)


def test_a_batch_release_keeps_a_due_time_set_after_the_claim(customer, service):
    cust = customer("100")
    svc = service(rate="1", fulfilment="manual", cancel=True)
    kept, moved = place(cust, svc, quantity="10"), place(cust, svc, quantity="10")
    now = timezone.now()
    Order.objects.filter(pk__in=[kept.pk, moved.pk]).update(due_at=now - timedelta(seconds=1))
    rows = claim_all(now)
    asked = now + timedelta(seconds=2)
    Order.objects.filter(pk=kept.pk).update(due_at=asked)  # a customer's cancel asks for it soon
    assert release_many([(row, now + timedelta(days=30), 0) for row in rows]) == 2
    assert Order.objects.get(pk=kept.pk).due_at == asked
    assert Order.objects.get(pk=moved.pk).due_at == now + timedelta(days=30)


def test_a_batch_release_leaves_rows_another_claim_took_over(customer, service):
    cust = customer("100")
    svc = service(rate="1", fulfilment="manual")
    orders = [place(cust, svc, quantity="10") for _ in range(2)]
    now = timezone.now()
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(due_at=now - timedelta(seconds=1))
    slow = claim_all(now, lease=1)
    fast = claim_all(now + timedelta(seconds=2))  # the slow claim's lease ran out
    assert len(fast) == 2
    assert release_many([(row, now + timedelta(days=1), 5) for row in slow]) == 0
    for row in fast:
        after = Order.objects.get(pk=row.pk)
        assert (after.claim_token, after.attempts, after.due_at) == (row.claim_token, 0, row.due_at)


def test_claimed_rows_share_their_related_objects_read_once(customer, service):
    cust = customer("100")
    svc = service(rate="1", fulfilment="manual")
    orders = [place(cust, svc, quantity="10") for _ in range(5)]
    now = timezone.now()
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(due_at=now - timedelta(seconds=1))
    rows = claim_all(now)
    with CaptureQueriesContext(connection) as queries:
        names = {row.service.name for row in rows}
    assert names == {svc.name} and len(queries) == 0
    assert len({id(row.service) for row in rows}) == 1
    assert [(r.due_at, r.pk) for r in rows] == sorted((r.due_at, r.pk) for r in rows)
