"""The README's first command, end to end: `smmpanel demo`, then `smmpanel serve` on the embedded default.

A newcomer must be able to list services with curl and watch an order complete by itself.
"""

import io
import os
import signal
import stat
import subprocess
import sys
import time

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from smmpanel.catalog.order_types import ORDER_TYPES

from .conftest import REPO, _free_port


def test_demo_then_serve_lists_services_and_completes_an_order(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # the embedded default
    env.update(SMMPANEL_DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    smmpanel = [sys.executable, "-m", "smmpanel"]
    out = subprocess.run([*smmpanel, "demo"], cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout
    key = out.strip().splitlines()[-1].split(": ")[-1]
    again = subprocess.run([*smmpanel, "demo"], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert again.stdout == out  # idempotent: same catalog, same key

    port = _free_port()
    url = f"http://127.0.0.1:{port}/api/v2"
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed in the finally below
    server = subprocess.Popen(
        [*smmpanel, "serve", "--port", str(port)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                catalog = httpx.post(url, data={"key": key, "action": "services"}, timeout=5).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        assert {s["type"] for s in catalog} == {t.name for t in ORDER_TYPES}
        followers = next(s for s in catalog if s["type"] == "Default" and s["refill"])

        placed = httpx.post(
            url,
            data={
                "key": key,
                "action": "add",
                "service": followers["service"],
                "link": "https://instagram.com/newcomer",
                "quantity": "100",
            },
        ).json()
        order_id = placed["order"]
        seen = []
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            status = httpx.post(url, data={"key": key, "action": "status", "order": order_id}).json()
            seen.append(status["status"])
            if status["status"] == "Completed":
                break
            time.sleep(0.5)
        assert seen[-1] == "Completed", seen
        assert status["remains"] == "0"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            assert server.wait(timeout=20) == 0
        finally:
            if server.poll() is None:
                server.kill()
            log.close()


# --- where the demo refuses, and its key file ------------------------------------------------


@pytest.mark.django_db
def test_demo_refuses_a_database_holding_other_data_unless_forced(customer):
    customer(username="a-real-customer")
    with pytest.raises(CommandError, match=r"1 user besides the demo's.*--force"):
        call_command("demo", stdout=io.StringIO())
    assert not get_user_model().objects.filter(username="admin").exists()  # nothing was seeded
    out = io.StringIO()
    call_command("demo", "--force", stdout=out)
    assert "Customer API key: " in out.getvalue()


@pytest.mark.django_db
def test_demo_refuses_under_an_https_site_url_unless_forced(settings):
    settings.SITE_URL_SCHEME, settings.SITE_ORIGIN = "https", "https://panel.example.com"
    with pytest.raises(CommandError, match=r"SITE_URL is https://panel\.example\.com"):
        call_command("demo", stdout=io.StringIO())
    call_command("demo", "--force", stdout=io.StringIO())


@pytest.mark.django_db
def test_demo_runs_again_on_its_own_data_and_changes_nothing():
    from smmpanel.accounts.models import Account
    from smmpanel.catalog.models import Service
    from smmpanel.ledger.models import LedgerEntry
    from smmpanel.orders.models import Order
    from smmpanel.orders.services import place_order
    from smmpanel.orders.validation import validate_order

    first = io.StringIO()
    call_command("demo", stdout=first)
    # The demo customer orders something: its own orders are no reason to refuse either.
    demo = Account.objects.get(user__username="demo")
    service = Service.objects.filter(type="Default").order_by("pk").first()
    place_order(demo.pk, validate_order(service, {"link": "https://instagram.com/me", "quantity": str(service.min)}))

    def world():
        demo.refresh_from_db()
        return (
            get_user_model().objects.count(),
            Service.objects.count(),
            Order.objects.count(),
            LedgerEntry.objects.count(),
            demo.balance,
        )

    before = world()
    again = io.StringIO()
    call_command("demo", stdout=again)
    assert again.getvalue() == first.getvalue()  # the same logins and the same API key, still working
    assert world() == before  # nothing seeded twice, no second deposit


def test_seeding_a_second_database_keeps_the_first_ones_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(SMMPANEL_DATA_DIR=str(tmp_path / "data"))
    second = dict(env, DATABASE_URL=f"sqlite:///{tmp_path / 'second.sqlite3'}")

    def demo_key(environ) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "smmpanel", "demo"],
            cwd=REPO,
            env=environ,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.strip().splitlines()[-1].split(": ")[-1]

    first_key = demo_key(env)
    second_key = demo_key(second)
    assert demo_key(env) == first_key  # not revoked by seeding the second database
    assert demo_key(second) == second_key
    key_files = sorted((tmp_path / "data").glob("demo-api-key-*"))
    assert len(key_files) == 2
    assert {f.read_text() for f in key_files} == {first_key, second_key}
    assert {stat.S_IMODE(f.stat().st_mode) for f in key_files} == {0o600}


@pytest.mark.django_db
def test_the_demo_takes_a_manual_transfer_from_the_customer_to_the_owners_approval(client):
    """`smmpanel demo` enables the Manual transfer: the customer submits it, the owner approves, the balance moves."""
    import re
    from decimal import Decimal

    from smmpanel.accounts.models import Account

    call_command("demo", stdout=io.StringIO())
    call_command("demo", stdout=io.StringIO())  # idempotent: still one gateway
    from smmpanel.payments.models import Gateway, Payment

    assert list(Gateway.objects.values_list("name", "kind", "enabled")) == [("manual", "manual", True)]
    client.force_login(get_user_model().objects.get(username="demo"))
    page = client.post("/funds/add/", {"gateway": "manual", "amount": "25"}).content.decode()
    assert "IBAN XX00 DEMO" in page
    once = re.search(r'name="once" value="([^"]+)"', page)[1]
    client.post("/funds/add/", {"gateway": "manual", "amount": "25", "reference": "DEMO-1", "once": once})
    payment = Payment.objects.get(reference="DEMO-1")

    client.force_login(get_user_model().objects.get(username="admin"))
    data = {"action": "approve_transfers", "_selected_action": [payment.pk], "apply": "1"}
    assert client.post("/admin/payments/payment/", data).status_code == 302
    assert Account.objects.get(user__username="demo").balance == Decimal(1025)


@pytest.mark.django_db
def test_demo_with_history_places_a_month_of_orders_in_every_status_and_the_ledger_adds_up():
    from datetime import timedelta
    from decimal import Decimal

    from django.db.models import Sum
    from django.utils import timezone

    from smmpanel.accounts.models import Account
    from smmpanel.demo.seed import DEMO_BALANCE
    from smmpanel.ledger.models import LedgerEntry
    from smmpanel.orders.models import Order, Status

    out = io.StringIO()
    call_command("demo", "--with-history", stdout=out)
    assert "History: " in out.getvalue()
    account = Account.objects.get(user__username="demo")
    orders = Order.objects.filter(account=account)
    assert set(orders.values_list("status", flat=True)) >= {
        Status.PENDING,
        Status.IN_PROGRESS,
        Status.PROCESSING,
        Status.COMPLETED,
        Status.PARTIAL,
        Status.CANCELED,
    }
    now = timezone.now()
    created = list(orders.values_list("created", flat=True))
    assert all(now - timedelta(days=30) <= when <= now for when in created)
    assert len({timezone.localdate(when) for when in created}) >= 28  # spread over the month, not one day
    # The ledger adds up: the balance is the ledger's sum, and the deposit less what the orders kept.
    entries = LedgerEntry.objects.filter(account=account)
    assert account.balance == entries.aggregate(s=Sum("amount"))["s"]
    kept = sum((o.charge - o.refunded for o in orders), Decimal(0))
    assert kept > 0 and account.balance == DEMO_BALANCE - kept
    assert entries.filter(kind="refund").exists()

    count = orders.count()
    again = io.StringIO()
    call_command("demo", "--with-history", stdout=again)
    assert "none added" in again.getvalue() and orders.count() == count  # a second month is never added
