"""Talking to a provider: one API v2 client per provider and process, within the provider's limits.

The limits are the owner's (Provider.max_concurrent, requests_per_second)
and hold per worker process: a semaphore for requests in flight and a
token bucket for the rate. Waiting for a turn counts within the provider's
timeout: a request that could not start in time is not sent at all (a
TransportError "not sent"), so nothing is sent later than a step that
recorded the attempt may assume (see placing.interrupted). Clients are kept (connection reuse) until the
provider's URL, key or timeout change.
"""

import threading
import time
from contextlib import contextmanager

from smmpanel.client import Client, TransportError

_lock = threading.Lock()
_clients: dict[int, tuple[tuple, Client]] = {}
_limits: dict[int, "Limit"] = {}


class Limit:
    """At most `concurrent` calls at once and `per_second` calls a second (a token bucket)."""

    def __init__(self, concurrent: int, per_second: int):
        self.settings = (concurrent, per_second)
        self.slots = threading.BoundedSemaphore(max(1, concurrent))
        self.rate = max(1, per_second)
        self.tokens = float(self.rate)
        self.stamp = time.monotonic()
        self.guard = threading.Lock()

    def _wait_for_token(self, until: float) -> bool:
        while True:
            with self.guard:
                now = time.monotonic()
                self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return True
                wait = (1 - self.tokens) / self.rate
            if now + wait > until:
                return False
            time.sleep(wait)

    @contextmanager
    def slot(self, within: float):
        """A turn to send one request, waited for at most `within` seconds (else TransportError, not sent)."""
        until = time.monotonic() + within
        if not self.slots.acquire(timeout=within):
            raise TransportError(
                f"no turn within {within:g} s: the provider's earlier requests are still going", sent=False
            )
        try:
            if not self._wait_for_token(until):
                raise TransportError(f"no turn within {within:g} s: the provider's rate limit", sent=False)
            yield
        finally:
            self.slots.release()


def client_for(provider) -> Client:
    config = (provider.api_url, provider.api_key, provider.timeout_seconds)
    with _lock:
        known = _clients.get(provider.pk)
        if known is not None and known[0] == config:
            return known[1]
        if known is not None:
            known[1].close()
        client = Client(provider.api_url, provider.api_key, timeout=float(provider.timeout_seconds))
        _clients[provider.pk] = (config, client)
        return client


def limit_for(provider) -> Limit:
    settings = (provider.max_concurrent, provider.requests_per_second)
    with _lock:
        limit = _limits.get(provider.pk)
        if limit is None or limit.settings != settings:
            limit = _limits[provider.pk] = Limit(*settings)
        return limit


@contextmanager
def calling(provider):
    """`with calling(provider) as client: client.status(...)`: one request within the provider's limits."""
    with limit_for(provider).slot(within=float(provider.timeout_seconds)):
        yield client_for(provider)
