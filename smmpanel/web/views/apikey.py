"""The API page (the key's hint; a new key, shown in full once) and the public API documentation page.

Only the key's SHA-256 digest and first characters are stored (Account.regenerate_api_key),
so the full key exists in one place only: the answer to the POST that made it. That
answer is marked no-store and the key is never put in the session, a message or a
URL, so reloading or going back to the API page shows the first characters only.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from smmpanel.accounts.services import account_for
from smmpanel.web import apidocs
from smmpanel.web.forms.account import NewKeyForm


def _api_url(request) -> str:
    return request.build_absolute_uri("/api/v2")


@login_required
@never_cache
def key_page(request):
    account = account_for(request.user)
    context = {"account": account, "form": NewKeyForm(), "api_url": _api_url(request)}
    return render(request, "web/apikey.html", context)


@login_required
@require_POST
@never_cache
def regenerate(request):
    account = account_for(request.user)
    form = NewKeyForm(request.POST)
    if not form.is_valid():
        context = {"account": account, "form": form, "api_url": _api_url(request)}
        return render(request, "web/apikey.html", context, status=400)
    key = account.regenerate_api_key()
    # Rendered straight from the POST: the one response that ever holds the key.
    context = {"account": account, "form": NewKeyForm(), "api_url": _api_url(request), "new_key": key}
    return render(request, "web/apikey.html", context)


def docs(request):
    return render(request, "web/apidocs.html", apidocs.page(_api_url(request)))
