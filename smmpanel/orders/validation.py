"""Validate a new order's parameters against its service and order type.

Input is what a customer sent (strings, as the API or a web form receives
them); output is an OrderRequest holding the normalized order and its charge,
or an OrderError saying what is wrong. Nothing here touches money.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from smmpanel.catalog import order_types as ot
from smmpanel.catalog.models import Service
from smmpanel.ledger.money import round5
from smmpanel.orders.errors import OrderError

MAX_LINK = 500
MAX_TEXT = 300
MAX_LINE = 1000
MAX_LINES = 10_000
MAX_RUNS = 1000
MAX_INTERVAL = 60 * 24 * 30  # minutes: a run at least once a month
MAX_INT = 2_000_000_000
# A whole number longer than this many digits (leading zeros aside) is read as
# HUGE: above every maximum, so "99999999999999999999999" is "more than maximum",
# and int() never sees a 100,000-digit string (quadratic; refused past 4,300).
MAX_DIGITS = 12
HUGE = 10**MAX_DIGITS
# What one order may store of its type's parameters (UTF-8 bytes of all of them
# together): 64 KiB is some 600 comments of 100 characters, far above what a
# service sells, and bounds what a cheap order can make the database keep.
MAX_PARAMS_BYTES = 64 * 1024

_url = URLValidator(schemes=["http", "https"])
USERNAME_RE = re.compile(r"^@?[\w.\-]{1,100}$")


@dataclass
class OrderRequest:
    service: Service
    link: str
    quantity: int = 0
    total: int = 0
    runs: int | None = None
    interval: int | None = None
    params: dict = field(default_factory=dict)
    charge: Decimal = Decimal(0)
    # Subscriptions without `posts` pay per post, as each order is made.
    pay_per_post: bool = False


def _missing(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def whole_number(value) -> int | None:
    """ASCII digits with an optional "+", as an int (HUGE when longer than MAX_DIGITS); else None."""
    text = str(value).strip()
    if not re.fullmatch(r"[+]?[0-9]+", text):
        return None
    digits = text.lstrip("+").lstrip("0")
    return HUGE if len(digits) > MAX_DIGITS else int(digits or "0")


def parse_int(value, code: str, minimum: int = 0, maximum: int = MAX_INT, **values) -> int:
    number = whole_number(value)
    if number is None or number < minimum or number > maximum:
        raise OrderError(code, value=str(value).strip()[:50], **values)
    return number


def split_lines(text: str) -> list[str]:
    """A list parameter: lines separated by \\r\\n or \\n; empty lines do not count."""
    return [line for line in re.split(r"\r\n|\n|\r", text) if line.strip()]


def check_link(link) -> str:
    if _missing(link):
        raise OrderError("missing")
    link = str(link).strip()
    if len(link) > MAX_LINK or any(c.isspace() for c in link):
        raise OrderError("bad_link")
    try:
        _url(link)
    except ValidationError:
        raise OrderError("bad_link") from None
    return link


def check_username(value) -> str:
    """A username, or a profile URL standing for one."""
    value = str(value).strip()
    if USERNAME_RE.match(value):
        return value
    try:
        return check_link(value)
    except OrderError:
        raise OrderError("bad_username") from None


def _check_param(name: str, kind: str, value):
    if _missing(value):
        raise OrderError("missing")
    text = str(value)
    if kind == ot.LIST:
        lines = split_lines(text)  # not empty: a blank value is a missing one
        if len(lines) > MAX_LINES:
            raise OrderError("list_too_long", name=name, maximum=MAX_LINES)
        if any(len(line) > MAX_LINE for line in lines):
            raise OrderError("line_too_long", name=name, maximum=MAX_LINE)
        return text
    text = text.strip()
    if kind == ot.URL:
        try:
            return check_link(text)
        except OrderError:
            raise OrderError("bad_param", name=name) from None
    if kind == ot.INT:
        parse_int(text, "bad_param", minimum=1, name=name)
        return text
    if len(text) > MAX_TEXT or "\n" in text or "\r" in text:
        raise OrderError("bad_param", name=name)
    if name == "username":
        check_username(text)
    return text


def _check_params_size(spec: ot.OrderType, data: dict) -> None:
    size = sum(len(str(data.get(name) or "").encode("utf-8", "surrogatepass")) for name in spec.params)
    if size > MAX_PARAMS_BYTES:
        raise OrderError("params_too_big", maximum=MAX_PARAMS_BYTES)


def _check_quantity(service: Service, quantity: int):
    if quantity < service.min:
        raise OrderError("quantity_below_min", minimum=service.min)
    if quantity > service.max:
        raise OrderError("quantity_above_max", maximum=service.max)


def validate_order(service: Service, data: dict, today: date | None = None) -> OrderRequest:
    """Check `data` (the request's fields) for an order of `service`."""
    spec = service.order_type
    if spec.subscription:
        return _validate_subscription(service, data, today or timezone.localdate())

    link = check_link(data.get("link"))
    _check_params_size(spec, data)
    params = {name: _check_param(name, kind, data.get(name)) for name, kind in spec.params.items()}
    req = OrderRequest(service=service, link=link, params=params)

    if spec.quantity == ot.QTY_PARAM:
        if _missing(data.get("quantity")):
            raise OrderError("missing")
        # Any whole number is a quantity (a huge one is above the maximum).
        req.quantity = parse_int(data["quantity"], "bad_quantity", maximum=HUGE)
        _check_quantity(service, req.quantity)
    elif spec.quantity == ot.QTY_LINES:
        # The lines are what is delivered, also for a package priced once:
        # a "Custom Comments Package (10)" must not deliver 5,000 comments.
        req.quantity = len(split_lines(params[spec.lines_param]))
        _check_quantity(service, req.quantity)
    else:
        req.quantity = 1
    req.total = req.quantity

    runs, interval = data.get("runs"), data.get("interval")
    if not _missing(runs) or not _missing(interval):
        if not (spec.dripfeed_capable and service.dripfeed):
            raise OrderError("dripfeed_disabled")
        if _missing(runs) or _missing(interval):
            raise OrderError("dripfeed_pair")
        req.runs = parse_int(runs, "bad_runs", minimum=1, maximum=MAX_RUNS, maximum_runs=MAX_RUNS)
        req.interval = parse_int(
            interval, "bad_interval", minimum=1, maximum=MAX_INTERVAL, maximum_interval=MAX_INTERVAL
        )
        req.total = req.quantity * req.runs
        if req.total > MAX_INT:  # Order.total is a 32-bit column
            raise OrderError("dripfeed_too_big", maximum=MAX_INT)

    if spec.charge == ot.ONCE:
        req.charge = round5(service.rate)
    else:
        req.charge = round5(service.rate * req.total / 1000)
    return req


def _validate_subscription(service: Service, data: dict, today: date) -> OrderRequest:
    for name in ("username", "min", "max", "delay"):
        if _missing(data.get(name)):
            raise OrderError("missing")
    username = check_username(data["username"])
    low, high = _subscription_range(service, data)
    posts = _subscription_posts(service, data)
    old_posts = 0
    if not _missing(data.get("old_posts")):
        old_posts = parse_int(data["old_posts"], "bad_old_posts", minimum=0, maximum=1000)
    delay = parse_int(data["delay"], "bad_delay", allowed=", ".join(map(str, ot.SUBSCRIPTION_DELAYS)))
    if delay not in ot.SUBSCRIPTION_DELAYS:
        raise OrderError("bad_delay", allowed=", ".join(map(str, ot.SUBSCRIPTION_DELAYS)))
    expiry = _subscription_expiry(data, today)

    params = {"username": username, "min": low, "max": high, "delay": delay, "old_posts": old_posts}
    if posts is not None:
        params["posts"] = posts
    if expiry is not None:
        params["expiry"] = expiry.isoformat()
    req = OrderRequest(service=service, link=username, params=params)
    if posts is None:
        req.pay_per_post = True
        req.charge = Decimal(0)
    else:
        req.charge = round5(service.rate * high * (posts + old_posts) / 1000)
    return req


def _subscription_range(service: Service, data: dict) -> tuple[int, int]:
    """The likes per post (min, max), within the service's limits."""
    low = parse_int(data["min"], "bad_min", maximum=HUGE)
    high = parse_int(data["max"], "bad_max", maximum=HUGE)
    if low < service.min:
        raise OrderError("quantity_below_min", minimum=service.min)
    if high > service.max:
        raise OrderError("quantity_above_max", maximum=service.max)
    if low > high:
        raise OrderError("min_above_max")
    return low, high


def _subscription_posts(service: Service, data: dict) -> int | None:
    """The posts paid for up front (None: paid per post)."""
    if not _missing(data.get("posts")):
        return parse_int(data["posts"], "bad_posts", minimum=1, maximum=100_000)
    if service.fulfilment == "provider":
        # Forwarded, a subscription is billed by the provider for every post it makes: prepaid, the
        # customer has paid for them all; paying per post, we would owe for posts the customer cannot pay.
        raise OrderError("posts_required")
    return None


def _subscription_expiry(data: dict, today: date) -> date | None:
    if _missing(data.get("expiry")):
        return None
    text = str(data["expiry"]).strip()
    try:
        expiry = datetime.strptime(text, "%d/%m/%Y").date()  # noqa: DTZ007 - a calendar date, no time
    except ValueError:
        raise OrderError("bad_expiry") from None
    if expiry < today:
        raise OrderError("expiry_past")
    return expiry
