"""What a provider's answers mean for us: one table of readings, kept apart from the engine that acts on them.

Providers are other people's panels. They say the same things in many ways,
and the engine must tell three situations apart when an `add` fails:
  RETRY     surely not placed, and worth asking again later (their balance is
            short, they are rate limiting or down for a moment, our request
            never reached them);
  REFUSED   they refused this order itself (bad link, quantity, service):
            nothing was placed, the customer gets the money back;
  UNSURE    no clear answer (a timeout after sending, a dropped connection,
            an unreadable page, a 500, and a 502/503/504 too: a proxy says
            that also when the provider stored the order and then answered
            too late): it may have been placed, so it is never resent
            automatically.
  DUPLICATE "an active order with this link": another of our orders for the
            same link is running there (retry once it ends); unless an
            earlier attempt of this very order was sent, when it says that
            attempt landed after all (the engine decides, it knows the attempts).

The numbers of a status answer are checked here too (`checked_numbers`):
someone else's server may send 1e30 where a count belongs, and that must
cost its own order a flag, not the whole batch a database error.
"""

from decimal import Decimal, InvalidOperation

from smmpanel.client import ApiError, BadResponse, TransportError
from smmpanel.orders.models import Refill, Status

RETRY, REFUSED, UNSURE, DUPLICATE = "retry", "refused", "unsure", "duplicate"

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
)
# Another order for this link is running there.
_DUPLICATE = ("active order",)
# The one HTTP status that says the request was not processed, whoever sends it: rate limited.
# (A 502/503/504 may come from a proxy after the provider stored the order: not among them.)
_NOT_PROCESSED = (429,)


def words(error) -> str:
    """The provider's own words (or what went wrong), short, for a note or an event."""
    # A page that is no answer (a proxy's 502) is worth its HTTP status: str() of a BadResponse says it.
    text = str(error) if isinstance(error, BadResponse) else getattr(error, "message", None) or str(error)
    return " ".join(str(text).split())[:300]


def classify_add_failure(error) -> str:
    if isinstance(error, TransportError):
        return UNSURE if error.sent else RETRY
    if isinstance(error, ApiError):
        if error.status_code in _NOT_PROCESSED:
            return RETRY
        if error.status_code >= 500:
            return UNSURE  # an application error (or a proxy) after it may have written the order
        text = error.message.lower()
        if any(w in text for w in _DUPLICATE):
            return DUPLICATE
        return RETRY if any(w in text for w in _TEMPORARY) else REFUSED
    if isinstance(error, BadResponse) and error.status_code in _NOT_PROCESSED:
        return RETRY
    return UNSURE


# Bounds of what a provider may say of one order: wider than any real order, narrower than the columns.
COUNT_LIMIT = 10**15
CHARGE_LIMIT = Decimal(10) ** 15


def checked_numbers(result) -> tuple[dict, str | None]:
    """The numbers of a status answer as they may be stored ({"remains", "start_count", "charge"}), and
    what is wrong with them (None: nothing).

    Refused when no order could have them (1e30, a negative charge): then nothing of the answer may be
    applied. Merely sloppy numbers (negative remains after over-delivery) pass: `local_remains` clamps
    them when they are applied to an order.
    """
    numbers = {"remains": result.remains, "start_count": result.start_count, "charge": result.charge}
    wrong = [
        f"{name} {value}"
        for name, value in numbers.items()
        if value is not None and not (-COUNT_LIMIT < value < (CHARGE_LIMIT if name == "charge" else COUNT_LIMIT))
    ]
    if result.charge is not None and result.charge < 0:
        wrong.append(f"charge {result.charge}")
    if result.posts is not None and not 0 <= result.posts < COUNT_LIMIT:  # a subscription's posts
        wrong.append(f"posts {result.posts}")
    if not wrong and result.charge is not None:
        try:
            numbers["charge"] = result.charge.quantize(Decimal("0.00001"))  # what the column keeps
        except InvalidOperation:  # more digits than a Decimal context holds: no real charge has them
            wrong.append(f"charge {result.charge}")
    if wrong:
        return {}, f"impossible numbers ({', '.join(wrong)[:200]})"
    return numbers, None


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
