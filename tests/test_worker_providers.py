"""One worker talks to several providers at once: a slow provider does not hold the others up.

Two "providers" here are one small HTTP server on 127.0.0.1 that answers an
`add` only once a second `add` is waiting too (a barrier), and refuses with
HTTP 429 (rate limited: surely not processed) when none comes within a few seconds. A worker that asked its
providers one after the other would find both refusing; one that asks them at
once gets both orders placed in a single pass.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from smmpanel.orders import services
from smmpanel.orders.validation import validate_order
from smmpanel.providers.models import Provider, ProviderService, UpstreamOrder
from smmpanel.worker import loop
from smmpanel.worker.loop import run_once


class BarrierPanel(BaseHTTPRequestHandler):
    barrier = threading.Barrier(2, timeout=5)
    ids = count(1000)

    def do_POST(self):
        fields = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        status, body = 200, {"error": "Incorrect request"}
        if fields.get("action") == ["add"]:
            try:
                self.barrier.wait()
                body = {"order": next(self.ids)}
            except threading.BrokenBarrierError:
                status, body = 429, {"error": "Too many requests"}
                self.barrier.reset()
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def barrier_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), BarrierPanel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/v2"
    server.shutdown()


def two_provider_orders(customer, service, url):
    cust = customer("100")
    orders = []
    for name in ("left", "right"):
        provider = Provider.objects.create(name=name, api_url=url, api_key="k" * 20, timeout_seconds=10)
        svc = service(rate="1", fulfilment="provider")
        ProviderService.objects.create(service=svc, provider=provider, upstream_service="1")
        orders.append(
            services.place_order(
                cust.account.pk, validate_order(svc, {"link": f"https://x.test/{name}", "quantity": "10"})
            )
        )
    return orders


@pytest.fixture
def threads(settings):
    """run_once with WORKER_THREADS threads (the pool is made once per process: remade here)."""

    def use(n: int):
        settings.WORKER_THREADS = n
        loop._threads.cache_clear()

    yield use
    loop._threads.cache_clear()


@pytest.mark.django_db(transaction=True)  # the worker's threads have connections of their own
def test_one_pass_talks_to_two_providers_at_once(customer, service, barrier_url, threads):
    threads(4)
    orders = two_provider_orders(customer, service, barrier_url)
    run_once(now=timezone.now())
    placed = UpstreamOrder.objects.filter(order__in=orders, state="placed")
    assert placed.count() == 2, list(UpstreamOrder.objects.values_list("state", "message"))
    assert {o.attempts for o in type(orders[0]).objects.filter(pk__in=[o.pk for o in orders])} == {0}


@pytest.mark.django_db(transaction=True)
def test_control_one_provider_after_the_other_would_leave_both_waiting(customer, service, barrier_url, threads):
    threads(1)
    orders = two_provider_orders(customer, service, barrier_url)
    run_once(now=timezone.now())
    assert not UpstreamOrder.objects.filter(order__in=orders).exists()  # both refused (429): asked again later
    assert {o.attempts for o in type(orders[0]).objects.filter(pk__in=[o.pk for o in orders])} == {1}
