"""WSGI entry point for gunicorn (``smmpanel.wsgi:application``).

Requests to /api/v2 go to a Django handler that runs the API view alone:
the API uses none of the browser middleware (sessions, CSRF, messages,
authentication, clickjacking, static files), and skipping it and URL
resolving is a measurable share of a `balance` or `status` call (see
docs/benchmarks.md). Everything else goes through Django's full stack.
"""

import os

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smmpanel.settings")
site = get_wsgi_application()  # also sets Django up

from smmpanel.api.views import api_v2  # noqa: E402  (needs Django set up)

API_PATHS = frozenset({"/api/v2", "/api/v2/"})


class ApiHandler(WSGIHandler):
    """Django's WSGI handler (request/connection signals, the request object,
    response closing) with the API view as its whole middleware chain."""

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(api_v2)


api = ApiHandler()


def application(environ, start_response):
    handler = api if environ.get("PATH_INFO") in API_PATHS else site
    return handler(environ, start_response)
