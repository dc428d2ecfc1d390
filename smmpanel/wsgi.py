"""WSGI entry point for gunicorn (``smmpanel.wsgi:application``).

Requests to /api/v2 go to smmpanel.api.wsgi, the API endpoint without
Django's request cycle: the API uses none of the browser middleware
(sessions, CSRF, messages, authentication, clickjacking, static files),
URL resolving or HttpResponse, and skipping them is a measurable share of a
`balance` or `status` call (see docs/benchmarks.md). Everything else goes
through Django's full stack. A Host header outside ALLOWED_HOSTS gets 400 here,
before either (JSON on the API's paths).
"""

import os
from functools import lru_cache

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smmpanel.settings")
site = get_wsgi_application()  # also sets Django up

from django.core.signals import setting_changed  # noqa: E402
from django.dispatch import receiver  # noqa: E402
from django.http.request import split_domain_port, validate_host  # noqa: E402

from smmpanel.api import wsgi as api  # noqa: E402  (needs Django set up)
from smmpanel.hotsettings import hot  # noqa: E402

API_PATHS = frozenset({"/api/v2", "/api/v2/"})
BAD_HOST = b'{"error": "Invalid Host header"}'
BAD_HOST_PAGE = b"<!doctype html>\n<title>Bad Request (400)</title>\n<h1>Bad Request (400)</h1>\n"


def host_allowed(environ) -> bool:
    """Django's ALLOWED_HOSTS check, for every path: the API skips Django, WhiteNoise answers first.

    Without it, any name pointed at the server would be answered, which is what
    DNS-rebinding pages rely on. The Host header, or SERVER_NAME when a client sent none.
    """
    return _host_answer(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""))


@lru_cache(maxsize=1024)
def _host_answer(host: str) -> bool:
    """Django's answer for one Host header. Clients send the same few names, so an API call's check is
    one cache lookup; the answers are forgotten whenever a setting changes (ALLOWED_HOSTS among them)."""
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, hot.ALLOWED_HOSTS)


@receiver(setting_changed)
def _forget_host_answers(**kwargs) -> None:
    _host_answer.cache_clear()


def application(environ, start_response):
    api_call = environ.get("PATH_INFO") in API_PATHS
    if not host_allowed(environ):
        # Here for every path: WhiteNoise would otherwise serve static files to any Host.
        body, kind = (BAD_HOST, "application/json") if api_call else (BAD_HOST_PAGE, "text/html")
        start_response("400 Bad Request", [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]
    return (api.application if api_call else site)(environ, start_response)
