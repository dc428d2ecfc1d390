"""Support tickets in the panel: the customer's tickets, a new one, a ticket's thread with a reply box,
and closing it.

Every read and write goes through smmpanel.tickets.services, scoped to the
signed-in customer's account: another customer's ticket is a 404 like a
missing one. Opening a ticket marks its answers read (the menu's count).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from smmpanel.ids import parse_id
from smmpanel.paging import keyset_page
from smmpanel.tickets import services
from smmpanel.tickets.errors import TicketError
from smmpanel.tickets.models import Kind, Ticket
from smmpanel.web.forms.tickets import NewTicketForm, ReplyForm
from smmpanel.web.views.neworder import account_id_of

# Which field of the new-ticket form each refusal belongs to.
ERROR_FIELDS = {
    "no_such_order": "order_ids",
    "orders_required": "order_ids",
    "too_many_orders": "order_ids",
    "request_required": "request",
    "empty": "body",
    "too_long": "body",
}


def _cursor(request: HttpRequest, name: str) -> int | None:
    return parse_id(request.GET.get(name, "")) if request.GET.get(name) else None


@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    rows = services.customer_tickets(account_id_of(request))
    page = keyset_page(rows, before=_cursor(request, "before"), after=_cursor(request, "after"))
    return render(request, "web/tickets/list.html", {"page": page, "keep": {}})


@login_required
def ticket_new(request: HttpRequest) -> HttpResponse:
    # From an order's page ("Ask about this order"): that order's id filled in.
    order_id = parse_id(request.GET.get("order", ""))
    initial = {"kind": Kind.ORDER, "order_ids": str(order_id) if order_id else ""}
    form = NewTicketForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = services.open_ticket(
                account_id_of(request),
                data["kind"],
                data["body"],
                order_ids=services.parse_order_ids(data["order_ids"]),
                request=data["request"],
                payment_ref=data["payment_ref"],
            )
        except TicketError as error:
            form.add_error(ERROR_FIELDS.get(error.code), str(error))
        else:
            messages.success(request, _("Ticket #%(id)s opened: we answer here and by e-mail.") % {"id": ticket.pk})
            return redirect("web:ticket", pk=ticket.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "web/tickets/new.html", {"form": form}, status=status)


def _own(request: HttpRequest, pk: int) -> tuple[int, Ticket]:
    account_id = account_id_of(request)
    ticket = services.own_ticket(account_id, pk)
    if ticket is None:
        raise Http404("no such ticket")
    return account_id, ticket


def _detail(request: HttpRequest, ticket: Ticket, form: ReplyForm, status: int = 200) -> HttpResponse:
    services.mark_read(ticket)
    context = {
        "ticket": ticket,
        "thread": list(ticket.messages.order_by("id")),
        "order_ids": sorted(ticket.orders.values_list("pk", flat=True)),
        "form": form,
    }
    return render(request, "web/tickets/detail.html", context, status=status)


@login_required
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _account_id, ticket = _own(request, pk)
    return _detail(request, ticket, ReplyForm())


@login_required
@require_POST
def ticket_reply(request: HttpRequest, pk: int) -> HttpResponse:
    account_id, ticket = _own(request, pk)
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            services.reply(account_id, ticket.pk, form.cleaned_data["body"])
        except TicketError as error:
            form.add_error("body", str(error))
        else:
            messages.success(request, _("Your reply was added."))
            return redirect("web:ticket", pk=ticket.pk)
    return _detail(request, ticket, form, status=400)


@login_required
@require_POST
def ticket_close(request: HttpRequest, pk: int) -> HttpResponse:
    account_id, ticket = _own(request, pk)
    services.close_by_customer(account_id, ticket.pk)
    messages.success(request, _("Ticket #%(id)s closed.") % {"id": ticket.pk})
    return redirect("web:ticket", pk=ticket.pk)
