"""Following orders from the panel: the orders list (tabs, search, keyset pages), an order's page with its
history, refills, posts or runs and the Refill / Cancel buttons, and the refills, drip-feed and subscriptions lists.

Reads go through smmpanel.orders.selectors, the customer's requests through
smmpanel.orders.services (actor "web"); every query is scoped to the signed-in
customer's account, so another customer's order is a 404 like a missing one.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from django.views.decorators.http import require_POST

from smmpanel.ids import parse_id
from smmpanel.orders import selectors, services
from smmpanel.orders.errors import OrderError
from smmpanel.orders.messages import localized
from smmpanel.orders.models import Actor, Order
from smmpanel.paging import Page, keyset_page
from smmpanel.web.views.neworder import account_id_of

# Every status word, marked for makemessages: the pages show statuses translated
# ({% translate order.status %}); the API keeps the reference's English.
STATUS_WORDS = (
    gettext_noop("Pending"),
    gettext_noop("In progress"),
    gettext_noop("Processing"),
    gettext_noop("Completed"),
    gettext_noop("Partial"),
    gettext_noop("Canceled"),
    gettext_noop("Active"),
    gettext_noop("Paused"),
    gettext_noop("Expired"),
    gettext_noop("Rejected"),
)
TAB_LABELS = {
    "all": gettext_lazy("All"),
    "pending": gettext_lazy("Pending"),
    "in-progress": gettext_lazy("In progress"),
    "processing": gettext_lazy("Processing"),
    "completed": gettext_lazy("Completed"),
    "partial": gettext_lazy("Partial"),
    "canceled": gettext_lazy("Canceled"),
}


def _cursor(request: HttpRequest, name: str) -> int | None:
    return parse_id(request.GET.get(name, ""))


def _render_list(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    # An order's page is <orders_url><id>/ (urls.py nests it under the list): one reverse per page,
    # not one per row, which was a tenth of a list's rendering.
    return render(request, template, {**context, "orders_url": reverse("web:orders")})


def _page(request: HttpRequest, rows) -> Page:
    return keyset_page(rows, before=_cursor(request, "before"), after=_cursor(request, "after"))


def _with_paid(page: Page) -> list[tuple[Order, selectors.Summary]]:
    """Each order of the page with its summary (what was paid; a subscription's posts and orders)."""
    summaries = selectors.summaries(page.rows)
    return [(order, summaries[order.pk]) for order in page.rows]


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    account_id = account_id_of(request)
    tab = request.GET.get("status", "all")
    if tab not in selectors.ORDER_TABS:
        tab = "all"
    search = request.GET.get("q", "").strip()
    page = _page(request, selectors.customer_orders(account_id, tab=tab, search=search))
    keep = {"status": tab if tab != "all" else "", "q": search}
    return _render_list(
        request,
        "web/orders/list.html",
        {
            "tabs": [(slug, TAB_LABELS[slug]) for slug in selectors.ORDER_TABS],
            "tab": tab,
            "q": search,
            "page": page,
            "rows": _with_paid(page),
            "keep": {name: value for name, value in keep.items() if value},
        },
    )


def _own(request: HttpRequest, pk: int) -> tuple[int, Order]:
    account_id = account_id_of(request)
    order = selectors.own_order(account_id, pk)
    if order is None:
        raise Http404("no such order")
    return account_id, order


@login_required
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _account_id, order = _own(request, pk)
    summary = selectors.summaries([order])[order.pk]
    context = {
        "order": order,
        "summary": summary,
        "params": _shown_params(order),
        "history": selectors.order_history(order),
        "refills": list(order.refills.all()),
        "runs": selectors.dripfeed_runs(order),
        "posts": selectors.subscription_posts(order) if order.is_subscription else [],
        "parent": order.parent_id,
        "can": selectors.possible_actions(order, timezone.now()),
    }
    return render(request, "web/orders/detail.html", context)


# The customer's own parameters shown on an order's page, with their labels.
PARAM_LABELS = {
    "keywords": gettext_lazy("Keywords"),
    "comments": gettext_lazy("Comments"),
    "usernames": gettext_lazy("Usernames"),
    "hashtags": gettext_lazy("Hashtags"),
    "hashtag": gettext_lazy("Hashtag"),
    "username": gettext_lazy("Username"),
    "media": gettext_lazy("Media link"),
    "answer_number": gettext_lazy("Answer number"),
    "groups": gettext_lazy("Groups"),
    "min": gettext_lazy("Minimum per post"),
    "max": gettext_lazy("Maximum per post"),
    "posts": gettext_lazy("New posts"),
    "old_posts": gettext_lazy("Old posts"),
    "delay": gettext_lazy("Delay (minutes)"),
    "expiry": gettext_lazy("Expiry date"),
}


def _shown_params(order: Order) -> list[tuple[str, str]]:
    """The order's own parameters in a fixed order (PostgreSQL's jsonb keeps keys in its own order)."""
    params = dict(order.params) if isinstance(order.params, dict) else {}
    if order.is_subscription:
        params.pop("username", None)  # it is the order's link, shown as such
    names = [name for name in PARAM_LABELS if name in params] + sorted(set(params) - set(PARAM_LABELS))
    return [(str(PARAM_LABELS.get(name, name)), str(params[name])) for name in names]


@login_required
@require_POST
def refill(request: HttpRequest, pk: int) -> HttpResponse:
    account_id, order = _own(request, pk)
    try:
        made = services.request_refill(account_id, order.pk, actor=Actor.WEB)
    except OrderError as error:
        messages.error(request, localized(error))
    else:
        messages.success(request, _("Refill #%(id)s requested.") % {"id": made.pk})
    return redirect("web:order", pk=order.pk)


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    account_id, order = _own(request, pk)
    try:
        services.request_cancel(account_id, order.pk, actor=Actor.WEB)
    except OrderError as error:
        messages.error(request, localized(error))
    else:
        messages.success(
            request, _("Cancel requested: the order stops as soon as it can; what was not delivered is refunded.")
        )
    return redirect("web:order", pk=order.pk)


@login_required
def refill_list(request: HttpRequest) -> HttpResponse:
    page = _page(request, selectors.customer_refills(account_id_of(request)))
    return _render_list(request, "web/orders/refills.html", {"page": page, "keep": {}})


@login_required
def dripfeed_list(request: HttpRequest) -> HttpResponse:
    page = _page(request, selectors.dripfeed_orders(account_id_of(request)))
    rows = [(order, paid, selectors.runs_done(order)) for order, paid in _with_paid(page)]
    return _render_list(request, "web/orders/dripfeed.html", {"page": page, "rows": rows, "keep": {}})


@login_required
def subscription_list(request: HttpRequest) -> HttpResponse:
    page = _page(request, selectors.subscriptions(account_id_of(request)))
    return _render_list(request, "web/orders/subscriptions.html", {"page": page, "rows": _with_paid(page), "keep": {}})
