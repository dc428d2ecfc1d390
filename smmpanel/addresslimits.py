"""Per-address limits: sign-ups, password-reset mails, failed log-ins and failed API key lookups from one address.

Each kind has a rule in the API rate limit's syntax ("10/h"; empty: no limit)
from its setting, and is counted in the same store as the API rate limit
(smmpanel.counters: Django's cache, so with REDIS_URL every process adds
to one count), in fixed windows. The address is the one the log-in lockout
takes (smmpanel.loginlimits.client_address); an IPv6 address counts for its
/64 network, which one customer line usually gets whole.

A cache that fails leaves everything uncounted (a warning is logged), as for
the API rate limit: a broken limiter must not close the panel.
"""

import ipaddress
import threading
import time

from smmpanel import counters
from smmpanel.hotsettings import hot

SETTINGS = {
    "signup": "SIGNUPS_PER_ADDRESS",
    "reset": "PASSWORD_RESETS_PER_ADDRESS",
    "login": "LOGIN_FAILURES_PER_ADDRESS",
    "api-key": "API_KEY_FAILURES_PER_ADDRESS",
}

_parsed: dict[str, tuple[str, counters.Rule | None]] = {}


def rule(kind: str) -> counters.Rule | None:
    """The rule in force for `kind` (parsed once per value of its setting; a malformed one is an error)."""
    name = SETTINGS[kind]
    text = getattr(hot, name)
    parsed = _parsed.get(kind)
    if parsed is None or parsed[0] != text:
        parsed = _parsed[kind] = (text, counters.parse_rule(text, name))
    return parsed[1]


def check_settings() -> None:
    """Parse every rule: a malformed setting stops the start, not the first sign-up."""
    for kind in SETTINGS:
        rule(kind)


def counted_as(address: str | None) -> str:
    """The name an address is counted under: itself, or its /64 network for IPv6."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _name(kind: str, address: str | None) -> str:
    return f"addr:{kind}:{counted_as(address)}"


def count(kind: str, address: str | None, now: float | None = None) -> int | None:
    """Count one event of `kind` from `address`: None while within the limit, else seconds until it may go on."""
    limit = rule(kind)
    if limit is None:
        return None
    return counters.count_event(_name(kind, address), limit, now)


def used_up(kind: str, address: str | None, now: float | None = None) -> int | None:
    """Without counting: seconds to wait if `address` has used up its `kind` events of the window, else None."""
    limit = rule(kind)
    if limit is None:
        return None
    return counters.used_up(_name(kind, address), limit, now)


class Blocked:
    """Addresses this process knows to be over the failed-key limit, and until when.

    The API checks it before the key's lookup at no cost (no round trip to the
    cache on every call); the shared count decides, at each failure, whether an
    address is over, so another process learns it at that address's next
    failure there.
    """

    MAX = 10_000  # past this many entries, the expired ones are dropped

    def __init__(self):
        self.lock = threading.Lock()
        self.until: dict[str, float] = {}

    def wait(self, address: str | None, now: float) -> int | None:
        if not self.until:  # the usual case: an API call pays nothing more
            return None
        until = self.until.get(counted_as(address))
        if until is None or until <= now:
            return None
        return max(1, int(until - now + 0.999))

    def add(self, address: str | None, until: float) -> None:
        with self.lock:
            if len(self.until) >= self.MAX:
                now = time.time()
                self.until = {name: end for name, end in self.until.items() if end > now}
            self.until[counted_as(address)] = until


_blocked = Blocked()


def api_key_refused(address: str | None) -> int | None:
    """Before an API key's lookup: seconds to wait if this address is over its failed lookups, else None."""
    if rule("api-key") is None:
        return None
    return _blocked.wait(address, time.time())


def api_key_failed(address: str | None) -> int | None:
    """After a key found nothing: count it; seconds to wait if the address is now over its limit, else None."""
    now = time.time()
    wait = count("api-key", address, now)
    if wait is not None:
        _blocked.add(address, now + wait)
    return wait
