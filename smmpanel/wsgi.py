"""WSGI entry point for gunicorn (``smmpanel.wsgi:application``).

Requests to /api/v2 go to smmpanel.api.wsgi, the API endpoint without
Django's request cycle: the API uses none of the browser middleware
(sessions, CSRF, messages, authentication, clickjacking, static files),
URL resolving or HttpResponse, and skipping them is a measurable share of a
`balance` or `status` call (see docs/benchmarks.md). Everything else goes
through Django's full stack.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smmpanel.settings")
site = get_wsgi_application()  # also sets Django up

from smmpanel.api import wsgi as api  # noqa: E402  (needs Django set up)

API_PATHS = frozenset({"/api/v2", "/api/v2/"})


def application(environ, start_response):
    app = api.application if environ.get("PATH_INFO") in API_PATHS else site
    return app(environ, start_response)
