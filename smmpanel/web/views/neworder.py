"""Placing orders from the panel: the new-order form (its service part, its live charge: htmx fragments), mass order.

The pages choose a service and show the form of its type; what is valid, what
it costs and the placing itself are smmpanel/web/forms/order.py's, which hands
everything to the orders layer the API uses.
"""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from smmpanel.catalog.models import Service
from smmpanel.ids import parse_id
from smmpanel.ledger.money import format_rate
from smmpanel.orders import selectors
from smmpanel.orders.messages import localized
from smmpanel.web.context import customer_account
from smmpanel.web.forms.order import MassOrderForm, OrderForm, dripfeed_allowed, preview_charge


def account_id_of(request: HttpRequest) -> int:
    """The signed-in customer's account id (made on first need, as on every panel page)."""
    return customer_account(request).pk


def fragment_login_required(view):
    """login_required for the form's htmx fragments: signed out meanwhile, the whole page goes to the log-in
    page (and back to the form after), rather than the log-in page landing inside the form."""

    @wraps(view)
    def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        to_login = redirect_to_login(reverse("web:new-order"), settings.LOGIN_URL)
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(to_login.url)
        return to_login

    return checked


class Choice:
    """The category and service a form is about, from the request, among the services on sale."""

    def __init__(self, params, *, category_changed: bool = False, placing: bool = False):
        self.catalog = list(selectors.active_services())
        self.categories = list({s.category_id: s.category for s in self.catalog}.values())
        wanted_service = None if category_changed else parse_id(params.get("service", ""))
        self.service = next((s for s in self.catalog if s.pk == wanted_service), None)
        wanted_category = parse_id(params.get("category", ""))
        if not placing and self.service is not None and wanted_category not in (None, self.service.category_id):
            # The category asked for does not hold that service: the category wins (its first service).
            # When placing, the service sent is the order's, whatever the category select says.
            self.service = None
        if self.service is not None:
            wanted_category = self.service.category_id
        self.category = next((c for c in self.categories if c.pk == wanted_category), None)
        if self.category is None and self.categories:
            self.category = self.categories[0]
        self.services = [s for s in self.catalog if self.category is not None and s.category_id == self.category.pk]
        for s in self.services:
            s.shown_rate = format_rate(s.rate)  # type: ignore[attr-defined]  # as the API shows it: "0.75", "8"
        if self.service is None and self.services:
            self.service = self.services[0]

    def context(self, form: OrderForm | None) -> dict:
        return {
            "categories": self.categories,
            "category": self.category,
            "services": self.services,
            "service": self.service,
            "form": form,
            "dripfeed": self.service is not None and dripfeed_allowed(self.service),
        }


@login_required
def new_order(request: HttpRequest) -> HttpResponse:
    account_id = account_id_of(request)
    params = request.POST if request.method == "POST" else request.GET
    choice = Choice(params, placing=request.method == "POST")
    service: Service | None = choice.service
    form = None
    if request.method == "POST":
        wanted = parse_id(request.POST.get("service", ""))
        if service is None or service.pk != wanted:
            # The service went off sale (or never was): say so, on the form of what is on sale now.
            form = OrderForm(service, initial={}) if service is not None else None
            messages.error(request, localized("bad_service"))
        else:
            form = OrderForm(service, request.POST)
            order_id = form.place(account_id)
            if order_id is not None:
                messages.success(request, _("Order #%(id)s placed.") % {"id": order_id})
                return redirect("web:order", pk=order_id)
    elif service is not None:
        form = OrderForm(service)
    return render(request, "web/order/new.html", choice.context(form))


@fragment_login_required
@require_GET
def service_fields(request: HttpRequest) -> HttpResponse:
    """The service select and the chosen service's fields (htmx: when the category or service changes)."""
    account_id_of(request)
    choice = Choice(request.GET, category_changed=request.GET.get("changed") == "category")
    form = None
    if choice.service is not None:
        # Bound to what was typed so far (a link survives a change of service), never validated here.
        form = OrderForm(choice.service, request.GET)
    return render(request, "web/order/_service.html", choice.context(form))


@fragment_login_required
@require_POST
def charge(request: HttpRequest) -> HttpResponse:
    """What the order as typed so far would cost (htmx: as fields change), by validate_order's own figure."""
    account_id_of(request)
    service_id = parse_id(request.POST.get("service", ""))
    service = selectors.active_services().filter(pk=service_id).first() if service_id is not None else None
    amount, note = (None, localized("bad_service")) if service is None else preview_charge(service, request.POST)
    return render(request, "web/order/_charge.html", {"amount": amount, "note": note})


@login_required
def mass_order(request: HttpRequest) -> HttpResponse:
    account_id = account_id_of(request)
    if request.method == "POST" and "check" in request.POST:
        # "Check" shows what each line would cost, and the total, placing nothing.
        form = MassOrderForm(request.POST)
        form.check()
    elif request.method == "POST":
        form = MassOrderForm(request.POST)
        ids = form.place(account_id)
        if ids is not None:
            count = len(ids)
            messages.success(
                request,
                ngettext("%(count)d order placed.", "%(count)d orders placed.", count) % {"count": count},
            )
            return redirect("web:orders")
    else:
        form = MassOrderForm()
    return render(request, "web/mass_order.html", {"form": form})
