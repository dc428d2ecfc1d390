"""A service update in words, as the customers' page and the admin show it: "0.90 → 1.10 USD", "min 10 → 20"."""

from django.utils.translation import gettext as _

from smmpanel.ledger.money import format_rate
from smmpanel.updates.models import Kind, ServiceUpdate


def change_text(update: ServiceUpdate) -> str:
    if update.kind in (Kind.PRICE_UP, Kind.PRICE_DOWN):
        return _("%(old)s → %(new)s USD") % {"old": format_rate(update.old_rate), "new": format_rate(update.new_rate)}
    if update.kind == Kind.LIMITS:
        parts = []
        if update.old_min != update.new_min:
            parts.append(_("min %(old)s → %(new)s") % {"old": update.old_min, "new": update.new_min})
        if update.old_max != update.new_max:
            parts.append(_("max %(old)s → %(new)s") % {"old": update.old_max, "new": update.new_max})
        return ", ".join(parts)
    if update.kind == Kind.NEW and update.new_rate is not None:
        return _("%(rate)s USD, min %(min)s, max %(max)s") % {
            "rate": format_rate(update.new_rate),
            "min": update.new_min,
            "max": update.new_max,
        }
    return ""
