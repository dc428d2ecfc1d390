"""The client's answer types and the tolerant readers that fill them.

Panels speaking "API v2" disagree on details: numbers arrive as ``157``,
``"157"``, ``"157.0"`` or ``""``; booleans as ``true``, ``1``, ``"1"`` or
``"true"``; statuses as ``"Inprogress"`` or ``"Cancelled"``. Everything here
turns those spellings into one shape, so the code using the client (our
provider engine, a reseller's script) never sees the difference. The raw
object is kept on every result for whatever the normalized fields leave out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    service: int
    name: str
    type: str
    category: str
    rate: Decimal
    min: int  # 0 when the panel did not say
    max: int  # 0 when the panel did not say
    refill: bool
    cancel: bool
    dripfeed: bool
    raw: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class OrderStatus:
    status: str
    charge: Decimal | None
    start_count: int | None
    remains: int | None
    currency: str | None
    posts: int | None = None  # subscriptions: posts handled
    orders: list[int] = field(default_factory=list)  # subscriptions: the orders it made
    raw: dict = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Balance:
    amount: Decimal
    currency: str  # "" when the panel did not say


# --- scalar readers --------------------------------------------------------------------------

_INTEGRAL = re.compile(r"[+-]?\d+(\.0*)?")


def to_int(value: Any) -> int | None:
    """157, "157", " 157 ", "157.0", 157.0 -> 157; "", None, "abc", 157.5, True -> None."""
    if isinstance(value, bool) or value is None:
        return None  # a boolean is not a count, whatever Python thinks
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        try:
            return int(value) if value == int(value) else None
        except (ValueError, OverflowError, InvalidOperation):  # nan, inf
            return None
    if isinstance(value, str):
        text = value.strip()
        if _INTEGRAL.fullmatch(text):
            return int(text.split(".")[0])
    return None


def to_decimal(value: Any) -> Decimal | None:
    """ "0.27819", 0.27819, 8, " 8 " -> Decimal; "", None, "abc", NaN, Infinity, True -> None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        value = repr(value)  # the shortest text that round-trips, not the binary expansion
    if isinstance(value, (int, str, Decimal)):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


_TRUE = {"1", "true", "yes", "on", "y", "t"}


def to_bool(value: Any) -> bool:
    """true, 1, "1", "true", "yes", "on" -> True; anything else (missing, 0, "0", "false", "") -> False."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return value == 1
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return False


def to_text(value: Any) -> str | None:
    """A string or a number as text (some panels send names as numbers); anything else -> None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int, Decimal, float)):
        return str(value).strip()
    return None


# Spellings seen in the wild, keyed by the lower-cased word with spaces, "_" and "-" removed.
# A spelling not listed here is kept as the panel wrote it: the engine decides what
# "Fail", "Error" or a panel's own invention means.
_STATUSES = {
    "pending": "Pending",
    "inprogress": "In progress",
    "processing": "Processing",
    "completed": "Completed",
    "complete": "Completed",
    "partial": "Partial",
    "canceled": "Canceled",
    "cancelled": "Canceled",
    "refunded": "Canceled",
    "active": "Active",
    "paused": "Paused",
    "expired": "Expired",
    "rejected": "Rejected",
}


def normalize_status(value: str) -> str:
    """ "Inprogress", "in_progress", "In Progress" -> "In progress"; "Cancelled" -> "Canceled"; unknown kept."""
    text = value.strip()
    return _STATUSES.get(re.sub(r"[\s_\-]+", "", text).lower(), text)


# --- object readers ----------------------------------------------------------------------------


def read_service(item: Any) -> Service | None:
    """One item of a services answer, or None when it lacks an id, a name or a rate."""
    if not isinstance(item, dict):
        return None
    service_id = to_int(item.get("service"))
    name = to_text(item.get("name"))
    rate = to_decimal(item.get("rate"))
    if service_id is None or not name or rate is None:
        return None
    return Service(
        service=service_id,
        name=name,
        type=to_text(item.get("type")) or "Default",  # the reference's type when none is named
        category=to_text(item.get("category")) or "",
        rate=rate,
        min=to_int(item.get("min")) or 0,
        max=to_int(item.get("max")) or 0,
        refill=to_bool(item.get("refill")),
        cancel=to_bool(item.get("cancel")),
        dripfeed=to_bool(item.get("dripfeed")),
        raw=item,
    )


def read_order_status(item: Any) -> OrderStatus | None:
    """A status object, or None when it has no readable ``status``."""
    if not isinstance(item, dict):
        return None
    status = to_text(item.get("status"))
    if not status:
        return None
    orders = item.get("orders")
    if isinstance(orders, str):  # a comma-separated string from some panels
        orders = orders.split(",")
    order_ids = [i for i in (to_int(o) for o in orders) if i is not None] if isinstance(orders, list) else []
    currency = to_text(item.get("currency"))
    return OrderStatus(
        status=normalize_status(status),
        charge=to_decimal(item.get("charge")),
        start_count=to_int(item.get("start_count")),
        remains=to_int(item.get("remains")),  # negative after over-delivery: kept, the engine clamps
        currency=currency or None,
        posts=to_int(item.get("posts")),
        orders=order_ids,
        raw=item,
    )
