"""The request cycle of an API call: Django's request_started / request_finished receivers that have work to do.

smmpanel.api.wsgi answers /api/v2 without Django's handler, but what the
handler's two signals do for the database must still happen around every
call: close_old_connections() recycles a connection past CONN_MAX_AGE, one
left in a broken state, and (PostgreSQL) hands a pooled connection back.

Sending the signals themselves cost about a quarter of a `balance` call:
counted in instructions (valgrind, in-process, docs/benchmarks.md), 121k of
515k per call on threads and 148k of 553k under gevent, where asgiref's
context-local storage that most receivers go through takes gevent's
pure-Python locks and thread ids. Most of it was three receivers with
nothing to do on an API call:

- ``reset_urlconf``: the API never sets a URLconf (Django's handler, which
  does, resets it in its own cycle);
- ``close_caches``: closes every configured cache, and the backends we
  configure (LocMemCache, RedisCache) close nothing: their close() is
  BaseCache's no-op;
- ``reset_queries``: empties the log of executed queries, which is kept only
  with DEBUG on (or by CaptureQueriesContext, which disconnects it while it
  captures).

So `started()` and `finished()` call the connected receivers for this sender
themselves, minus those three when they are idle as above, and Django's
close_old_connections as `close_old_connections` here (the same work, with
half the lookups of the thread's connections). Which receivers
are connected is read from the signal, so whatever connects or disconnects
one (a test keeping its transaction's connection open disconnects
close_old_connections) still steers the API; the filtered list is rebuilt
whenever the signal's receivers or DEBUG change. An asynchronous receiver
sends the signal the usual way.

Reading a signal's receivers leans on Django's private shape of them:
smmpanel.compat.SIGNALS checks it at start-up, and where Django differs,
the signals are simply sent (`Signal.send`, every receiver), as Django's
own handler does.
"""

import weakref

from django.conf import settings
from django.core import signals
from django.core.cache import close_caches
from django.core.cache.backends.base import BaseCache
from django.core.handlers.base import reset_urlconf
from django.db import close_old_connections as django_close_old_connections
from django.db import connections, reset_queries
from django.dispatch import Signal, dispatcher
from django.utils.module_loading import import_string

from smmpanel.compat import SIGNALS
from smmpanel.hotsettings import hot

SENDER = "smmpanel.api.wsgi"


def caches_close_nothing() -> bool:
    """Is every configured cache backend's close() BaseCache's no-op?"""
    return all(import_string(str(c["BACKEND"])).close is BaseCache.close for c in settings.CACHES.values())


def close_old_connections(**kwargs) -> None:
    """django.db.close_old_connections, as the API calls it: each connection looked up once.

    Django's asks, per alias, whether this thread has the connection and then
    for it (two lookups in asgiref's context-local storage, each a few
    microseconds under gevent, twice per call); here each is fetched once.
    A wrapper that was never connected closes nothing, as in Django's.
    """
    for alias in connections:
        connections[alias].close_if_unusable_or_obsolete()


def replacement(receiver):
    """The function the API calls for this receiver: the same work, done more cheaply where we know how."""
    return close_old_connections if receiver is django_close_old_connections else receiver


def idle(receiver) -> bool:
    """Has this receiver nothing to do at the end or start of an API call (see the module's docstring)?"""
    if receiver is reset_urlconf:
        return True
    if receiver is close_caches:
        return caches_close_nothing()
    if receiver is reset_queries:
        return not hot.DEBUG
    return False


class Dispatch:
    """One signal sent from SENDER, through the receivers that have work to do."""

    def __init__(self, signal: Signal):
        self.signal = signal
        self._seen: tuple | None = None  # (the signal's receivers, DEBUG) the list below was made from
        self._calls: list | None = []  # Django's entries (a weak reference or the function); None: send()

    def _rebuild(self) -> None:
        # Django's private parts, in the shape SIGNALS checked.
        signal = self.signal
        sender_key = dispatcher._make_id(SENDER)  # type: ignore[attr-defined]  # not in django-stubs
        none_id = dispatcher.NONE_ID
        signal._live_receivers(SENDER)  # drops receivers that died
        calls: list | None = []
        for (_key, receiver_sender), receiver, is_async in signal.receivers:
            if receiver_sender not in (none_id, sender_key):
                continue
            if is_async:
                calls = None  # Django runs those in an event loop: leave it to send()
                break
            function = receiver() if isinstance(receiver, weakref.ReferenceType) else receiver
            if function is not None and not idle(function):
                faster = replacement(function)
                calls.append(receiver if faster is function else faster)  # type: ignore[union-attr]  # a list until the break above
        self._calls = calls
        self._seen = (list(signal.receivers), hot.DEBUG)

    def send(self, **named) -> None:
        signal = self.signal
        if not SIGNALS.on:  # Django's receivers are not what this class reads: plain Django
            signal.send(sender=SENDER, **named)
            return
        seen = self._seen
        # A comparison of a few tuples: cheap, and any connect or disconnect shows in it.
        if seen is None or signal._dead_receivers or seen[0] != signal.receivers or seen[1] != hot.DEBUG:  # type: ignore[attr-defined]
            self._rebuild()
        if self._calls is None:
            signal.send(sender=SENDER, **named)
            return
        for receiver in self._calls:
            function = receiver() if isinstance(receiver, weakref.ReferenceType) else receiver
            if function is not None:
                function(signal=signal, sender=SENDER, **named)


SIGNALS.on  # noqa: B018 - checked at start-up, so that a difference is logged before the first call
started = Dispatch(signals.request_started).send
finished = Dispatch(signals.request_finished).send
