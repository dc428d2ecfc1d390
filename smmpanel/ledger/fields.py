"""MoneyField: a Decimal in Python, an exact integer count of 0.00001 USD in the database.

SQLite has no exact decimal type (a DECIMAL column holds a float), so sums
like `balance + amount` computed by the database would drift. Storing whole
units of 10⁻⁵ keeps every database's arithmetic exact, including the atomic
`UPDATE … SET balance = balance - x WHERE balance >= x` the ledger relies on.
"""

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.db import models

from smmpanel.ledger.money import PLACES, round5

SCALE = 100_000  # units per USD: 5 decimal places


def to_units(value) -> int:
    return int(round5(value) * SCALE)


def from_units(units: int) -> Decimal:
    return (Decimal(units) / SCALE).quantize(PLACES)


if TYPE_CHECKING:
    # For django-stubs: set from a Decimal (or an int, a str, an expression), read back as a Decimal.
    # Django's fields are generic only in the stubs, hence the alias.
    from django.db.models.expressions import Combinable

    _MoneyBase = models.BigIntegerField[Decimal | int | str | Combinable, Decimal]
else:
    _MoneyBase = models.BigIntegerField


class MoneyField(_MoneyBase):
    description = "An amount of money, exact to 5 decimal places"

    def from_db_value(self, value, expression, connection):
        return None if value is None else from_units(value)

    def to_python(self, value):
        if value is None or isinstance(value, Decimal):
            return value
        return round5(value)

    def get_prep_value(self, value):
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value == 0:
            return 0
        return to_units(value)

    # Keywords only (how Django calls it): the stubs' signature also names form_class positionally.
    def formfield(self, **kwargs: Any) -> forms.Field:  # type: ignore[override]
        return forms.DecimalField(max_digits=18, decimal_places=5, **kwargs)


def money(value) -> models.Value:
    """An amount as an SQL value of the money type, for F() arithmetic in updates."""
    return models.Value(round5(value), output_field=MoneyField())
