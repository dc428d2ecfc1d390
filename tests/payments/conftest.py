"""Fixtures of the payments tests: gateways (the fakes of tests/fake_gateways as their servers),
notifications posted to the panel's endpoint, and checks that every balance equals its ledger."""

import threading
from decimal import Decimal

import pytest

from tests.conftest import money_is_conserved
from tests.fake_gateways.fixtures import fake_cryptomus, fake_nowpayments, fake_stripe  # noqa: F401 - fixtures

RETURN_BASE = "http://testserver/funds/payments/"


@pytest.fixture
def gateway(db):
    """gateway(kind="manual", name=None, bonuses=[(min, percent)], **fields) -> an enabled Gateway."""
    from smmpanel.payments.models import Gateway

    def make(kind="manual", name=None, bonuses=(), **fields):
        fields.setdefault("enabled", True)
        gw = Gateway.objects.create(name=name or kind, kind=kind, **fields)
        for min_amount, percent in bonuses:
            gw.bonuses.create(min_amount=Decimal(min_amount), percent=Decimal(percent))
        return gw

    return make


@pytest.fixture(autouse=True)
def every_balance_equals_its_ledger(db):
    """After each payments test, every account's balance is the sum of its ledger rows, and never negative."""
    yield
    from django.db.models import Sum

    from smmpanel.accounts.models import Account
    from smmpanel.ledger.models import LedgerEntry

    sums = dict(
        LedgerEntry.objects.values_list("account").annotate(total=Sum("amount")).values_list("account", "total")
    )
    for pk, balance in Account.objects.values_list("pk", "balance"):
        assert balance == Decimal(sums.get(pk) or 0).quantize(Decimal("0.00001")), f"account {pk}"
        assert balance >= 0


@pytest.fixture
def conserved():
    """conserved(*customers): each balance equals its ledger, is never negative, and adds up (see tests/conftest.py)."""

    def check(*customers):
        for cust in customers:
            money_is_conserved(cust)

    return check


def meta(headers: dict) -> dict:
    """Request headers as the test client takes them (CONTENT_TYPE, HTTP_STRIPE_SIGNATURE, …)."""
    out = {}
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        out[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    return out


def notify(name: str, body: bytes, headers: dict):
    """POST a notification to /payments/notify/<name>/ through Django (any thread: its own connection)."""
    from django.test import Client

    headers = dict(headers)
    content_type = headers.pop("Content-Type", "application/json")
    return Client().post(f"/payments/notify/{name}/", data=body, content_type=content_type, **meta(headers))


def in_threads(n: int, work) -> list:
    """Run work() in n threads started together (a barrier); returns their results (exceptions re-raised)."""
    from django.db import connection

    barrier, results, errors = threading.Barrier(n), [], []

    def run():
        try:
            barrier.wait(timeout=20)
            results.append(work())
        except BaseException as e:  # noqa: BLE001 - handed to the test's thread
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    if errors:
        raise errors[0]
    return results


def configured(fake, name: str, settings):
    """Point the panel at `fake` through its settings (as environment variables would), its notifications
    posted to the panel in-process; returns the gateway, enabled with the defaults of an env-configured one."""
    for setting, value in fake.settings().items():
        setattr(settings, setting, value)
    fake.deliver = lambda body, headers: notify(name, body, headers).status_code
    from smmpanel.payments.gateways import by_name

    return by_name(name)


@pytest.fixture
def stripe_gateway(fake_stripe, settings, db):  # noqa: F811 - the fixture imported above
    return configured(fake_stripe, "stripe", settings)


@pytest.fixture
def cryptomus_gateway(fake_cryptomus, settings, db):  # noqa: F811
    return configured(fake_cryptomus, "cryptomus", settings)


@pytest.fixture
def nowpayments_gateway(fake_nowpayments, settings, db):  # noqa: F811
    return configured(fake_nowpayments, "nowpayments", settings)


def deposits(payment) -> list:
    """The deposit rows of a payment's (amounts): exactly one once it is paid."""
    from smmpanel.ledger.models import LedgerEntry

    return list(LedgerEntry.objects.filter(payment=payment, kind="deposit").values_list("amount", flat=True))


def poll_due(payment) -> int:
    """Run the worker's payment poll at the moment this payment is due; returns how many it handled."""
    from smmpanel.worker import payments as payment_job

    payment.refresh_from_db()
    return payment_job.run_once(payment.due_at, 60)
