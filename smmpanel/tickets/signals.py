"""Signals of tickets, for whoever alerts the owner (e-mail, Telegram).

- ``ticket_opened(sender=Ticket, ticket=Ticket)``: a customer opened a ticket (its first message is
  ``ticket.messages.first()``; its kind, request, orders and payment reference are on the ticket).
- ``customer_replied(sender=Ticket, ticket=Ticket, message=TicketMessage)``: a customer wrote again in
  a ticket, which now waits for the staff.

Sent after the commit (a receiver sees the rows) with ``send_robust``: a receiver that fails is
logged and never undoes or breaks the customer's request. Receivers run in that request, so one
that does slow I/O should hand it on (to the worker) rather than do it there.
"""

import logging

from django.db import transaction
from django.dispatch import Signal

log = logging.getLogger(__name__)

ticket_opened = Signal()
customer_replied = Signal()


def send_after_commit(signal: Signal, **named) -> None:
    """Send `signal` once the current transaction commits (at once outside one)."""
    from smmpanel.tickets.models import Ticket

    def send() -> None:
        for receiver, outcome in signal.send_robust(sender=Ticket, **named):
            if isinstance(outcome, Exception):
                log.error("ticket signal receiver %r failed", receiver, exc_info=outcome)

    transaction.on_commit(send)
