"""TicketError: why a ticket or a message was refused, as a code plus values, and its words for the panel."""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class TicketError(Exception):
    def __init__(self, code: str, **values):
        super().__init__(code, values)
        self.code = code
        self.values = values

    def __str__(self) -> str:
        return message(self)


def message(error: TicketError) -> str:
    """The words a customer reads for `error` (translated)."""
    values = error.values
    if error.code == "too_many_open":
        return ngettext(
            "You have %(count)d open ticket: close it or wait for it to be answered and closed first.",
            "You have %(count)d open tickets: close one or wait for them to be answered and closed first.",
            values["count"],
        ) % {"count": values["count"]}
    if error.code == "too_many_messages":
        minutes = max(1, (values["seconds"] + 59) // 60)
        return ngettext(
            "Too many messages: please write again in %(minutes)d minute.",
            "Too many messages: please write again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}
    if error.code == "no_such_order":
        return _("Order %(id)s is not one of your orders.") % {"id": values["id"]}
    if error.code == "orders_required":
        return _("Give the id of the order (or orders) this is about.")
    if error.code == "too_many_orders":
        return _("At most %(max)d orders per ticket.") % {"max": values["max"]}
    if error.code == "request_required":
        return _("Choose what you ask for these orders.")
    if error.code == "empty":
        return _("Write a message.")
    if error.code == "too_long":
        return _("A message has at most %(max)d characters.") % {"max": values["max"]}
    if error.code == "closed":
        return _("This ticket is closed: open a new one.")
    return _("That was refused.")
