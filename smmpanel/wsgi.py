"""WSGI entry point for gunicorn (``smmpanel.wsgi:application``).

Requests to /api/v2 go to smmpanel.api.wsgi, the API endpoint without
Django's request cycle: the API uses none of the browser middleware
(sessions, CSRF, messages, authentication, clickjacking, static files),
URL resolving or HttpResponse, and skipping them is a measurable share of a
`balance` or `status` call (see docs/benchmarks.md). Everything else goes
through Django's full stack. Both answer a Host header outside ALLOWED_HOSTS
with 400.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smmpanel.settings")
site = get_wsgi_application()  # also sets Django up

from django.conf import settings  # noqa: E402
from django.http.request import split_domain_port, validate_host  # noqa: E402

from smmpanel.api import wsgi as api  # noqa: E402  (needs Django set up)

API_PATHS = frozenset({"/api/v2", "/api/v2/"})
BAD_HOST = b'{"error": "Invalid Host header"}'


def host_allowed(environ) -> bool:
    """Django's ALLOWED_HOSTS check (a bad Host gets 400 there), for the API path that skips Django.

    Without it, any name pointed at the server would be answered, which is what
    DNS-rebinding pages rely on. The Host header, or SERVER_NAME when a client sent none.
    """
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def application(environ, start_response):
    if environ.get("PATH_INFO") not in API_PATHS:
        return site(environ, start_response)
    if not host_allowed(environ):
        start_response("400 Bad Request", [("Content-Type", "application/json"),
                                           ("Content-Length", str(len(BAD_HOST)))])
        return [BAD_HOST]
    return api.application(environ, start_response)
