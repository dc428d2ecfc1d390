"""The words of every PaymentError, by code: one place for the pages and the admin.

`message` gives them as written (logs, the admin); `localized` in the active
language (pages); `_` only marks the strings for makemessages.
"""

from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

from smmpanel.payments.errors import PaymentError

MESSAGES = {
    "unknown_gateway": _("This payment method is not available"),
    "bad_amount": _("Amount must be a number of USD, e.g. 25 or 25.50"),
    "below_min": _("The smallest amount by {gateway} is {minimum} USD"),
    "above_max": _("The largest amount by {gateway} is {maximum} USD"),
    "gateway_down": _("{gateway} cannot be reached right now: please try again in a few minutes"),
    "needs_reference": _("{gateway} is a transfer: send the money as its instructions say, then give its reference"),
    "not_manual": _("{gateway} takes no transfer reference: pay on its page"),
    "bad_reference": _("Please give the reference of your transfer (1 to 200 characters)"),
    "not_found": _("Payment not found"),
    "not_manual_payment": _("Only a manual transfer is approved or rejected by hand"),
    "already_credited": _("This payment was credited already; take money back with an adjustment"),
    "already_settled": _("This payment was settled already"),
    "bad_credit": _("The amount to credit must be more than 0 USD"),
}


def message(error: PaymentError | str, **values) -> str:
    if isinstance(error, PaymentError):
        code, values = error.code, error.values
    else:
        code = error
    return MESSAGES[code].format(**values)


def localized(error: PaymentError | str, **values) -> str:
    if isinstance(error, PaymentError):
        code, values = error.code, error.values
    else:
        code = error
    return gettext(MESSAGES[code]).format(**values)
