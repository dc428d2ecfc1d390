"""What a provider's answers mean for us: one table of readings, kept apart from the engine that acts on them.

Providers are other people's panels. They say the same things in many ways,
and the engine must tell three situations apart when an `add` fails:
  RETRY     surely not placed, and worth asking again later (their balance is
            short, they are rate limiting or down for a moment, our request
            never reached them);
  REFUSED   they refused this order itself (bad link, quantity, service):
            nothing was placed, the customer gets the money back;
  UNSURE    no clear answer (a timeout after sending, a dropped connection,
            an unreadable page, a 500): it may have been placed, so it is
            never resent automatically.
"""

from decimal import Decimal

from smmpanel.client import ApiError, BadResponse, TransportError
from smmpanel.orders.models import Refill, Status

RETRY, REFUSED, UNSURE = "retry", "refused", "unsure"

# Words of a refusal that is about the provider's state, not about the order (lower case).
_TEMPORARY = (
    "not enough funds",
    "insufficient",
    "balance",
    "too many requests",
    "rate limit",
    "try again",
    "maintenance",
    "temporarily",
    "invalid api key",
    "api key",
    "busy",
    # Another of our customers has an order for this link there: try again once it is done.
    "active order",
)
# HTTP statuses saying the request was not processed: the gateway had no app to hand it to, or it was limited.
_NOT_PROCESSED = (429, 502, 503)


def words(error) -> str:
    """The provider's own words (or what went wrong), short, for a note or an event."""
    text = getattr(error, "message", None) or str(error)
    return " ".join(str(text).split())[:300]


def classify_add_failure(error) -> str:
    if isinstance(error, TransportError):
        return UNSURE if error.sent else RETRY
    if isinstance(error, ApiError):
        if error.status_code in _NOT_PROCESSED:
            return RETRY
        if error.status_code >= 500:
            return UNSURE  # an application error after it may have written the order
        text = error.message.lower()
        return RETRY if any(w in text for w in _TEMPORARY) else REFUSED
    if isinstance(error, BadResponse) and error.status_code in _NOT_PROCESSED:
        return RETRY
    return UNSURE


_ORDER_STATUSES = {s.value: s.value for s in Status}


def local_status(status: str, *, subscription: bool) -> str | None:
    """The provider's status as ours (the client has normalized spellings already); None: not one we know."""
    known = _ORDER_STATUSES.get(status)
    if known is None:
        return None
    if subscription != (known in (Status.ACTIVE, Status.PAUSED, Status.EXPIRED)) and known not in (
        Status.COMPLETED,
        Status.CANCELED,
    ):
        return None
    return known


def local_remains(remains: int | None, total: int) -> int | None:
    """Remains within 0..total (some panels report negative remains after over-delivery)."""
    if remains is None:
        return None
    return min(max(0, remains), total)


def used_share(sub, upstream_charge) -> Decimal:
    """Of a prepaid subscription forwarded upstream, the share the provider used: what it says the subscription
    cost (its `charge`) over what we prepaid there (its rate × max × posts). 1 when it does not say."""
    upstream = sub.service.upstream
    params = sub.params
    prepaid = (
        upstream.upstream_rate
        * int(params["max"])
        * (int(params.get("posts", 0)) + int(params.get("old_posts", 0)))
        / 1000
    )
    if upstream_charge is None or prepaid <= 0:
        return Decimal(1)
    return min(Decimal(1), max(Decimal(0), Decimal(upstream_charge) / prepaid))


def refill_status(status: str) -> str | None:
    return status if status in Refill.Status.values else None
