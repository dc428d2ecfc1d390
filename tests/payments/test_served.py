"""Through the production server (gunicorn, gevent, the connection pool): the fake Stripe delivers its webhook
over HTTP to the panel's notification URL, and the same webhook sent ten times at once still deposits once."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")

SETUP = """
import json
from smmpanel.accounts.services import create_customer
from smmpanel.payments import services
account, _ = create_customer("payer")
payment = services.start_payment(account, "stripe", "20", return_url_base="http://127.0.0.1/funds/payments/")
print(json.dumps({"payment": payment.pk, "session": payment.external_id, "account": account.pk}))
"""

INSPECT = """
import json
from smmpanel.accounts.models import Account
from smmpanel.ledger.models import LedgerEntry
from smmpanel.payments.models import Notification, Payment
payment = Payment.objects.get(pk=PAYMENT)
account = Account.objects.get(pk=payment.account_id)
print(json.dumps({
    "state": payment.state,
    "deposits": [str(e.amount) for e in LedgerEntry.objects.filter(payment=payment, kind="deposit")],
    "balance": str(account.balance),
    "ledger": str(sum(LedgerEntry.objects.filter(account=account).values_list("amount", flat=True))),
    "notifications": list(Notification.objects.filter(payment=payment).values_list("verified", flat=True)),
}))
"""


@pytest.fixture
def database(request, tmp_path):
    """A fresh database of the run's kind (a SQLite file, or a throwaway PostgreSQL database): once per run,
    each taking ~15 s of a server's start."""
    if connection.vendor == "sqlite":
        return f"sqlite:///{tmp_path}/served.sqlite3"
    return request.getfixturevalue("throwaway_postgres_db")


def race(url: str, body: bytes, headers: dict, n: int) -> list[int]:
    barrier = threading.Barrier(n)

    def send(_):
        with httpx.Client(timeout=60) as client:
            barrier.wait(timeout=30)
            return client.post(url, content=body, headers=headers).status_code

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(send, range(n)))


def test_webhooks_over_http_to_the_production_server_deposit_once(fake_stripe, panel_server, database, monkeypatch):
    for name, value in fake_stripe.settings().items():
        monkeypatch.setenv(name, value)  # the server's environment: the gateway configured by env vars
    server = panel_server(database)
    world = server.python(SETUP)
    notify_url = server.url.replace("/api/v2", "/payments/notify/stripe/")

    fake_stripe.webhook_url = notify_url  # delivered over HTTP, as Stripe does
    fake_stripe.pay(world["session"])
    assert [d.status for d in fake_stripe.delivered()] == [200]

    body, headers = fake_stripe.event("checkout.session.completed", world["session"])
    assert race(notify_url, body, headers, 10) == [200] * 10

    state = server.python(INSPECT.replace("PAYMENT", str(world["payment"])))
    assert state["state"] == "paid" and state["deposits"] == ["20.00000"]
    assert state["balance"] == state["ledger"] == "20.00000"
    assert state["notifications"] == [True] * 11
    assert json.loads(body)["type"] == "checkout.session.completed"
