"""The catalog page: every active service by category, searchable by name or id; public.

A search is answered by the server (?q=), so it works without JavaScript; with
htmx the list is swapped in place as the customer types (the list alone is sent).
"""

from itertools import groupby

from django.db.models import Q
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from smmpanel.catalog import order_types
from smmpanel.ids import parse_id
from smmpanel.ledger.money import format_rate
from smmpanel.orders import selectors

MAX_QUERY = 100


def _matching(query: str):
    services = selectors.active_services()  # the catalog as the API's `services` sees it
    if query:
        match = Q(name__icontains=query) | Q(category__name__icontains=query)
        service_id = parse_id(query)
        if service_id is not None:
            match |= Q(pk=service_id)
        services = services.filter(match)
    # The catalog's own order: categories by position, services by position within each.
    # With each one's average time as the worker last computed it (smmpanel/averagetime): one join.
    return services.select_related("average_time").order_by("category__position", "category_id", "position", "id")


def catalog(request):
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    services = list(_matching(query))
    for service in services:
        service.rate_text = format_rate(service.rate)  # as the API shows it: "0.90", "8"
        service.per_package = service.order_type.charge == order_types.ONCE
    groups = [(category, list(items)) for category, items in groupby(services, key=lambda s: s.category)]
    context = {"query": query, "groups": groups, "count": len(services)}
    # htmx asks for the list alone, except when restoring a page from its history (it wants it whole).
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    response = render(request, "web/services_list.html" if partial else "web/services.html", context)
    patch_vary_headers(response, ["HX-Request"])  # a cache must not answer a page with the list alone
    return response
