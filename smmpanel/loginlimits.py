"""Which address a request came from, and the per-address limit of failed log-ins.

The address (for the lockout, django-axes, see settings, and for every
per-address limit, smmpanel.addresslimits): directly exposed, it is the
socket's peer (REMOTE_ADDR). Behind the TLS-terminating proxy the settings
trust (SECURE_PROXY_SSL_HEADER, on with an https SITE_URL) every peer is the
proxy, so the client is the last address in X-Forwarded-For: the one the proxy
appended (nginx `$proxy_add_x_forwarded_for`, Caddy by default). Earlier
entries come from the client and prove nothing.

django-axes locks a username out per address; spraying one password over many
usernames from one address stays under that. So every failed log-in is also
counted per address (LOGIN_FAILURES_PER_ADDRESS), and an address over it is
refused by AddressLimitBackend, the first backend, before any password is
checked: the admin's log-in and the panel's alike get HTTP 429 with Retry-After
(AddressLimitMiddleware).
"""

from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.shortcuts import render

from smmpanel import addresslimits
from smmpanel.hotsettings import hot

_REFUSED = "_smmpanel_login_refused_for"  # on the request: seconds until the address may try again


def client_address(meta) -> str | None:
    """The client's address from a WSGI environ or Django's request.META."""
    if hot.SECURE_PROXY_SSL_HEADER:
        forwarded = [a.strip() for a in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-1]
    return meta.get("REMOTE_ADDR")


def client_ip(request) -> str | None:
    return client_address(request.META)


class AddressLimitBackend:
    """Authenticates no one; refuses every log-in from an address over LOGIN_FAILURES_PER_ADDRESS.

    No get_user: sessions never name it, and Django's test client skips it for force_login.
    """

    def authenticate(self, request, **credentials) -> None:
        wait = None if request is None else addresslimits.used_up("login", client_ip(request))
        if wait is not None:
            setattr(request, _REFUSED, wait)
            raise PermissionDenied  # Django stops asking the other backends


@receiver(user_login_failed)
def count_failure(sender, credentials, request=None, **kwargs):
    if request is not None and not hasattr(request, _REFUSED):
        addresslimits.count("login", client_ip(request))


class AddressLimitMiddleware:
    """A log-in refused for its address: HTTP 429, the page saying so, and Retry-After."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        wait = getattr(request, _REFUSED, None)
        if wait is None:
            return response
        return too_many(request, "login", wait)


def too_many(request, kind: str, wait: int):
    """The 429 page of a per-address limit (`kind` as in smmpanel.addresslimits), with Retry-After."""
    response = render(
        request, "web/account/too_many.html", {"kind": kind, "minutes": max(1, (wait + 59) // 60)}, status=429
    )
    response["Retry-After"] = str(wait)
    return response
