"""The only writers of tickets: a customer opens one, writes in its thread or closes it; the staff answer
and close. Plus the reads the panel needs (a customer's own ticket, the unread count).

Each write is one transaction. Opening a ticket locks the customer's account
row first, so two tickets opened at once cannot both slip under the open-ticket
cap. What must wait for the commit waits for it: the `ticket_opened` and
`customer_replied` signals (smmpanel.tickets.signals) and the answer's e-mail.
"""

import re
from collections.abc import Iterable

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from smmpanel.accounts.models import Account
from smmpanel.alerts import services as alerts
from smmpanel.alerts.models import Alert
from smmpanel.orders.models import Order
from smmpanel.tickets import limits, notify, signals
from smmpanel.tickets.errors import TicketError
from smmpanel.tickets.models import BODY_MAX, PAYMENT_REF_MAX, Kind, Request, State, Ticket, TicketMessage

ORDERS_MAX = 20  # order ids one ticket may name
_ID_RE = re.compile(r"[0-9]{1,18}")


def parse_order_ids(text: str) -> list[int]:
    """The order ids in what a customer typed ("12, 15 #17"), in order, each once."""
    seen: dict[int, None] = {}
    for found in _ID_RE.findall(text or ""):
        seen.setdefault(int(found), None)
    return list(seen)


def clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise TicketError("empty")
    if len(body) > BODY_MAX:
        raise TicketError("too_long", max=BODY_MAX)
    return body


def _own_orders(account_id: int, order_ids: Iterable[int]) -> list[int]:
    """The ids, each checked as the customer's own: another customer's is refused as a missing one is."""
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        raise TicketError("orders_required")
    if len(ids) > ORDERS_MAX:
        raise TicketError("too_many_orders", max=ORDERS_MAX)
    found = set(Order.objects.filter(account_id=account_id, pk__in=ids).values_list("pk", flat=True))
    for order_id in ids:
        if order_id not in found:
            raise TicketError("no_such_order", id=order_id)
    return ids


def _counted(account_id: int) -> None:
    wait = limits.count_message(account_id)
    if wait is not None:
        raise TicketError("too_many_messages", seconds=wait)


def open_ticket(
    account_id: int,
    kind: str,
    body: str,
    *,
    order_ids: Iterable[int] = (),
    request: str = "",
    payment_ref: str = "",
) -> Ticket:
    """A new ticket with the customer's first message; TicketError when refused (nothing is written then)."""
    if kind not in Kind.values:
        raise ValueError(f"unknown ticket kind {kind!r}")
    body = clean_body(body)
    ids: list[int] = []
    if kind == Kind.ORDER:
        if request not in Request.values:
            raise TicketError("request_required")
        ids = _own_orders(account_id, order_ids)
    else:
        request = ""
    payment_ref = payment_ref.strip()[:PAYMENT_REF_MAX] if kind == Kind.PAYMENT else ""
    with transaction.atomic():
        Account.objects.select_for_update().only("pk").get(pk=account_id)  # one opening at a time per customer
        count = Ticket.objects.filter(account_id=account_id).exclude(state=State.CLOSED).count()
        if count >= limits.open_max():
            raise TicketError("too_many_open", count=count)
        _counted(account_id)
        ticket = Ticket.objects.create(account_id=account_id, kind=kind, request=request, payment_ref=payment_ref)
        if ids:
            ticket.orders.set(ids)
        TicketMessage.objects.create(ticket=ticket, body=body)
        alerts.raise_alert(
            Alert.Kind.TICKET,
            f"ticket:{ticket.pk}",
            f"Ticket #{ticket.pk} ({ticket.get_kind_display()}) opened",
            f"/admin/tickets/ticket/{ticket.pk}/change/",
            subject_id=ticket.pk,
        )
        signals.send_after_commit(signals.ticket_opened, ticket=ticket)
    return ticket


def own_ticket(account_id: int, ticket_id: int) -> Ticket | None:
    """The customer's ticket, or None for a missing one and for another customer's alike."""
    return Ticket.objects.filter(account_id=account_id, pk=ticket_id).first()


def customer_tickets(account_id: int) -> QuerySet[Ticket]:
    return Ticket.objects.filter(account_id=account_id)


def unread_count(account_id: int) -> int:
    """Tickets with an answer the customer has not read (one query on a partial index)."""
    return Ticket.objects.filter(account_id=account_id, unread=True).count()


def mark_read(ticket: Ticket) -> None:
    """The customer opened the ticket: its answers are read."""
    if ticket.unread:
        Ticket.objects.filter(pk=ticket.pk, unread=True).update(unread=False)
        ticket.unread = False


def reply(account_id: int, ticket_id: int, body: str) -> TicketMessage:
    """The customer writes in their ticket's thread; the ticket waits for the staff again."""
    body = clean_body(body)
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().filter(account_id=account_id, pk=ticket_id).first()
        if ticket is None:
            raise Ticket.DoesNotExist
        if ticket.is_closed:
            raise TicketError("closed")
        _counted(account_id)
        message = TicketMessage.objects.create(ticket=ticket, body=body)
        Ticket.objects.filter(pk=ticket.pk).update(state=State.OPEN, updated=timezone.now())
        signals.send_after_commit(signals.customer_replied, ticket=ticket, message=message)
    return message


def close_by_customer(account_id: int, ticket_id: int) -> None:
    updated = Ticket.objects.filter(account_id=account_id, pk=ticket_id).update(
        state=State.CLOSED, updated=timezone.now()
    )
    if not updated:
        raise Ticket.DoesNotExist


def answer(ticket_id: int, staff, body: str, *, link: str = "") -> TicketMessage:
    """A staff answer: in the thread, the ticket "answered" and unread for its customer, who is mailed
    (after the commit; `link` is the ticket's address in the panel). An answer to a closed ticket
    opens it again, as answered: the customer may reply to it."""
    body = clean_body(body)
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
        message = TicketMessage.objects.create(ticket=ticket, staff=staff, from_staff=True, body=body)
        Ticket.objects.filter(pk=ticket.pk).update(state=State.ANSWERED, unread=True, updated=timezone.now())
        transaction.on_commit(lambda: notify.answered(ticket, message, link))
    return message


def close(ticket_ids: Iterable[int]) -> int:
    """The staff close tickets (those not yet closed); how many were closed."""
    return (
        Ticket.objects.filter(pk__in=list(ticket_ids))
        .exclude(state=State.CLOSED)
        .update(state=State.CLOSED, updated=timezone.now())
    )
