"""`MoneyColumns`: an admin list's money read as the panel's pages show it (shown_money), not "1000.00000".

Django's admin writes a MoneyField (an integer field holding a Decimal) with all five places;
the customer's pages, the dashboard and the admin's messages write "1000.00" and "0.0325".
"""

from typing import cast

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from smmpanel.ledger.fields import MoneyField
from smmpanel.ledger.money import shown_money

_money_columns: dict[tuple[type[models.Model], str], object] = {}


def _money_column(model: type[models.Model], name: str):
    """A list column showing field `name` as the panel's pages show money; one per (model, field)."""
    key = (model, name)
    if key not in _money_columns:
        field = cast(models.Field, model._meta.get_field(name))

        def column(obj):
            value = getattr(obj, name)
            return None if value is None else shown_money(value)  # None: the admin's empty-value dash

        column.__name__ = name  # the column's CSS class stays field-<name>
        _money_columns[key] = admin.display(description=field.verbose_name, ordering=name)(column)
    return _money_columns[key]


class MoneyColumns:
    """A ModelAdmin mixin: its list's money columns read "1000.00" and "0.032", not Django's "1000.00000".

    Every MoneyField of the model in list_display, and the DecimalFields named in `money_fields`
    (an amount kept as a plain decimal, e.g. a provider's balance). Mixed in before the ModelAdmin.
    """

    money_fields: tuple[str, ...] = ()

    def get_list_display(self, request):
        names = super().get_list_display(request)  # type: ignore[misc]
        return [_money_column(self.model, name) if self._is_money(name) else name for name in names]  # type: ignore[attr-defined]

    def _is_money(self, name) -> bool:
        if not isinstance(name, str) or name in getattr(self, "list_editable", ()):
            return False  # a callable column already, or an input box
        if name in self.money_fields:
            return True
        try:
            return isinstance(self.model._meta.get_field(name), MoneyField)  # type: ignore[attr-defined]
        except FieldDoesNotExist:  # a method or attribute of the admin, not a field
            return False
