"""The API's per-key request rate limit (API_RATE_LIMIT, e.g. "20/s" or "600/m"; empty: off).

A fixed window counted in Django's default cache, keyed by a digest of the
API key (never the key itself) and the window's number. Without REDIS_URL,
each process counts for itself (LocMemCache, an atomic increment per
request), so N processes allow up to N times the rate.

With REDIS_URL the count is shared by every process, but a round trip to
Redis per request halved the benchmark's `balance` rate. So a process
reserves slots of the window in batches (INCRBY of a hundredth of the limit,
at least 1) and serves them from memory; a batch that would go past the limit
is granted only up to it, and a window known to be used up is refused
locally until the next one. The shared count is never exceeded. What a
process reserved and did not use is lost to the others for that window: at
most 1 % of the limit per process (none below 100 requests per window, where
the batch is one request and the count exact).

Over the limit, the request is answered HTTP 429 with Retry-After (seconds
to the next window) and {"error": "Too many requests"}. If the cache fails
(Redis down), requests are served uncounted and a warning is logged once
per outage: a broken limiter must not take the API down with it.

The batches take RedisCache's private client (smmpanel.compat.REDIS_CLIENT,
checked at start-up); where Django's differs, Redis counts every request
with the cache's public incr/add, as LocMemCache does (exact, one or two
round trips a request).
"""

import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured

from smmpanel.api.errors import ApiError
from smmpanel.compat import REDIS_CLIENT, redis_client

log = logging.getLogger(__name__)

UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
RULE_RE = re.compile(r"\s*([0-9]+)\s*/\s*([a-z]+)\s*")


@dataclass(frozen=True)
class Rule:
    requests: int
    seconds: int


class RateLimited(ApiError):
    def __init__(self, retry_after: int):
        super().__init__("rate_limited")
        self.retry_after = retry_after


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


_parsed: tuple[str | None, Rule | None] = (None, None)


def rule() -> Rule | None:
    """The rule in force (parsed once per value of the setting)."""
    global _parsed
    text = settings.API_RATE_LIMIT
    if _parsed[0] != text:
        _parsed = (text, parse_rule(text))
    return _parsed[1]


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


def _allow_shared(cache: RedisCache, name: str, window: int, limit: Rule) -> bool:
    taken = _reserved.take(name, window)
    if taken is not None:
        return taken
    # Outside the lock: two threads may both reserve, and both keep what they were granted.
    batch = batch_size(limit)
    total = _reserve_in_redis(cache, name, batch, limit.seconds + 1)
    granted = max(0, min(batch, limit.requests - (total - batch)))
    _reserved.add(name, window, granted)
    return granted > 0


def _count(cache, key: str, ttl: int) -> int:
    try:
        return cache.incr(key)  # atomic in LocMemCache (under its lock)
    except ValueError:  # the window's first request
        if cache.add(key, 1, timeout=ttl):
            return 1
        return cache.incr(key)  # another thread added it first


_failing = False


def check(key_digest: str, now: float | None = None) -> None:
    """Count one request of this API key (its digest); RateLimited when over the rule."""
    global _failing
    limit = rule()
    if limit is None:
        return
    now = time.time() if now is None else now
    window = int(now // limit.seconds)
    # The window number is in the key, so a counter never outlives its
    # window; the expiry (a second of slack) only frees the memory.
    name = f"api-rate:{key_digest[:40]}:{limit.seconds}:{window}"
    cache = caches["default"]
    try:
        if isinstance(cache, RedisCache) and REDIS_CLIENT.on:
            allowed = _allow_shared(cache, name, window, limit)
        else:
            allowed = _count(cache, name, limit.seconds + 1) <= limit.requests
    except Exception as e:  # noqa: BLE001 - any cache fault: serve uncounted
        if not _failing:
            _failing = True
            log.warning("API rate limit is not applied until the cache answers again (%s: %s)", type(e).__name__, e)
        return
    _failing = False
    if not allowed:
        raise RateLimited(max(1, math.ceil((window + 1) * limit.seconds - now)))


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
        if isinstance(cache, RedisCache):
            total = _reserve_in_redis(cache, key, 1, limit.seconds + 1)
        else:
            total = _count(cache, key, limit.seconds + 1)
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
