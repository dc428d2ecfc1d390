"""smmpanel.compat: each use of Django's internals falls back to plain Django, logged once, when Django differs.

Each guard is fed the other shape (what a later Django could have: Django
6.0's 4-tuple receivers, a renamed private method, another signature), then
the feature it guards is used as a customer would use it and still works.
The installed Django's own shapes pass every guard (that is what the panel
runs on); each test puts its guard back as it was.
"""

import json
import logging
import weakref
from types import SimpleNamespace

import pytest
from django.core.signals import request_started
from django.db import connection
from django.db.backends.sqlite3 import base as sqlite_base
from django.db.utils import ConnectionHandler
from django.dispatch import Signal, dispatcher

from smmpanel import compat, fastsql
from smmpanel.sqlite.base import GeventDatabaseWrapper, wrapper_class
from tests.conftest import call_api
from tests.test_ratelimit import reachable_redis_url, redis_cache

GUARDS = [compat.SIGNALS, compat.SQLITE_BACKEND, compat.PREPARED_CURSORS, compat.REDIS_CLIENT]


@pytest.fixture(autouse=True)
def guards_restored():
    """Every guard as it was after the test, and its log-once state fresh for it."""
    saved = [dict(vars(guard)) for guard in GUARDS]
    for guard in GUARDS:
        guard._logged = False
    yield
    for guard, state in zip(GUARDS, saved, strict=True):
        vars(guard).update(state)


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "smmpanel.compat"]


def balance(wsgi_client, cust):
    response = call_api(wsgi_client, {"key": cust.key, "action": "balance"})
    return response.status_code, json.loads(response.content)


def test_the_installed_django_has_every_shape_the_fast_paths_need():
    """On a Django whose shapes differ this fails naming what differs: a guard to update before unpinning.

    (Django 6.1, tried: the request signals' receivers are 4-tuples; the other three hold, and the
    API's tests pass on the fallback.)
    """
    import django.core.cache.backends.redis as redis_backend
    import django.db.backends.postgresql.base as postgresql_base

    assert compat.signal_shape(dispatcher) is None
    assert compat.sqlite_shape(sqlite_base) is None
    assert compat.prepared_cursor_shape(postgresql_base) is None
    assert compat.redis_shape(redis_backend) is None


# --- the request signals (smmpanel.api.cycle) -------------------------------------------------------


class SignalOf60(Signal):
    """A signal keeping its receivers as Django 6.0 does: (lookup key, receiver, sender reference, is_async)."""

    def connect(self, receiver, sender=None, weak=True, dispatch_uid=None):
        key = (dispatch_uid or dispatcher._make_id(receiver), dispatcher._make_id(sender))
        held = weakref.ref(receiver) if weak else receiver
        self.receivers.append((key, held, None if sender is None else weakref.ref(sender), False))


DJANGO_60_DISPATCHER = SimpleNamespace(Signal=SignalOf60, NONE_ID=dispatcher.NONE_ID, _make_id=dispatcher._make_id)


def test_with_4_tuple_receivers_the_api_sends_the_signals_plainly_and_logs_it_once(wsgi_client, customer, caplog):
    caplog.set_level(logging.WARNING, logger="smmpanel.compat")
    assert compat.SIGNALS.check(DJANGO_60_DISPATCHER) is False
    assert compat.SIGNALS.check(DJANGO_60_DISPATCHER) is False
    assert not compat.SIGNALS.on
    [warning] = warnings_of(caplog)
    assert "request signals' receivers" in warning and "3-tuple" in warning

    cust = customer("7")
    seen = []

    def on_start(sender, **kwargs):
        seen.append(sender)

    request_started.connect(on_start)
    try:
        answers = [balance(wsgi_client, cust) for _ in range(2)]
    finally:
        request_started.disconnect(on_start)
    assert answers == [(200, {"balance": "7.00000", "currency": "USD"})] * 2
    assert seen == ["smmpanel.api.wsgi"] * 2  # Signal.send reached the receiver
    assert len(warnings_of(caplog)) == 1

    assert compat.SIGNALS.check(dispatcher) is True  # the installed Django: the fast path again


def test_a_dispatcher_without_its_private_names_falls_back_too():
    assert compat.SIGNALS.check(SimpleNamespace(Signal=Signal)) is False  # no NONE_ID, no _make_id


def test_a_failing_request_signal_receiver_still_gets_a_json_answer(wsgi_client, customer, caplog):
    cust = customer()

    def broken(sender, **kwargs):
        raise RuntimeError("a receiver fails")

    for fast in (True, False):  # through smmpanel.api.cycle's own dispatch, and through Signal.send
        compat.SIGNALS._on = fast
        request_started.connect(broken)
        try:
            response = call_api(wsgi_client, {"key": cust.key, "action": "balance"})
        finally:
            request_started.disconnect(broken)
        assert response.status_code == 500
        assert response["Content-Type"] == "application/json"
        assert "Internal server error" in json.loads(response.content)["error"]
    assert any("request cycle failed" in r.getMessage() for r in caplog.records)


# --- the SQLite backend (smmpanel.sqlite.base) ---------------------------------------------------------


class RenamedCommit(sqlite_base.DatabaseWrapper):
    _commit = None  # as if Django had renamed it


def test_with_a_different_sqlite_backend_django_s_own_is_used_and_works(tmp_path, caplog, django_db_blocker):
    caplog.set_level(logging.WARNING, logger="smmpanel.compat")
    assert wrapper_class() is GeventDatabaseWrapper
    other = SimpleNamespace(DatabaseWrapper=RenamedCommit, SQLiteCursorWrapper=sqlite_base.SQLiteCursorWrapper)
    assert compat.SQLITE_BACKEND.check(other) is False
    assert compat.SQLITE_BACKEND.check(other) is False
    [warning] = warnings_of(caplog)
    assert "DatabaseWrapper._commit is gone" in warning

    chosen = wrapper_class()
    assert chosen is sqlite_base.DatabaseWrapper
    database = {"ENGINE": "smmpanel.sqlite", "NAME": str(tmp_path / "panel.sqlite3"), "OPTIONS": {}}
    settings = ConnectionHandler({"default": database}).settings["default"]
    plain = chosen(settings, alias="compat-test")
    with django_db_blocker.unblock():  # a database of this test's own, outside the test database
        write_and_read(plain)


def write_and_read(plain) -> None:
    try:
        with plain.cursor() as cursor:
            cursor.execute("CREATE TABLE t (x INTEGER)")
        plain.set_autocommit(False)
        with plain.cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES (%s)", [42])
        plain.commit()
        plain.set_autocommit(True)
        with plain.cursor() as cursor:
            cursor.execute("SELECT x FROM t")
            assert cursor.fetchall() == [(42,)]
    finally:
        plain.close()


# --- the prepared hot reads (smmpanel.fastsql) ----------------------------------------------------------


class CursorWithHoldable:
    """A PostgreSQL DatabaseWrapper whose create_cursor took another parameter."""

    def create_cursor(self, name=None, holdable=False):
        pass

    def close_if_health_check_failed(self):
        pass

    def ensure_connection(self):
        pass


def test_with_another_create_cursor_the_reads_are_not_prepared_and_answer_alike(api, customer, service, place, caplog):
    import psycopg

    caplog.set_level(logging.WARNING, logger="smmpanel.compat")
    other = SimpleNamespace(is_psycopg3=True, Database=psycopg, DatabaseWrapper=CursorWithHoldable)
    assert compat.PREPARED_CURSORS.check(other) is False
    [warning] = warnings_of(caplog)
    assert "create_cursor" in warning

    assert fastsql.prepares() is False
    cust, svc = customer(), service()
    ids = [place(cust, svc) for _ in range(2)]
    both = api(cust.key, "status", orders=f"{ids[0]},{ids[1]}")
    assert [both[str(i)]["status"] for i in ids] == ["Pending", "Pending"]
    assert api(cust.key, "balance")["currency"] == "USD"
    if connection.vendor == "postgresql":  # nothing was prepared on this connection
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            assert cursor.fetchone() == (0,)


# --- the rate limit's Redis client (smmpanel.counters) -----------------------------------------------------


class ReadOnlyClient:
    """A RedisCacheClient whose get_client took another parameter."""

    def get_client(self, key=None, *, write=False, read_only=False):
        pass


@pytest.fixture
def redis_url():
    return reachable_redis_url()


def test_with_another_redis_client_the_rate_limit_counts_each_request_in_redis(
    wsgi_client,
    customer,
    settings,
    redis_url,
    caplog,
):
    import django.core.cache.backends.redis as redis_backend
    import redis

    caplog.set_level(logging.WARNING, logger="smmpanel.compat")
    other = SimpleNamespace(RedisCache=redis_backend.RedisCache, RedisCacheClient=ReadOnlyClient)
    assert compat.REDIS_CLIENT.check(other) is False
    [warning] = warnings_of(caplog)
    assert "get_client" in warning

    settings.CACHES = redis_cache(redis_url)
    settings.API_RATE_LIMIT = "1000/h"  # the fast path would reserve a batch of 10 per round trip
    cust = customer()
    statuses = [balance(wsgi_client, cust)[0] for _ in range(3)]
    assert statuses == [200, 200, 200]
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    client = redis.Redis.from_url(redis_url)
    names = client.keys(f"{prefix}:*")
    assert sum(int(client.get(name)) for name in names) == 3  # counted one by one, no batch
    settings.API_RATE_LIMIT = "3/h"
    client.delete(*names)
    assert [balance(wsgi_client, cust)[0] for _ in range(4)] == [200, 200, 200, 429]
    client.delete(*client.keys(f"{prefix}:*"))
