"""Fixed-window counters in Django's default cache: the one store the API's per-key rate limit
(smmpanel.api.ratelimit) and the per-address limits (smmpanel.addresslimits) count in.

A rule is "N per second, minute or hour"; a counter's key carries its window's number, so it never
outlives the window (the expiry, a second of slack, only frees the memory). Without REDIS_URL each
process counts for itself (LocMemCache, an atomic increment); with it every process adds to one count.

Two ways to count:
- `allow_shared`, for the API's hot path: a process reserves slots of the window in batches (INCRBY of
  a hundredth of the limit, at least 1) and serves them from memory; a batch that would go past the
  limit is granted only up to it, and a window known to be used up is refused locally until the next.
- `count_event` / `used_up`, for rare events (a sign-up, a failed log-in): each counted exactly, one
  round trip per event.

Both take RedisCache's private client (smmpanel.compat.REDIS_CLIENT, checked at start-up); where
Django's differs, Redis counts with the cache's public incr/add, as LocMemCache does. A cache that
fails is the caller's to handle (the API serves uncounted; so do the per-address limits, with a
warning once per outage).
"""

import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import TypeGuard
from weakref import WeakKeyDictionary

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured

from smmpanel.compat import REDIS_CLIENT, redis_client

log = logging.getLogger(__name__)

UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
RULE_RE = re.compile(r"\s*([0-9]+)\s*/\s*([a-z]+)\s*")


@dataclass(frozen=True)
class Rule:
    requests: int
    seconds: int


def parse_rule(text: str, setting: str = "API_RATE_LIMIT") -> Rule | None:
    """ "20/s" → Rule(20, 1); "" → None (off); anything else is a configuration error (naming `setting`)."""
    if not text.strip():
        return None
    match = RULE_RE.fullmatch(text.lower())
    if not match or match[2] not in UNITS or int(match[1]) < 1:
        raise ImproperlyConfigured(
            f"{setting}={text!r}: use requests per second, minute or hour, e.g. 20/s, 600/m or 10000/h"
        )
    return Rule(int(match[1]), UNITS[match[2]])


# One redis-py client per RedisCache instance (Django makes one per thread): Django's
# get_client() builds a new client object per call, which costs redis-py 8 about as
# much CPU as the round trip itself.
_redis_clients: WeakKeyDictionary = WeakKeyDictionary()


# A process takes this share of the limit from Redis per round trip (see the docstring).
BATCH_SHARE = 100


def batch_size(limit: Rule) -> int:
    return max(1, limit.requests // BATCH_SHARE)


def _reserve_in_redis(cache: RedisCache, key: str, slots: int, ttl: int) -> int:
    """Add `slots` to the window's shared count; returns the new count."""
    # Django's RedisCache.incr checks that the key exists first (two round
    # trips, and it cannot create the key). Create-if-missing and increment go
    # in one pipelined round trip instead, on the cache's own connection pool.
    client = _redis_clients.get(cache)
    if client is None:
        client = _redis_clients[cache] = redis_client(cache)  # Django's own client object (private)
    pipe = client.pipeline(transaction=False)
    key = cache.make_and_validate_key(key)
    pipe.set(key, 0, ex=ttl, nx=True)
    pipe.incrby(key, slots)
    return pipe.execute()[1]


class Reserved:
    """This process's unused slots of the current window, per counter; -1 once the window is used up."""

    def __init__(self):
        self.lock = threading.Lock()
        self.window: int | None = None
        self.left: dict[str, int] = {}

    def take(self, name: str, window: int) -> bool | None:
        """True: served from a reserved slot; False: the window is used up; None: ask Redis."""
        with self.lock:
            if self.window != window:  # a new window: last window's slots are void
                self.window, self.left = window, {}
            left = self.left.get(name, 0)
            if left > 0:
                self.left[name] = left - 1
                return True
            return False if left < 0 else None

    def add(self, name: str, window: int, granted: int) -> None:
        """Keep what a reservation granted, less the slot the asking request uses."""
        with self.lock:
            if self.window != window:
                return
            if granted == 0:
                self.left[name] = -1
            else:
                self.left[name] = max(0, self.left.get(name, 0)) + granted - 1


_reserved = Reserved()


def allow_shared(cache: RedisCache, name: str, window: int, limit: Rule) -> bool:
    taken = _reserved.take(name, window)
    if taken is not None:
        return taken
    # Outside the lock: two threads may both reserve, and both keep what they were granted.
    batch = batch_size(limit)
    total = _reserve_in_redis(cache, name, batch, limit.seconds + 1)
    granted = max(0, min(batch, limit.requests - (total - batch)))
    _reserved.add(name, window, granted)
    return granted > 0


def count(cache, key: str, ttl: int) -> int:
    try:
        return cache.incr(key)  # atomic in LocMemCache (under its lock)
    except ValueError:  # the window's first request
        if cache.add(key, 1, timeout=ttl):
            return 1
        return cache.incr(key)  # another thread added it first


def shared(cache) -> TypeGuard[RedisCache]:
    """Whether `cache` is Redis and its client can be taken for batched counting."""
    return isinstance(cache, RedisCache) and REDIS_CLIENT.on


# --- other counts in the same store (the per-address limits of smmpanel/addresslimits.py) ----------------
#
# Rare events (a sign-up, a failed log-in): each is counted exactly, one round
# trip per event, with no batch. Same fixed windows, same keys' expiry, and the
# same rule for a failing cache: uncounted, a warning once per outage.

_events_failing = False


def _event_key(name: str, limit: Rule, window: int) -> str:
    return f"{name}:{limit.seconds}:{window}"


def _wait(limit: Rule, window: int, now: float) -> int:
    return max(1, math.ceil((window + 1) * limit.seconds - now))


def _events_fault(e: Exception) -> None:
    global _events_failing
    if not _events_failing:
        _events_failing = True
        log.warning("Per-address limits are not applied until the cache answers again (%s: %s)", type(e).__name__, e)


def count_event(name: str, limit: Rule, now: float | None = None) -> int | None:
    """Count one event under `name` in `limit`'s current window: None within the limit, else seconds to wait."""
    global _events_failing
    now = time.time() if now is None else now
    window = int(now // limit.seconds)
    key = _event_key(name, limit, window)
    cache = caches["default"]
    try:
        if shared(cache):
            total = _reserve_in_redis(cache, key, 1, limit.seconds + 1)
        else:
            total = count(cache, key, limit.seconds + 1)
    except Exception as e:  # noqa: BLE001 - any cache fault: uncounted
        _events_fault(e)
        return None
    _events_failing = False
    return None if total <= limit.requests else _wait(limit, window, now)


def used_up(name: str, limit: Rule, now: float | None = None) -> int | None:
    """Without counting: seconds to wait when `name` has used up `limit`'s current window, else None."""
    now = time.time() if now is None else now
    window = int(now // limit.seconds)
    try:
        # Django's Redis serializer reads back the plain integer INCRBY keeps.
        total = caches["default"].get(_event_key(name, limit, window), 0)
    except Exception as e:  # noqa: BLE001 - any cache fault: uncounted
        _events_fault(e)
        return None
    return _wait(limit, window, now) if int(total) >= limit.requests else None
