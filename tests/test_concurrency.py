"""Concurrent `add` requests against a real server (gunicorn) on SQLite and on PostgreSQL.

A balance that pays for exactly 10 orders meets 48 simultaneous adds: exactly
10 orders exist afterwards, the balance is exactly 0 and the ledger sums to it.
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from django.db import connection, transaction

from smmpanel.accounts.models import Account
from smmpanel.ledger import services as ledger

RACERS = 48
AFFORDABLE = 10

SETUP = """
import json
from decimal import Decimal
from django.contrib.auth import get_user_model
from smmpanel.accounts.models import Account
from smmpanel.catalog.models import Category, Service
from smmpanel.ledger.services import deposit

def customer(name, amount):
    account = Account.objects.create(user=get_user_model().objects.create_user(name))
    key = account.regenerate_api_key()
    deposit(account, Decimal(amount))
    return {"key": key, "account": account.pk}

category = Category.objects.create(name="Race")
service = Service.objects.create(name="Race", category=category, type="Default", rate=Decimal("1"),
                                 min=10, max=10000)
print(json.dumps({"service": service.pk, "racer": customer("racer", "1.00000"),
                  "twin": customer("twin", "10")}))
"""

INSPECT = """
import json
from django.db.models import Sum
from smmpanel.accounts.models import Account
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders.models import Order

result = {}
for pk in ACCOUNTS:
    rows = LedgerEntry.objects.filter(account_id=pk)
    result[str(pk)] = {
        "orders": Order.objects.filter(account_id=pk).count(),
        "balance": str(Account.objects.get(pk=pk).balance),
        "ledger": str(rows.aggregate(s=Sum("amount"))["s"]),
        "charges": rows.filter(kind="charge").count(),
    }
print(json.dumps(result))
"""


def race(url: str, requests: list[dict]) -> list[dict]:
    """Send all requests at once (a barrier releases the threads together); return the answers."""
    barrier = threading.Barrier(len(requests))

    def send(i_fields):
        i, fields = i_fields
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            response = client.post(url, json=fields) if i % 2 else client.post(url, data=fields)
        assert response.status_code == 200, (response.status_code, response.text[:300])
        assert response.headers["content-type"].startswith("application/json")
        return response.json()

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, enumerate(requests)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def race_database(request, tmp_path):
    """A fresh database URL: a SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/race.sqlite3"
    return request.getfixturevalue("throwaway_postgres_db")


def test_concurrent_adds_never_spend_more_than_the_balance(panel_server, race_database):
    server = panel_server(race_database)
    world = server.python(SETUP)
    racer, twin = world["racer"], world["twin"]
    # Warm up: every server thread opens its database connection now, so that the
    # race below is decided inside the database, not by who connected first.
    warm = race(server.url, [{"key": twin["key"], "action": "balance"}] * RACERS)
    assert warm == [{"balance": "10.00000", "currency": "USD"}] * RACERS

    # 48 adds at 0.10 each, different links, against a balance of 1.00.
    answers = race(
        server.url,
        [
            {
                "key": racer["key"],
                "action": "add",
                "service": str(world["service"]),
                "link": f"https://example.com/race/{i}",
                "quantity": "100",
            }
            for i in range(RACERS)
        ],
    )

    placed = [a for a in answers if "order" in a]
    assert len(placed) == AFFORDABLE, answers
    assert all(type(a["order"]) is int for a in placed)
    assert len({a["order"] for a in placed}) == AFFORDABLE
    assert [a for a in answers if "order" not in a] == [{"error": "Not enough funds on balance"}] * (
        RACERS - AFFORDABLE
    )

    # 20 adds of one and the same link: one order, the rest are duplicates.
    same_link = race(
        server.url,
        [
            {
                "key": twin["key"],
                "action": "add",
                "service": str(world["service"]),
                "link": "https://example.com/one-link",
                "quantity": "100",
            }
            for _ in range(20)
        ],
    )
    assert sum("order" in a for a in same_link) == 1, same_link
    assert [a for a in same_link if "order" not in a] == [
        {"error": "You have active order with this link. Please wait until order being completed."}
    ] * 19

    code = INSPECT.replace("ACCOUNTS", json.dumps([racer["account"], twin["account"]]))
    state = server.python(code)
    assert state[str(racer["account"])] == {
        "orders": AFFORDABLE,
        "balance": "0.00000",
        "ledger": "0.00000",
        "charges": AFFORDABLE,
    }
    assert state[str(twin["account"])] == {"orders": 1, "balance": "9.90000", "ledger": "9.90000", "charges": 1}

    balance = httpx.post(server.url, data={"key": racer["key"], "action": "balance"}).json()
    assert balance == {"balance": "0.00000", "currency": "USD"}


# --- the control: why the conditional UPDATE matters ------------------------------------------


def _in_threads(n: int, work) -> list:
    barrier = threading.Barrier(n)

    def run(_):
        try:
            return work(barrier)
        finally:
            connection.close()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


@pytest.mark.django_db(transaction=True)
def test_a_read_then_write_debit_would_overspend_where_the_ledger_does_not(customer):
    price = Decimal("0.1")

    # The naive way: read the balance, check it, write balance − price.
    naive = customer("1")

    def naive_debit(barrier):
        balance = Account.objects.get(pk=naive.account.pk).balance
        barrier.wait()  # every thread has read 1.00 before any writes
        if balance < price:
            return False
        Account.objects.filter(pk=naive.account.pk).update(balance=balance - price)
        return True

    paid = sum(_in_threads(20, naive_debit))
    assert paid == 20 and naive.balance() == Decimal("0.9")  # 20 orders paid for with 0.10

    # The ledger's way, under the very same interleaving.
    guarded = customer("1")

    def guarded_debit(barrier):
        barrier.wait()
        try:
            with transaction.atomic():
                ledger.debit(guarded.account.pk, price, None, memo="race")
            return True
        except ledger.NotEnoughFunds:
            return False

    assert sum(_in_threads(20, guarded_debit)) == AFFORDABLE
    assert guarded.balance() == 0 == guarded.ledger_sum()
