"""The API page (the key's hint; a new key, shown in full once) and the public API documentation page.

Only the key's SHA-256 digest and first characters are stored (Account.regenerate_api_key),
so the full key exists in one place only: the answer to the POST that made it. That
answer is marked no-store and the key is never put in the session, a message or a
URL, so going back to the API page shows the first characters only.

Reloading that answer would send the POST again and silently replace the key just
copied; so each form the API page serves carries a one-time token (kept in the
session, it is no secret of the key's), and a form sent a second time changes
nothing and leads back to the API page.
"""

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from smmpanel.web import apidocs, clientzip
from smmpanel.web.context import customer_account
from smmpanel.web.forms.account import NewKeyForm

FORM_TOKEN = "api_key_form"


def _api_url(request) -> str:
    return request.build_absolute_uri("/api/v2")


def _page(request, account, form, status=200, new_key: str | None = None):
    token = secrets.token_urlsafe(16)
    request.session[FORM_TOKEN] = token
    context = {"account": account, "form": form, "once": token, "api_url": _api_url(request), "new_key": new_key}
    return render(request, "web/apikey.html", context, status=status)


@login_required
@never_cache
def key_page(request):
    return _page(request, customer_account(request), NewKeyForm())


@login_required
@require_POST
@never_cache
def regenerate(request):
    account = customer_account(request)
    expected = request.session.pop(FORM_TOKEN, None)
    if expected is None or not secrets.compare_digest(request.POST.get("once", ""), expected):
        messages.info(request, _("That form was already used or is out of date: your key was not changed."))
        return redirect("web:api-key")
    form = NewKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, account, form, status=400)
    key = account.regenerate_api_key()
    # Rendered straight from the POST: the one response that ever holds the key.
    return _page(request, account, NewKeyForm(), new_key=key)


def docs(request):
    return render(request, "web/apidocs.html", apidocs.page(_api_url(request)))


def client_download(request):
    """The Python client the docs' examples use, as a zip to put on the path (it is not on PyPI)."""
    response = HttpResponse(clientzip.client_zip(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{clientzip.FILENAME}"'
    return response
