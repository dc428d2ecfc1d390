"""`{{ amount|money }}`: an amount as the pages show it (see smmpanel.ledger.money.shown_money)."""

from django import template

from smmpanel.ledger.money import shown_money

register = template.Library()


@register.filter
def money(value) -> str:
    return "" if value is None or value == "" else shown_money(value)
