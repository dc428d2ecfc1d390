"""The worker: claims that never hand one row to two workers, and a clean stop on SIGTERM."""

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from smmpanel.orders import services
from smmpanel.orders.models import Order
from smmpanel.orders.validation import validate_order
from smmpanel.worker.claims import claim_due, release

from .conftest import REPO

# The simulated kind first looks at an order 2 s after it is placed.
FIRST_LOOK = timedelta(seconds=3)


def place_many(cust, service, n):
    return [
        services.place_order(
            cust.account.pk, validate_order(service, {"link": f"https://x.test/{i}", "quantity": "10"})
        )
        for i in range(n)
    ]


def test_a_claimed_row_is_not_claimed_again_until_its_lease_runs_out(customer, service):
    cust = customer("100")
    svc = service(rate="1", fulfilment="simulated")
    place_many(cust, svc, 3)
    now = timezone.now() + FIRST_LOOK
    first = claim_due(Order.objects.all(), now, lease_seconds=60, limit=10)
    assert len(first) == 3
    assert claim_due(Order.objects.all(), now, lease_seconds=60, limit=10) == []
    later = now + timedelta(seconds=61)
    assert len(claim_due(Order.objects.all(), later, lease_seconds=60, limit=10)) == 3


def test_a_released_row_is_due_again_at_the_time_given(customer, service):
    cust = customer("100")
    order = place_many(cust, service(rate="1", fulfilment="simulated"), 1)[0]
    now = timezone.now() + FIRST_LOOK
    [claimed] = claim_due(Order.objects.all(), now, 60, 10)
    release(claimed, now + timedelta(seconds=5))
    assert claim_due(Order.objects.all(), now + timedelta(seconds=4), 60, 10) == []
    assert [o.pk for o in claim_due(Order.objects.all(), now + timedelta(seconds=5), 60, 10)] == [order.pk]


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_claim_the_same_row(customer, service):
    cust = customer("1000")
    orders = place_many(cust, service(rate="1", fulfilment="simulated"), 60)
    now = timezone.now() + FIRST_LOOK
    claimed: list[int] = []
    lock = threading.Lock()
    errors = []

    def worker():
        try:
            while True:
                rows = claim_due(Order.objects.all(), now, 60, 4)
                if not rows:
                    return
                with lock:
                    claimed.extend(r.pk for r in rows)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert [pk for pk, n in Counter(claimed).items() if n > 1] == []
    assert sorted(claimed) == sorted(o.pk for o in orders)


def test_the_worker_stops_cleanly_on_sigterm(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(SMMPANEL_DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    subprocess.run([sys.executable, "-m", "smmpanel", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    worker = subprocess.Popen(
        [sys.executable, "-m", "smmpanel", "worker"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert worker.stdout.readline().strip() == "smmpanel worker started"
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
        assert "smmpanel worker stopped" in worker.stdout.read()
    finally:
        if worker.poll() is None:
            worker.kill()
