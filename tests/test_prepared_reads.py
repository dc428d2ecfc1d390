"""The API's hot reads on PostgreSQL: prepared once per connection, the same answers, and an off switch.

Planning the `status` read (the key's account, its user and the asked-for
orders) cost PostgreSQL about five times running it; smmpanel.fastsql
prepares it, the key lookup and the service lookup once per connection.
These tests need the suite to run on PostgreSQL (`.ci/run` does both
databases); on SQLite they are skipped, as there is nothing to prepare.
"""

import pytest
from django.db import connection

from smmpanel.api import queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's: run the suite with DATABASE_URL=postgres://… (CI does)")


def prepared() -> dict[str, int]:
    """The statements prepared on this test's connection: text -> times executed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        return dict(cursor.fetchall())


def runs_of(statement: str) -> int:
    return prepared().get(statement, 0)


def status_statement() -> str:
    return queries._account_with_orders_sql(None).replace("%s", "$1", 1).replace("%s", "$2", 1)


def key_statement() -> str:
    return queries._account_sql().replace("%s", "$1")


def test_a_status_call_of_any_size_uses_one_prepared_statement(on_postgresql, api, customer, service, place):
    cust, svc = customer(), service()
    ids = [place(cust, svc) for _ in range(3)]
    before = runs_of(status_statement())

    assert api(cust.key, "status", order=ids[0])["status"] == "Pending"
    three = api(cust.key, "status", orders=",".join(map(str, ids)))
    assert [three[str(i)]["status"] for i in ids] == ["Pending"] * 3
    hundred = api(cust.key, "status", orders=",".join(map(str, [*ids, *range(10**9, 10**9 + 97)])))
    assert len(hundred) == 100 and hundred[str(10**9)] == {"error": "Incorrect order ID"}

    assert runs_of(status_statement()) == before + 3
    statuses = [s for s in prepared() if s.startswith(status_statement().split(" LEFT JOIN ")[0] + " LEFT JOIN")]
    assert statuses == [status_statement()]  # not one per count of ids


def test_the_largest_ids_and_other_customers_orders_are_not_found_not_a_server_error(
    on_postgresql, api, customer, service, place
):
    cust, other, svc = customer(), customer(), service()
    theirs = place(other, svc)
    answer = api(cust.key, "status", orders=f"999999999999999999,{theirs},0")
    assert answer == {
        "999999999999999999": {"error": "Incorrect order ID"},
        str(theirs): {"error": "Incorrect order ID"},
        "0": {"error": "Incorrect order ID"},
    }


def test_the_key_lookup_is_prepared_and_an_unknown_key_still_refused(on_postgresql, api, customer):
    cust = customer(balance="12.5")
    before = runs_of(key_statement())
    assert api(cust.key, "balance") == {"balance": "12.50000", "currency": "USD"}
    assert api("not-a-key", "balance") == {"error": "Invalid API key"}
    assert runs_of(key_statement()) == before + 2


def test_a_deactivated_customer_is_refused_by_the_prepared_reads(on_postgresql, api, customer, service, place):
    cust, svc = customer(), service()
    order = place(cust, svc)
    api(cust.key, "status", order=order)  # prepared while the customer is active
    cust.user.is_active = False
    cust.user.save()
    assert api(cust.key, "status", order=order) == {"error": "Invalid API key"}
    assert api(cust.key, "balance") == {"error": "Invalid API key"}


def test_with_prepared_statements_off_nothing_is_prepared_and_the_answers_are_the_same(
    on_postgresql, api, customer, service, place, monkeypatch
):
    cust, svc = customer(), service()
    order = place(cust, svc)
    answers = [api(cust.key, "status", order=order), api(cust.key, "balance")]
    # As with DATABASE_PREPARED_STATEMENTS=off:
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "prepare_threshold", None)
    before = prepared()

    assert [api(cust.key, "status", order=order), api(cust.key, "balance")] == answers
    assert prepared() == before
