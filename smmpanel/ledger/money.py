"""Money arithmetic: every amount is a Decimal rounded to 5 places, half-up.

The rule, applied once at every place an amount is computed (never to
intermediate products):
  - an order's charge          = round5(rate × quantity / 1000)   (Package types: rate)
  - a Partial refund           = round5(charge × remains / quantity)
  - a Canceled refund          = charge − what was already refunded
Balances and ledger rows are stored with 5 decimal places, so the balance is
always exactly the sum of its ledger rows.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import cast

PLACES = Decimal("0.00001")
ZERO = Decimal("0.00000")
# Largest amount a ledger row or balance may hold (fits max_digits=18, 5 places).
MAX_AMOUNT = Decimal("9999999999999.99999")


def round5(value) -> Decimal:
    return Decimal(value).quantize(PLACES, rounding=ROUND_HALF_UP)


def format_money(value) -> str:
    """Balances and charges go out as strings with 5 decimals: "100.84292"."""
    return str(round5(value))


def shown_money(value) -> str:
    """Amounts shown to people: two decimals, more only where the amount has them ("2.25", "870.844", "0.00123").

    Exact (never rounded beyond the stored 5 places); the API and the CSV keep format_money's fixed 5.
    """
    d = round5(value)
    two = d.quantize(Decimal("0.01"))
    return str(two) if two == d else format(d.normalize(), "f")


def format_rate(value) -> str:
    """Rates go out as the owner wrote them, at least two decimals when fractional: "0.90", "8"."""
    d = Decimal(value).normalize()
    if d == d.to_integral_value():
        return str(d.quantize(Decimal(1)))
    exponent = cast(int, d.as_tuple().exponent)  # an int: a rate is finite ('n', 'N', 'F' are NaN, ∞)
    return str(d.quantize(Decimal("0.01"))) if exponent > -2 else format(d, "f")


def parse_amount(text) -> Decimal:
    """Parse an amount typed by the owner (CLI, admin): a non-negative decimal."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    if not value.is_finite() or value < 0 or value > MAX_AMOUNT:
        raise ValueError(f"amount out of range: {text!r}")
    return round5(value)
