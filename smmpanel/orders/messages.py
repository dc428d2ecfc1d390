"""The words of every refusal of an order, refill or cancel, by OrderError code: one place for both faces.

The API answers with these strings as they are: resellers' scripts match
several of them verbatim, so they never go through translation there. The web
panel shows the same refusals translated (`localized`); `_` only marks the
strings for makemessages and returns them unchanged.
"""

from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

from smmpanel.orders.errors import OrderError

MESSAGES = {
    # Verbatim strings of the de-facto standard: do not reword.
    "key": _("Invalid API key"),
    "request": _("Incorrect request"),
    "missing": _("Incorrect request"),
    "bad_service": _("Incorrect service ID"),
    "bad_order": _("Incorrect order ID"),
    "funds": _("Not enough funds on balance"),
    "quantity_below_min": _("Quantity less than minimal {minimum}"),
    "quantity_above_max": _("Quantity more than maximum {maximum}"),
    "bad_link": _("Bad link"),
    "duplicate": _("You have active order with this link. Please wait until order being completed."),
    "refill_disabled": _("Refill is disabled for this service"),
    "refill_not_found": _("Refill not found"),
    # Ours, in the same plain style.
    "bad_json": _("Request body is not valid JSON"),
    "json_not_object": _("Request body must be a JSON object"),
    "too_big": _("Request body is too large"),
    "bad_text": _("Parameter {name} contains characters that are not allowed"),
    "too_many_ids": _("Too many IDs: at most {maximum} per request"),
    "bad_quantity": _("Quantity must be a whole number"),
    "bad_username": _("Bad username"),
    "bad_param": _("Incorrect {name}"),
    "params_too_big": _("Order parameters are too large: at most {maximum} bytes in all"),
    "list_too_long": _("The {name} list has more than {maximum} lines"),
    "line_too_long": _("A line of the {name} list is longer than {maximum} characters"),
    "dripfeed_disabled": _("Drip-feed is disabled for this service"),
    "dripfeed_pair": _("Drip-feed needs both runs and interval"),
    "bad_runs": _("Runs must be a whole number from 1 to {maximum_runs}"),
    "bad_interval": _("Interval must be a whole number of minutes from 1 to {maximum_interval}"),
    "dripfeed_too_big": _("Quantity × runs must not be more than {maximum}"),
    "bad_min": _("Min must be a whole number"),
    "bad_max": _("Max must be a whole number"),
    "min_above_max": _("Min must not be more than max"),
    "bad_posts": _("Posts must be a whole number from 1 to 100000"),
    "bad_old_posts": _("Old posts must be a whole number from 0 to 1000"),
    "bad_delay": _("Incorrect delay. Possible values: {allowed}"),
    "bad_expiry": _("Incorrect expiry date: use the format d/m/Y, e.g. 31/12/2027"),
    "expiry_past": _("Expiry date is in the past"),
    "refill_not_completed": _("Refill is available only for completed orders (this one is {status})"),
    "refill_expired": _("Refill period of {days} days has expired"),
    "refill_open": _("A refill for this order is already in progress"),
    "cancel_disabled": _("Cancel is disabled for this service"),
    "cancel_final": _("Order cannot be canceled: it is {status}"),
    "cancel_requested": _("Cancel is already requested for this order"),
    "posts_required": _("This service needs posts: the number of new posts to order for"),
    "bad_transition": _("An order that is {old} cannot become {new}"),
    "idempotency_key_too_long": _("Idempotency key is longer than {maximum} characters"),
    "idempotency_mismatch": _("Idempotency key was used with other parameters"),
    "rate_limited": _("Too many requests"),
    # SIGNUP_EMAIL_VERIFICATION: the account's address is not confirmed yet.
    "email_unverified": _("Confirm your e-mail address first: follow the link we mailed you, then order"),
    "account_in_debt": _(
        "Your account owes {debt} USD after a refunded payment: add funds to settle it before placing new orders"
    ),
}


def message(error: OrderError | str, **values) -> str:
    """The API's words for a refusal (an OrderError, or a bare code with its values)."""
    if isinstance(error, OrderError):
        code, values = error.code, error.values
    else:
        code = error
    return MESSAGES[code].format(**values)


def localized(error: OrderError | str, **values) -> str:
    """The same words in the active language, for pages."""
    if isinstance(error, OrderError):
        code, values = error.code, error.values
    else:
        code = error
    return gettext(MESSAGES[code]).format(**values)
