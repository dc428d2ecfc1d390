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

The counting itself is smmpanel.counters' (the store the per-address limits
count in too); where Django's private Redis client differs, Redis counts
every request with the cache's public incr/add (exact, one or two round
trips a request).
"""

import logging
import math
import time

from django.core.cache import caches

from smmpanel import counters
from smmpanel.api.errors import ApiError
from smmpanel.hotsettings import hot

log = logging.getLogger(__name__)


class RateLimited(ApiError):
    def __init__(self, retry_after: int):
        super().__init__("rate_limited")
        self.retry_after = retry_after


_parsed: tuple[str | None, counters.Rule | None] = (None, None)


def rule() -> counters.Rule | None:
    """The rule in force (parsed once per value of the setting)."""
    global _parsed
    text = hot.API_RATE_LIMIT
    if _parsed[0] != text:
        _parsed = (text, counters.parse_rule(text))
    return _parsed[1]


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
        if counters.shared(cache):
            allowed = counters.allow_shared(cache, name, window, limit)
        else:
            allowed = counters.count(cache, name, limit.seconds + 1) <= limit.requests
    except Exception as e:  # noqa: BLE001 - any cache fault: serve uncounted
        if not _failing:
            _failing = True
            log.warning("API rate limit is not applied until the cache answers again (%s: %s)", type(e).__name__, e)
        return
    _failing = False
    if not allowed:
        raise RateLimited(max(1, math.ceil((window + 1) * limit.seconds - now)))
