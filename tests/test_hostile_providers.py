"""A provider (someone else's server) can slow, stall or poison only its own orders.

The providers are real HTTP servers on 127.0.0.1 (tests/hostile_providers.py):
one trickles its answers a byte at a time, one sends 50 MB, one sends 1e30
where a count belongs, and some answer an `add` with a proxy's error after
storing the order. What is shown:

- the client: every request ends by its deadline however slowly the answer
  trickles (headers or body), and an answer is refused past its size limit
  without being held in memory;
- the engine: impossible numbers flag their own order, never the batch; an
  `add` answered 502/503 is never sent again; a duplicate-link refusal after
  an earlier attempt that reached the provider goes to a person;
- one real worker process with all of them at once: the other providers' and
  the simulated orders complete on time, its memory stays bounded, and only
  the hostile providers' orders are flagged.
"""

import gc
import os
import subprocess
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from smmpanel.client import BadResponse, Client, TransportError
from smmpanel.orders import services
from smmpanel.orders.models import Order
from smmpanel.orders.validation import validate_order
from smmpanel.providers import engine
from smmpanel.providers.models import Provider, ProviderService, UpstreamOrder
from smmpanel.worker import loop
from smmpanel.worker.claims import claim_due
from smmpanel.worker.loop import run_once
from tests.hostile_providers import HUGE_BYTES, Huge, LandsThen, Liar, Panel, SlowAdd, Trickler

from .conftest import REPO


@pytest.fixture
def panels():
    """panels(panel): the panel, closed after the test; then the worker's step threads end, and with them
    their database connections (the test database cannot be dropped while they hold it)."""
    opened = []

    def keep(panel):
        opened.append(panel)
        return panel

    yield keep
    for panel in opened:
        panel.close()  # a trickle or a stream still going ends here: so do the requests waiting on it
    if loop._threads.cache_info().currsize:
        loop._threads().shutdown(wait=True)
        loop._threads.cache_clear()
        gc.collect()


def sells(service, panel, name: str, timeout: int = 10):
    """A local service forwarded to `panel`."""
    provider = Provider.objects.create(
        name=name, api_url=panel.url, api_key="k" * 20, timeout_seconds=timeout, requests_per_second=1000
    )
    svc = service(rate="1", fulfilment="provider")
    ProviderService.objects.create(service=svc, provider=provider, upstream_service="1")
    return svc


def order(cust, svc, link: str) -> int:
    return services.place_order(cust.account.pk, validate_order(svc, {"link": link, "quantity": "10"})).pk


def later(minutes: float):
    return timezone.now() + timedelta(minutes=minutes)


# --- the client: a deadline for the whole request, a limit on the answer ------------------------------


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_trickling_answer_ends_at_the_requests_deadline(panels, headers_too):
    panel = panels(Trickler(every=0.2, headers_too=headers_too))  # ~40 s for its whole answer
    panel.orders[7001] = "https://x.test/a"
    started = time.monotonic()
    with Client(panel.url, "k" * 20, timeout=1.0) as client, pytest.raises(TransportError) as caught:
        client.status(7001)
    took = time.monotonic() - started
    assert caught.value.sent  # it was asked: whatever it was, it may have been done
    assert took < 3, f"the request took {took:.1f} s for a deadline of 1 s"


@pytest.mark.parametrize("announce", [False, True], ids=["streamed", "announced"])
def test_a_50_mb_answer_is_refused_past_the_limit_without_being_held(panels, announce):
    panel = panels(Huge(announce=announce))
    tracemalloc.start()
    try:
        with Client(panel.url, "k" * 20, timeout=10) as client, pytest.raises(BadResponse) as caught:
            client.statuses([1, 2, 3])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "too large" in str(caught.value)
    assert peak < 8 * 2**20, f"reading the answer took {peak / 2**20:.0f} MB"
    assert panel.sent < HUGE_BYTES  # it stopped reading: the server's writes failed long before the end


# --- the engine: one bad answer costs one order ---------------------------------------------------


def test_impossible_numbers_flag_their_own_order_and_the_rest_of_the_batch_completes(panels, customer, service):
    panel = panels(Liar())
    svc = sells(service, panel, "liar")
    cust = customer("100")
    poisoned = order(cust, svc, "https://x.test/poison")  # first: the batch used to fail at it
    fine = [order(cust, svc, f"https://x.test/fine{i}") for i in range(2)]
    run_once(now=timezone.now())  # placed
    assert panel.actions["add"] == 3
    run_once(now=later(1))  # one status call for the three
    assert panel.actions["status"] == 1
    for pk in fine:
        done = Order.objects.get(pk=pk)
        assert done.status == "Completed" and not done.needs_attention
    flagged = Order.objects.get(pk=poisoned)
    assert flagged.needs_attention and flagged.status != "Completed"
    assert "impossible numbers" in flagged.attention_note and "1E+30" in flagged.attention_note
    assert UpstreamOrder.objects.get(order_id=poisoned).charge is None  # nothing of it was stored


@pytest.mark.parametrize("status", [502, 503])
def test_an_add_answered_by_a_proxy_error_is_never_sent_again(panels, customer, service, status):
    panel = panels(LandsThen(status))  # the provider stored it; the proxy in front answered 502/503
    svc = sells(service, panel, f"proxied{status}")
    pk = order(customer("10"), svc, "https://x.test/once")
    run_once(now=timezone.now())
    run_once(now=later(60))
    assert panel.actions["add"] == 1
    flagged = Order.objects.get(pk=pk)
    assert flagged.needs_attention and f"HTTP {status}" in flagged.attention_note
    assert UpstreamOrder.objects.get(order_id=pk).state == "ambiguous"


def test_a_duplicate_link_refusal_after_an_attempt_that_landed_goes_to_a_person(panels, customer, service):
    panel = panels(LandsThen(429))  # stored, and yet answered "too many requests"
    svc = sells(service, panel, "limited")
    pk = order(customer("10"), svc, "https://x.test/twice")
    run_once(now=timezone.now())
    assert not UpstreamOrder.objects.filter(order_id=pk).exists()  # a 429 is retried ...
    run_once(now=later(1))  # ... and refused: an order for this link is active there: the first one
    run_once(now=later(120))
    assert panel.actions["add"] == 2
    assert len(panel.orders) == 1  # the customer's order runs once upstream
    flagged = Order.objects.get(pk=pk)
    assert flagged.needs_attention
    note = flagged.attention_note
    assert "duplicate" in note and "active order" in note and "Too many requests" in note  # both attempts
    assert UpstreamOrder.objects.get(order_id=pk).state == "ambiguous"


def test_a_duplicate_link_refusal_without_an_earlier_attempt_is_retried(panels, customer, service):
    """Another of our customers has an order for the same link running there: wait for it, flag nothing."""
    panel = panels(Panel())
    svc = sells(service, panel, "busy-link")
    first = order(customer("10"), svc, "https://x.test/same")
    second = order(customer("10"), svc, "https://x.test/same")
    run_once(now=timezone.now())
    run_once(now=later(1))
    assert UpstreamOrder.objects.get(order_id=first).state == "placed"
    waiting = Order.objects.get(pk=second)
    assert not waiting.needs_attention and waiting.attempts == 2
    assert not UpstreamOrder.objects.filter(order_id=second).exists()


# --- the worker's pass: a slow provider's group goes on alone ----------------------------------------


@pytest.mark.django_db(transaction=True)  # the groups run in threads with connections of their own
def test_a_pass_waits_for_a_slow_provider_no_longer_than_its_bound(panels, customer, service):
    trickler, good = panels(Trickler(every=0.5, headers_too=True)), panels(Panel())
    cust = customer("100")
    slow = order(cust, sells(service, trickler, "trickler", timeout=20), "https://x.test/slow")
    fast = order(cust, sells(service, good, "good"), "https://x.test/fast")
    run_once(now=timezone.now())  # both placed
    started = time.monotonic()
    run_once(now=later(1), wait=0.5)  # the trickler's status takes 20 s (its deadline)
    assert time.monotonic() - started < 5
    wait_until(lambda: Order.objects.get(pk=fast).status == "Completed", 10, "the good provider's order completed")
    assert Order.objects.get(pk=slow).status != "Completed"
    # While its group is still going, that provider's rows are put back, not handed to a second thread.
    Order.objects.filter(pk=slow).update(locked_until=None, claim_token=None)  # as if its lease ran out
    run_once(now=later(2), wait=0.5)
    assert trickler.actions["status"] == 1


@pytest.mark.django_db(transaction=True)
def test_an_add_still_going_when_its_lease_runs_out_is_placed_once(panels, customer, service, settings):
    settings.WORKER_LEASE_SECONDS = 1
    panel = panels(SlowAdd(seconds=3))
    pk = order(customer("10"), sells(service, panel, "slow-add", timeout=10), "https://x.test/slow-add")
    run_once(now=timezone.now(), wait=0)  # worker 1: its add goes on in its thread
    wait_until(lambda: panel.actions["add"] == 1, 10, "the add sent")
    # Worker 2, once worker 1's lease ran out, finds the attempt unanswered: it neither resends nor flags it.
    two = timezone.now() + timedelta(seconds=2)
    [claimed] = claim_due(Order.objects.filter(pk=pk).select_related("service__upstream__provider"), two, 60, 1)
    outcome = engine.advance_orders([claimed], two)[pk]
    assert outcome.next_due is not None and outcome.error is None
    # Worker 1's answer arrives: recorded (fenced by its attempt's token), and its release leaves worker 2's claim.
    wait_until(lambda: UpstreamOrder.objects.get(order_id=pk).state == "placed", 10, "the answer recorded")
    # Worker 1's thread releases its rows right after: a release that must change nothing.
    wait_until(lambda: all(group.done() for group in loop._running.values()), 10, "worker 1's group ended")
    assert panel.actions["add"] == 1
    current = Order.objects.get(pk=pk)
    assert current.claim_token == claimed.claim_token and not current.needs_attention


# --- one worker, three hostile providers ---------------------------------------------------------


def database_url() -> str:
    """The test database, for a worker process of its own (the test's rows are committed: transaction=True)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.2)
    return result


@pytest.mark.django_db(transaction=True)  # the worker process reads what the test wrote
def test_one_worker_with_a_trickling_a_huge_and_a_lying_provider(panels, customer, service, tmp_path):
    good, trickler, huge, liar = (
        panels(Panel()),
        panels(Trickler(0.5, headers_too=True)),
        panels(Huge()),
        panels(Liar()),
    )
    cust = customer("1000")
    simulated = service(rate="1", fulfilment="simulated", sim_units_per_minute=600000, sim_partial_percent=0)
    svc = {
        name: sells(service, panel, name, timeout=20)
        for name, panel in [("good", good), ("trickler", trickler), ("huge", huge), ("liar", liar)]
    }
    orders = {
        "simulated": [order(cust, simulated, f"https://x.test/sim{i}") for i in range(3)],
        "good": [order(cust, svc["good"], f"https://x.test/good{i}") for i in range(3)],
        "trickler": [order(cust, svc["trickler"], "https://x.test/slow")],
        "huge": [order(cust, svc["huge"], "https://x.test/huge")],
        "poisoned": [order(cust, svc["liar"], "https://x.test/poison")],
        "liar's fine": [order(cust, svc["liar"], "https://x.test/fine")],
    }
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SMMPANEL_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "smmpanel.settings",
        "WORKER_POLL_SECONDS": "0.1",
        "PROVIDER_SYNC_SECONDS": "0.3",
        "LOG_LEVEL": "ERROR",
    }
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "smmpanel", "worker"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:

        def status(group):
            return [Order.objects.get(pk=pk) for pk in orders[group]]

        def on_time():
            return all(o.status == "Completed" for g in ("simulated", "good", "liar's fine") for o in status(g))

        # The trickler holds each of its requests 20 s (its deadline): the others keep their pace meanwhile.
        wait_until(on_time, 40, "simulated, good and the liar's fine orders completed")
        wait_until(lambda: status("poisoned")[0].needs_attention, 10, "the poisoned order flagged")
        wait_until(lambda: huge.actions["status"] >= 2, 30, "the huge provider asked again after its answer")
        assert trickler.actions["status"] >= 1
        peak = peak_rss_mb(worker.pid)
    finally:
        worker.kill()  # its trickler thread would finish only at the request's deadline
        worker.wait()
    assert peak < 200, f"the worker's peak memory was {peak:.0f} MB"
    flagged = set(Order.objects.filter(needs_attention=True).values_list("pk", flat=True))
    hostile = {*orders["trickler"], *orders["huge"], *orders["poisoned"]}
    assert orders["poisoned"][0] in flagged and flagged <= hostile
    assert "impossible numbers" in status("poisoned")[0].attention_note
    assert not any(o.status == "Completed" for g in ("trickler", "huge") for o in status(g))
