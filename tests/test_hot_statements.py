"""smmpanel.fastsql.run: the API's hot statements go straight to the driver, and stay Django's where it matters.

What a caller must still get from them: Django's exceptions for driver errors
(callers and the API's fault handling catch Django's classes), every statement
in the query log or a CaptureQueriesContext while somebody watches, and the
same rows as Django's cursor gives.
"""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from smmpanel import fastsql

pytestmark = pytest.mark.django_db


def test_a_driver_error_is_djangos(customer):
    customer()
    with pytest.raises(DatabaseError) as raised:
        fastsql.run("SELECT no_such_column FROM accounts_account", [])
    assert type(raised.value).__module__ == "django.db.utils"


def test_the_rows_are_those_of_djangos_cursor(customer):
    cust = customer("12.5")
    sql = "SELECT id, balance FROM accounts_account WHERE id = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [cust.account.pk])
        expected = cursor.fetchall()
    assert fastsql.run(sql, [cust.account.pk], "all") == expected
    assert fastsql.run(sql, [cust.account.pk]) == expected[0]
    assert fastsql.run(sql, [-1]) is None


def test_while_somebody_watches_each_statement_is_seen(api, customer):
    cust = customer("5")
    with CaptureQueriesContext(connection) as seen:
        assert api(key=cust.key, action="balance") == {"balance": "5.00000", "currency": "USD"}
    # The key's account, the call's one statement (PostgreSQL's log shows a prepared statement's text as None).
    assert len(seen.captured_queries) == 1


def test_a_write_inside_a_transaction_is_rolled_back_with_it(customer):
    cust = customer("5")
    table = fastsql.table(type(cust.account))

    def pay_then_fail():
        with transaction.atomic():
            sql = f"UPDATE {table} SET balance = balance + 1 WHERE id = %s"
            fastsql.run(sql, [cust.account.pk], "none", write=True)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        pay_then_fail()
    cust.account.refresh_from_db()
    assert str(cust.account.balance) == "5.00000"
