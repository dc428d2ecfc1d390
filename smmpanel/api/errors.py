"""The words of every API error, by code. Resellers' scripts match several of these verbatim."""

from smmpanel.orders.errors import OrderError

MESSAGES = {
    # Verbatim strings of the de-facto standard: do not reword.
    "key": "Invalid API key",
    "request": "Incorrect request",
    "missing": "Incorrect request",
    "bad_service": "Incorrect service ID",
    "bad_order": "Incorrect order ID",
    "funds": "Not enough funds on balance",
    "quantity_below_min": "Quantity less than minimal {minimum}",
    "quantity_above_max": "Quantity more than maximum {maximum}",
    "bad_link": "Bad link",
    "duplicate": "You have active order with this link. Please wait until order being completed.",
    "refill_disabled": "Refill is disabled for this service",
    "refill_not_found": "Refill not found",
    # Ours, in the same plain style.
    "bad_json": "Request body is not valid JSON",
    "json_not_object": "Request body must be a JSON object",
    "too_big": "Request body is too large",
    "bad_text": "Parameter {name} contains characters that are not allowed",
    "too_many_ids": "Too many IDs: at most {maximum} per request",
    "bad_quantity": "Quantity must be a whole number",
    "bad_username": "Bad username",
    "bad_param": "Incorrect {name}",
    "params_too_big": "Order parameters are too large: at most {maximum} bytes in all",
    "list_too_long": "The {name} list has more than {maximum} lines",
    "line_too_long": "A line of the {name} list is longer than {maximum} characters",
    "dripfeed_disabled": "Drip-feed is disabled for this service",
    "dripfeed_pair": "Drip-feed needs both runs and interval",
    "bad_runs": "Runs must be a whole number from 1 to {maximum_runs}",
    "bad_interval": "Interval must be a whole number of minutes from 1 to {maximum_interval}",
    "dripfeed_too_big": "Quantity × runs must not be more than {maximum}",
    "bad_min": "Min must be a whole number",
    "bad_max": "Max must be a whole number",
    "min_above_max": "Min must not be more than max",
    "bad_posts": "Posts must be a whole number from 1 to 100000",
    "bad_old_posts": "Old posts must be a whole number from 0 to 1000",
    "bad_delay": "Incorrect delay. Possible values: {allowed}",
    "bad_expiry": "Incorrect expiry date: use the format d/m/Y, e.g. 31/12/2027",
    "expiry_past": "Expiry date is in the past",
    "refill_not_completed": "Refill is available only for completed orders (this one is {status})",
    "refill_expired": "Refill period of {days} days has expired",
    "refill_open": "A refill for this order is already in progress",
    "cancel_disabled": "Cancel is disabled for this service",
    "cancel_final": "Order cannot be canceled: it is {status}",
    "cancel_requested": "Cancel is already requested for this order",
    "posts_required": "This service needs posts: the number of new posts to order for",
    "bad_transition": "An order that is {old} cannot become {new}",
    "idempotency_key_too_long": "Idempotency key is longer than {maximum} characters",
    "idempotency_mismatch": "Idempotency key was used with other parameters",
    "rate_limited": "Too many requests",
}


def message(error: OrderError | str, **values) -> str:
    if isinstance(error, OrderError):
        code, values = error.code, error.values
    else:
        code = error
    return MESSAGES[code].format(**values)


class ApiError(Exception):
    """Ends the request with {"error": message}."""

    def __init__(self, code: str, **values):
        super().__init__(message(code, **values))
        self.text = message(code, **values)
