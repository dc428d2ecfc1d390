"""The four places where the speed work leans on Django's private parts, each behind one guard.

Django does not promise the shape of its internals between releases (Django
6.0 turns `Signal.receivers` into 4-tuples, for one). So each use is checked
once, when it is first needed (at start-up: the modules using them ask at
import), against the shape it was written for; where Django differs, the
code falls back to plain Django, a little slower but right, and says so once
in the log:

- SIGNALS (smmpanel.api.cycle): the receivers of Django's request signals,
  read from `Signal.receivers` as ((receiver key, sender key), receiver,
  is_async) with the dispatcher's NONE_ID and _make_id. Fallback: the API
  sends the request signals with `Signal.send`, every receiver included.
- SQLITE_BACKEND (smmpanel.sqlite.base): Django's SQLite DatabaseWrapper,
  whose create_cursor and four private methods (_start_transaction_under_autocommit,
  _commit, _rollback, _close) the gevent-safe backend overrides. Fallback:
  Django's own SQLite backend (under gevent a writer waiting for SQLite's
  lock then blocks its whole process).
- PREPARED_CURSORS (smmpanel.fastsql.hot_cursor): Django's PostgreSQL
  create_cursor builds its cursor from the psycopg connection's
  `cursor_factory`, which hot_cursor swaps for one call. Checked before the
  first prepared read, and on every one (the cursor must be the swapped-in
  class). Fallback: Django's cursor, nothing prepared.
- REDIS_CLIENT (smmpanel.counters): RedisCache's private client,
  `cache._cache.get_client(key, write=True)`, for one pipelined round trip.
  Fallback: the rate limit counts with the cache's public incr/add.

A shape check is a function of the module it inspects: it returns None when
the shape is the expected one and raises, saying what differs, otherwise; so
a test can feed it a module of the other shape (tests/test_compat.py). The
check is cheap (no database, no network): a probe signal, signatures,
attributes.
"""

import inspect
import logging
import weakref
from collections.abc import Callable
from importlib import import_module

from django.utils.functional import cached_property

log = logging.getLogger(__name__)


class Guard:
    """One use of Django's internals: `on` while Django has the shape it was written for."""

    def __init__(self, name: str, shape: Callable[[object], str | None], subject: Callable[[], object]):
        self.name = name
        self._shape = shape  # the subject -> None (as expected) or what differs
        self._subject = subject  # the subject as installed (imported when first asked)
        self._on: bool | None = None
        self._logged = False

    @property
    def on(self) -> bool:
        if self._on is None:
            try:
                subject = self._subject()
            except Exception as e:  # noqa: BLE001 - an import Django no longer has is a shape that differs
                self.fail(f"{type(e).__name__}: {e}")
            else:
                self.check(subject)
        return bool(self._on)

    def check(self, subject) -> bool:
        """Check `subject`'s shape and decide: True to use the fast path, False for plain Django."""
        try:
            difference = self._shape(subject)
        except Exception as e:  # noqa: BLE001 - whatever the inspection trips on is a difference too
            difference = f"{type(e).__name__}: {e}"
        if difference is None:
            self._on = True
        else:
            self.fail(difference)
        return bool(self._on)

    def fail(self, difference: str) -> None:
        """Fall back to plain Django from now on in this process (logged once)."""
        self._on = False
        if not self._logged:
            self._logged = True
            log.warning("compat: %s: Django differs (%s); plain Django is used instead", self.name, difference)


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def _expect(cond: bool, difference: str) -> None:
    if not cond:
        raise LookupError(difference)


# --- SIGNALS ---------------------------------------------------------------------------------------


class _Probe:
    """A sender for the probe signal (an instance, as most senders are: weak references allowed)."""


def signal_shape(dispatcher) -> str | None:
    """Does `dispatcher` (django.dispatch.dispatcher) keep receivers as smmpanel.api.cycle reads them?"""
    signal_class, none_id, make_id = dispatcher.Signal, dispatcher.NONE_ID, dispatcher._make_id
    probe = signal_class()
    _expect(callable(getattr(probe, "_live_receivers", None)), "Signal._live_receivers is gone")
    _expect(isinstance(getattr(probe, "_dead_receivers", None), bool), "Signal._dead_receivers is not a flag")

    def receiver(**kwargs):
        pass

    sender = _Probe()
    probe.connect(receiver, sender=sender)  # weak: the entry holds a weak reference
    probe.connect(receiver, dispatch_uid="strong", weak=False)
    _expect(len(probe.receivers) == 2, f"{len(probe.receivers)} entries for 2 receivers")
    for entry, (sender_key, strong) in zip(probe.receivers, [(make_id(sender), False), (none_id, True)], strict=True):
        _expect(isinstance(entry, tuple) and len(entry) == 3, f"a receiver's entry is {entry!r}, not a 3-tuple")
        key, held, is_async = entry
        _expect(isinstance(key, tuple) and len(key) == 2 and key[1] == sender_key, f"the lookup key is {key!r}")
        _expect(held is receiver if strong else isinstance(held, weakref.ReferenceType), f"the receiver is {held!r}")
        _expect(is_async is False, f"is_async is {is_async!r}")
    return None


SIGNALS = Guard("request signals' receivers", signal_shape, lambda: import_module("django.dispatch.dispatcher"))


# --- SQLITE_BACKEND --------------------------------------------------------------------------------

OVERRIDDEN = ("_start_transaction_under_autocommit", "_commit", "_rollback", "_close")


def sqlite_shape(backend) -> str | None:
    """Does `backend` (django.db.backends.sqlite3.base) have what smmpanel.sqlite.base overrides?"""
    wrapper = backend.DatabaseWrapper
    for name in OVERRIDDEN:
        method = getattr(wrapper, name, None)
        _expect(callable(method), f"DatabaseWrapper.{name} is gone")
        _expect(_parameters(method) == ["self"], f"DatabaseWrapper.{name} takes {_parameters(method)}")
    _expect(_parameters(wrapper.create_cursor) == ["self", "name"], "DatabaseWrapper.create_cursor's signature")
    cursor = backend.SQLiteCursorWrapper
    _expect(_parameters(cursor.execute) == ["self", "query", "params"], "SQLiteCursorWrapper.execute's signature")
    many = _parameters(cursor.executemany)
    _expect(many == ["self", "query", "param_list"], "SQLiteCursorWrapper.executemany's signature")
    utils = import_module("django.db.backends.utils")
    _expect(_parameters(utils.debug_transaction) == ["connection", "sql"], "debug_transaction's signature")
    return None


SQLITE_BACKEND = Guard(
    "gevent-safe SQLite backend", sqlite_shape, lambda: import_module("django.db.backends.sqlite3.base")
)


# --- PREPARED_CURSORS ------------------------------------------------------------------------------


def prepared_cursor_shape(backend) -> str | None:
    """Does `backend` (django.db.backends.postgresql.base) make cursors the way hot_cursor swaps them?"""
    _expect(backend.is_psycopg3, "the driver is not psycopg 3")
    _expect("cursor_factory" in getattr(backend.Database.Connection, "__annotations__", {}), "no cursor_factory")
    wrapper = backend.DatabaseWrapper
    _expect(_parameters(wrapper.create_cursor) == ["self", "name"], "DatabaseWrapper.create_cursor's signature")
    health_check = wrapper.close_if_health_check_failed
    _expect(_parameters(health_check) == ["self"], "DatabaseWrapper.close_if_health_check_failed's signature")
    _expect(callable(getattr(wrapper, "ensure_connection", None)), "DatabaseWrapper.ensure_connection is gone")
    return None


PREPARED_CURSORS = Guard(
    "prepared hot reads", prepared_cursor_shape, lambda: import_module("django.db.backends.postgresql.base")
)


# --- REDIS_CLIENT ----------------------------------------------------------------------------------


def redis_shape(backend) -> str | None:
    """Does `backend` (django.core.cache.backends.redis) hand out its client as the rate limit takes it?"""
    _expect(isinstance(inspect.getattr_static(backend.RedisCache, "_cache"), cached_property), "RedisCache._cache")
    get_client = backend.RedisCacheClient.get_client
    _expect(_parameters(get_client) == ["self", "key", "write"], f"get_client{inspect.signature(get_client)}")
    _expect(callable(getattr(backend.RedisCache, "make_and_validate_key", None)), "no make_and_validate_key")
    return None


REDIS_CLIENT = Guard(
    "Redis client of the rate limit", redis_shape, lambda: import_module("django.core.cache.backends.redis")
)


def redis_client(cache):
    """The redis-py client of a RedisCache, for writes (only while REDIS_CLIENT is on)."""
    return cache._cache.get_client(None, write=True)
