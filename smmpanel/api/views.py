"""The /api/v2 endpoint: parse → check the key → run the action → answer JSON.

Order of checks: the key, then the action, then the action's parameters.
Every answer is HTTP 200 with a JSON body; errors are {"error": "..."}
(HTTP 429 over the rate limit, 500 on a real fault: still JSON).
Money and statuses are changed only through smmpanel.orders.services.

`handle` is the endpoint whichever server runs it: `api_v2` below is its
Django view (the URL route: the test client, `runserver`), and
smmpanel.api.wsgi serves it to gunicorn without Django's request cycle.
"""

import logging
from collections.abc import Callable

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from smmpanel import addresslimits
from smmpanel.accounts.keys import hash_key
from smmpanel.api import body, queries, ratelimit, render
from smmpanel.api.errors import ApiError, message
from smmpanel.api.params import RawRequest, echo_id, id_list, read_fields
from smmpanel.ids import parse_id
from smmpanel.loginlimits import client_address
from smmpanel.orders import idempotency, selectors, services
from smmpanel.orders.errors import OrderError
from smmpanel.orders.models import Actor
from smmpanel.orders.validation import validate_order

log = logging.getLogger(__name__)


def _authenticate(fields: dict, status_ids: set[int] | None = None, address: str | None = None) -> queries.ApiAccount:
    """The key's account; with `status_ids`, with those of its orders read in the same query.

    An address over its failed lookups (API_KEY_FAILURES_PER_ADDRESS) is refused before the lookup.
    """
    key = fields.get("key", "").strip()
    if not key or len(key) > 200:
        raise ApiError("key")
    wait = addresslimits.api_key_refused(address)
    if wait is not None:
        raise ratelimit.RateLimited(wait)
    key_hash = hash_key(key)
    ratelimit.check(key_hash)  # before the database: a flood costs no query
    if status_ids is None:
        account = queries.account_by_key_hash(key_hash)
    else:
        account = queries.account_with_orders(key_hash, status_ids)
    if account is None:
        wait = addresslimits.api_key_failed(address)
        if wait is not None:
            raise ratelimit.RateLimited(wait)
        raise ApiError("key")
    return account


def _required(fields: dict, name: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise ApiError("request")
    return value


# --- actions --------------------------------------------------------------------


def action_services(account, fields):
    return [render.service_item(s) for s in queries.active_service_items()]


def action_balance(account, fields):
    return render.balance(account)


def action_add(account, fields):
    try:
        key = idempotency.key_of(fields)
        if key is None:
            return _add(account, fields)
        digest = idempotency.request_digest(fields)
        return idempotency.run_once(account.pk, key, digest, lambda: _add(account, fields))
    except OrderError as e:  # the key: too long, or used with other parameters
        return {"error": message(e)}


def _add(account, fields):
    service_id = parse_id(_required(fields, "service"))
    service = None
    if service_id is not None:
        service = queries.active_service(service_id)
    if service is None:
        raise ApiError("bad_service")
    try:
        request = validate_order(service, fields)
        order = services.place_order(account.pk, request, actor=Actor.API)
    except OrderError as e:
        return {"error": message(e)}
    return {"order": order.pk}


def _ids(raw_ids: list[str]) -> set[int]:
    return {number for number in map(parse_id, raw_ids) if number is not None}


def _found(found: dict, raw: str, default=None):
    """What `found` holds under the id `raw` names; `default` for a missing or malformed id."""
    number = parse_id(raw)
    return default if number is None else found.get(number, default)


def _status_request(fields) -> tuple[bool, list[str]]:
    """(multi, the ids as asked) of a `status` call."""
    multi = bool(fields.get("orders", "").strip())
    return multi, (id_list(fields["orders"]) if multi else [_required(fields, "order")])


def action_status(account, fields):
    multi, raw_ids = _status_request(fields)
    bodies = render.order_statuses(account.orders)  # read with the key (see api_v2)
    if not multi:
        body = _found(bodies, raw_ids[0])
        if body is None:
            raise ApiError("bad_order")
        return body
    not_found = {"error": message("bad_order")}
    return {raw: _found(bodies, raw, not_found) for raw in raw_ids}


def _refill_one(account, raw):
    try:
        return services.request_refill(account.pk, raw).pk
    except OrderError as e:
        return {"error": message(e)}


def action_refill(account, fields):
    if fields.get("orders", "").strip():
        return [{"order": echo_id(raw), "refill": _refill_one(account, raw)} for raw in id_list(fields["orders"])]
    result = _refill_one(account, _required(fields, "order"))
    return result if isinstance(result, dict) else {"refill": str(result)}


def action_refill_status(account, fields):
    multi = bool(fields.get("refills", "").strip())
    raw_ids = id_list(fields["refills"]) if multi else [_required(fields, "refill")]
    found = selectors.refill_statuses(account.pk, _ids(raw_ids))
    not_found = {"error": message("refill_not_found")}
    if not multi:
        status = _found(found, raw_ids[0])
        return {"status": status} if status else not_found
    return [{"refill": echo_id(raw), "status": _found(found, raw, not_found)} for raw in raw_ids]


def _cancel_one(account, raw):
    try:
        services.request_cancel(account.pk, raw)
        return 1
    except OrderError as e:
        return {"error": message(e)}


def action_cancel(account, fields):
    raw = fields.get("orders", "").strip() or _required(fields, "order")
    return [{"order": echo_id(r), "cancel": _cancel_one(account, r)} for r in id_list(raw)]


ACTIONS = {
    "services": action_services,
    "add": action_add,
    "status": action_status,
    "refill": action_refill,
    "refill_status": action_refill_status,
    "cancel": action_cancel,
    "balance": action_balance,
}


# The failing step may be the COMMIT itself (the connection dropped after the
# database committed an `add`): the client cannot know, so it must not blindly
# resend an add without a key.
SERVER_FAULT = (
    "Internal server error: the request may have been processed; "
    "check your orders, or retry with the same Idempotency-Key"
)
NO_HEADERS: list[tuple[str, str]] = []


def handle(read: Callable[[], RawRequest], address: str | None = None) -> tuple[int, object, list[tuple[str, str]]]:
    """(HTTP status, JSON body, extra headers) of one API call; `read` gives the request (may raise ApiError).

    `address`: the client's (smmpanel.loginlimits.client_address), for the limit of failed key lookups.
    """
    try:
        fields = read_fields(read())
        name = fields.get("action", "").strip()
        status_ids = None
        if name == "status":
            try:
                status_ids = _ids(_status_request(fields)[1])
            except ApiError:
                pass  # the action reports it, after the key is checked
        account = _authenticate(fields, status_ids, address)
        action = ACTIONS.get(name)
        if action is None:
            raise ApiError("request")
        return 200, action(account, fields), NO_HEADERS
    except ratelimit.RateLimited as e:
        return 429, {"error": e.text}, [("Retry-After", str(e.retry_after))]
    except ApiError as e:
        return 200, {"error": e.text}, NO_HEADERS
    except Exception:
        # A real fault (database down, a bug): JSON still, and a 500 so that
        # monitoring sees it. Nothing past the failing step was committed.
        log.exception("API v2 request failed")
        return 500, {"error": SERVER_FAULT}, NO_HEADERS


def raw_from_django(request) -> RawRequest:
    """A RawRequest from Django's request, read by the same rules as on the WSGI route."""
    return body.raw_request(request.META, request)


def json_response(status: int, content, headers=NO_HEADERS) -> JsonResponse:
    response = JsonResponse(content, safe=False, status=status, json_dumps_params={"ensure_ascii": False})
    # Served without SecurityMiddleware (see smmpanel/wsgi.py).
    response["X-Content-Type-Options"] = "nosniff"
    for name, value in headers:
        response[name] = value
    return response


@csrf_exempt
def api_v2(request):
    return json_response(*handle(lambda: raw_from_django(request), client_address(request.META)))
