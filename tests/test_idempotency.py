"""Idempotent `add`: an Idempotency-Key header or idempotency_key field makes a retried add safe.

Same key + same parameters within 24 h: the first answer again, charged once
(also when the requests race: against gunicorn on SQLite and PostgreSQL);
same key + other parameters: an error; a refused add stores nothing.
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone

from smmpanel.ledger.models import LedgerEntry
from smmpanel.ledger.services import deposit
from smmpanel.orders.idempotency import TTL, delete_expired
from smmpanel.orders.models import IdempotentAdd
from tests.conftest import call_api, parsed

MISMATCH = {"error": "Idempotency key was used with other parameters"}


def add_fields(svc, link="https://example.com/idem", quantity="100", **more):
    return {"action": "add", "service": svc.pk, "link": link, "quantity": quantity, **more}


def send(client, cust, fields, *, header=None, via="form"):
    """One add, the key in the Idempotency-Key header (header=...) or among the fields."""
    data = {"key": cust.key, **fields}
    if header is None:
        return parsed(call_api(client, data, via=via))
    return parsed(
        client.post("/api/v2", data=json.dumps(data), content_type="application/json", HTTP_IDEMPOTENCY_KEY=header)
    )


def charges(cust) -> int:
    return LedgerEntry.objects.filter(account_id=cust.account.pk, kind="charge").count()


@pytest.mark.parametrize("how", ["header", "form", "json", "get"])
def test_the_same_key_and_parameters_get_the_first_answer_and_are_charged_once(wsgi_client, customer, service, how):
    cust = customer("10")
    svc = service(rate="1")
    if how == "header":
        answers = [send(wsgi_client, cust, add_fields(svc), header="retry-1") for _ in range(3)]
    else:
        answers = [send(wsgi_client, cust, add_fields(svc, idempotency_key="retry-1"), via=how) for _ in range(3)]
    assert set(answers[0]) == {"order"}
    assert answers == [answers[0]] * 3
    assert cust.orders().count() == 1 and charges(cust) == 1
    assert cust.balance() == Decimal("9.90000") == cust.ledger_sum()


def test_header_and_field_and_any_encoding_are_one_and_the_same_key(wsgi_client, customer, service):
    cust = customer("10")
    svc = service(rate="1")
    first = send(wsgi_client, cust, add_fields(svc), header="k-7")
    # The same request as a JSON body with a number for the quantity, the key as a field.
    again = send(wsgi_client, cust, add_fields(svc, quantity=100, idempotency_key="k-7"), via="json")
    assert again == first
    assert cust.orders().count() == 1 and charges(cust) == 1


def test_the_same_key_with_other_parameters_is_an_error_and_places_nothing(wsgi_client, customer, service):
    cust = customer("10")
    svc = service(rate="1")
    first = send(wsgi_client, cust, add_fields(svc, idempotency_key="same"))
    assert "order" in first
    for other in (
        add_fields(svc, quantity="200", idempotency_key="same"),
        add_fields(svc, link="https://example.com/other", idempotency_key="same"),
    ):
        assert send(wsgi_client, cust, other) == MISMATCH
    assert cust.orders().count() == 1 and charges(cust) == 1


def test_a_refused_add_stores_nothing_so_a_retry_runs_anew(wsgi_client, customer, service):
    cust = customer("0.05")
    svc = service(rate="1")
    fields = add_fields(svc, idempotency_key="after-top-up")
    assert send(wsgi_client, cust, fields) == {"error": "Not enough funds on balance"}
    assert IdempotentAdd.objects.count() == 0
    deposit(cust.account, Decimal("1"), memo="top-up")
    placed = send(wsgi_client, cust, fields)
    assert "order" in placed
    assert send(wsgi_client, cust, fields) == placed
    assert cust.orders().count() == 1 and charges(cust) == 1


@pytest.mark.parametrize("fields", [{"service": "999999"}, {"quantity": "1"}, {"link": "not a link"}])
def test_a_refused_add_of_any_kind_stores_nothing(wsgi_client, customer, service, fields):
    cust = customer("10")
    svc = service(rate="1")
    answer = send(wsgi_client, cust, {**add_fields(svc, idempotency_key="bad"), **fields})
    assert "error" in answer
    assert IdempotentAdd.objects.count() == 0 and cust.orders().count() == 0


def test_keys_are_per_customer(wsgi_client, customer, service):
    svc = service(rate="1")
    alice, bob = customer("10"), customer("10")
    a = send(wsgi_client, alice, add_fields(svc, link="https://example.com/a"), header="shared")
    b = send(wsgi_client, bob, add_fields(svc, link="https://example.com/b"), header="shared")
    assert a != b and alice.orders().count() == 1 and bob.orders().count() == 1


def test_a_key_of_more_than_255_characters_is_refused(wsgi_client, customer, service):
    cust = customer("10")
    svc = service(rate="1")
    assert send(wsgi_client, cust, add_fields(svc, idempotency_key="k" * 256)) == {
        "error": "Idempotency key is longer than 255 characters"
    }
    assert send(wsgi_client, cust, add_fields(svc), header="k" * 256) == {
        "error": "Idempotency key is longer than 255 characters"
    }
    assert cust.orders().count() == 0
    assert "order" in send(wsgi_client, cust, add_fields(svc, idempotency_key="k" * 255))


def test_a_blank_key_is_no_key(wsgi_client, customer, service):
    cust = customer("10")
    svc = service(rate="1")
    assert "order" in send(wsgi_client, cust, add_fields(svc, idempotency_key="  "))
    assert IdempotentAdd.objects.count() == 0


def test_an_add_without_a_key_stores_no_key_row(api, customer, service):
    cust = customer("10")
    svc = service(rate="1")
    assert "order" in api(cust.key, **add_fields(svc))
    assert IdempotentAdd.objects.count() == 0


def test_a_non_ascii_key_in_the_header_is_the_same_key_as_in_a_field(wsgi_client, customer, service):
    cust = customer("10")
    svc = service(rate="1")
    first = send(wsgi_client, cust, add_fields(svc, idempotency_key="ключ-1"), via="json")
    # A header carries the UTF-8 bytes; WSGI hands them over as Latin-1.
    again = send(wsgi_client, cust, add_fields(svc), header="ключ-1".encode().decode("iso-8859-1"))
    assert again == first and cust.orders().count() == 1


def test_a_key_older_than_24_hours_is_new_again(wsgi_client, customer, service):
    cust = customer("10")
    svc = service(rate="1")
    first = send(wsgi_client, cust, add_fields(svc, idempotency_key="daily"))
    IdempotentAdd.objects.update(created=timezone.now() - TTL - timedelta(seconds=1))
    # Other parameters would be a mismatch within 24 h; after them the key is simply new.
    second = send(wsgi_client, cust, add_fields(svc, link="https://example.com/next", idempotency_key="daily"))
    assert "order" in second and second != first
    assert IdempotentAdd.objects.get().answer == second  # the old row was replaced
    assert cust.orders().count() == 2 and charges(cust) == 2


def test_delete_expired_removes_only_keys_older_than_24_hours(wsgi_client, customer, service):
    cust = customer("10")
    svc = service(rate="1")
    for i in range(3):
        send(wsgi_client, cust, add_fields(svc, link=f"https://example.com/{i}", idempotency_key=f"k{i}"))
    now = timezone.now()
    IdempotentAdd.objects.filter(key="k0").update(created=now - TTL - timedelta(minutes=1))
    IdempotentAdd.objects.filter(key="k1").update(created=now - TTL + timedelta(minutes=1))
    assert delete_expired(now) == 1
    assert sorted(IdempotentAdd.objects.values_list("key", flat=True)) == ["k1", "k2"]
    assert cust.orders().count() == 3  # orders are not touched


def test_other_actions_ignore_the_key(wsgi_client, customer):
    cust = customer("4")
    for _ in range(2):
        assert send(wsgi_client, cust, {"action": "balance"}, header="x") == {"balance": "4.00000", "currency": "USD"}
    assert IdempotentAdd.objects.count() == 0


# --- the race, against a real server ------------------------------------------------------------------

SETUP = """
import json
from decimal import Decimal
from django.contrib.auth import get_user_model
from smmpanel.accounts.models import Account
from smmpanel.catalog.models import Category, Service
from smmpanel.ledger.services import deposit

account = Account.objects.create(user=get_user_model().objects.create_user("racer"))
key = account.regenerate_api_key()
deposit(account, Decimal("10"))
service = Service.objects.create(name="Race", category=Category.objects.create(name="Race"), type="Default",
                                 rate=Decimal("1"), min=10, max=10000)
print(json.dumps({"service": service.pk, "key": key, "account": account.pk}))
"""

INSPECT = """
import json
from smmpanel.accounts.models import Account
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders.models import Order
from smmpanel.orders.models import IdempotentAdd
pk = ACCOUNT
print(json.dumps({"orders": Order.objects.filter(account_id=pk).count(),
                  "charges": LedgerEntry.objects.filter(account_id=pk, kind="charge").count(),
                  "keys": IdempotentAdd.objects.filter(account_id=pk).count(),
                  "balance": str(Account.objects.get(pk=pk).balance)}))
"""

RACERS = 20


def race(url: str, requests: list[tuple[dict, dict]]) -> list[dict]:
    """Send (fields, headers) pairs all at once; return the JSON answers."""
    barrier = threading.Barrier(len(requests))

    def one(i_request):
        i, (fields, headers) = i_request
        with httpx.Client(timeout=60) as client:
            client.post(url, data={"key": fields["key"], "action": "balance"})  # connect and warm up
            barrier.wait()
            if i % 2:
                response = client.post(url, json=fields, headers=headers)
            else:
                response = client.post(url, data=fields, headers=headers)
        assert response.status_code == 200, (response.status_code, response.text[:300])
        return response.json()

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, enumerate(requests)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def race_database(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/idempotency.sqlite3"
    return request.getfixturevalue("throwaway_postgres_db")


def test_concurrent_adds_with_one_key_place_one_order_and_answer_alike(panel_server, race_database):
    server = panel_server(race_database)
    world = server.python(SETUP)
    fields = {
        "key": world["key"],
        "action": "add",
        "service": str(world["service"]),
        "link": "https://example.com/raced",
        "quantity": "100",
    }

    # The control: without a key, the retries of one add cannot learn its order:
    # one is placed, the others are told about an active order for that link.
    control = race(server.url, [(fields, {})] * RACERS)
    assert sum("order" in a for a in control) == 1
    assert len({json.dumps(a) for a in control}) == 2

    keyed = {**fields, "link": "https://example.com/raced-with-a-key"}
    # Half send the key as a header, half as a field.
    answers = race(
        server.url,
        [
            (keyed, {"Idempotency-Key": "one-key"}) if i % 4 < 2 else ({**keyed, "idempotency_key": "one-key"}, {})
            for i in range(RACERS)
        ],
    )
    assert "order" in answers[0], answers
    assert answers == [answers[0]] * RACERS
    state = server.python(INSPECT.replace("ACCOUNT", str(world["account"])))
    assert state == {"orders": 2, "charges": 2, "keys": 1, "balance": "9.80000"}
