"""The Updates page: what changed in the catalog (new services, prices, limits, on / off), newest first; public.

Public like the services list it follows (real panels show both signed out):
filtered by kind (tabs), searched by service name or id, paged by id
(keyset: a page costs the same however long the history). The rows are
written where the catalog changes (smmpanel.updates.record); entries the
owner hid are never shown.
"""

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from smmpanel.ids import parse_id
from smmpanel.paging import keyset_page
from smmpanel.updates.models import Kind, ServiceUpdate
from smmpanel.updates.text import change_text

MAX_QUERY = 100
# Tab slug → kind (None: all). Slugs are the kinds' own values, so a link is stable across languages.
TABS = {"all": None, **{kind.value: kind for kind in Kind}}
TAB_LABELS = {"all": _("All"), **{kind.value: kind.label for kind in Kind}}


def _cursor(request: HttpRequest, name: str) -> int | None:
    return parse_id(request.GET.get(name, "")) if request.GET.get(name) else None


def shown_updates(kind: str | None = None, query: str = ""):
    """The updates customers see, of one kind or all, matching a service name (or id)."""
    rows = ServiceUpdate.objects.filter(hidden=False).select_related("service")
    if kind is not None:
        rows = rows.filter(kind=kind)
    if query:
        match = Q(service__name__icontains=query)
        if query.isascii() and query.isdigit() and len(query) < 19:  # a service id (and no bigint overflow)
            match |= Q(service_id=int(query))
        rows = rows.filter(match)
    return rows


def updates(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("kind", "all")
    if tab not in TABS:
        tab = "all"
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    page = keyset_page(
        shown_updates(TABS[tab], query), before=_cursor(request, "before"), after=_cursor(request, "after")
    )
    for update in page.rows:
        update.change_text = change_text(update)
    keep = {"kind": tab if tab != "all" else "", "q": query}
    return render(
        request,
        "web/updates.html",
        {
            "tabs": [(slug, TAB_LABELS[slug]) for slug in TABS],
            "tab": tab,
            "q": query,
            "page": page,
            "keep": {name: value for name, value in keep.items() if value},
        },
    )
