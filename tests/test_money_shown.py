"""Amounts on the pages: two decimals, more only where the amount has them; the API keeps its five."""

from decimal import Decimal

import pytest

from smmpanel.ledger.money import format_money, shown_money


@pytest.mark.parametrize(
    "amount, shown",
    [
        ("2.25000", "2.25"),
        ("870.84400", "870.844"),
        ("0.00123", "0.00123"),
        ("100", "100.00"),
        ("0", "0.00"),
        ("-0.30000", "-0.30"),
        ("1E+2", "100.00"),
        ("9999999999999.99999", "9999999999999.99999"),
    ],
)
def test_a_page_shows_an_amount_to_the_cent_or_to_its_last_digit(amount, shown):
    assert shown_money(Decimal(amount)) == shown


def test_the_api_keeps_five_decimals_for_the_same_amount():
    assert format_money(Decimal("2.25")) == "2.25000"
