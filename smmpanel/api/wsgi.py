"""/api/v2 as a plain WSGI application: what gunicorn runs for every API call.

The endpoint itself (smmpanel.api.views.handle) is the same one the Django
view serves; this module only replaces Django's request cycle around it.
That cycle (the handler, a WSGIRequest with its QueryDicts, the view
machinery, HttpResponse) was the largest cost of a `balance` or `status`
call left after its one query: see docs/benchmarks.md.

What Django's cycle does that still matters is kept: the request_started /
request_finished receivers that have work to do on an API call (they recycle
database connections per CONN_MAX_AGE, run the health check and hand pooled
connections back; see smmpanel.api.cycle for those left out), Django's limits on a request body
(DATA_UPLOAD_MAX_MEMORY_SIZE, now for every encoding and method;
DATA_UPLOAD_MAX_NUMBER_FIELDS) and, for the rare multipart body, Django's own
parser.

The answer is JSON whatever fails: `handle` answers its own faults, and a
receiver of the request signals that raises (before or after the call) gets
the same 500 {"error": ...}, never a server's HTML page.
"""

import json
import logging
import os
from http import HTTPStatus

from smmpanel.api import cycle, ratelimit
from smmpanel.api.body import raw_request
from smmpanel.api.params import RawRequest
from smmpanel.api.views import NO_HEADERS, SERVER_FAULT, handle
from smmpanel.loginlimits import client_address

log = logging.getLogger(__name__)

HEADERS = [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")]
STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}
# One encoder for every answer: json.dumps makes a new one per call unless every option is its default.
ENCODER = json.JSONEncoder(ensure_ascii=False)

ratelimit.rule()  # a malformed API_RATE_LIMIT stops the server at start-up, not at the first call


def read_environ(environ) -> RawRequest:
    """The request, read from the WSGI environ (its body within the one limit: see smmpanel.api.body)."""
    return raw_request(environ, environ["wsgi.input"])


def application(environ, start_response):
    try:
        cycle.started(environ=environ)
        try:
            status, body, headers = handle(lambda: read_environ(environ), client_address(environ))
        finally:
            # The body is complete in memory: the request is over for the database too.
            cycle.finished()
    except Exception:
        # A request signal's receiver failed (the call itself may have been done: SERVER_FAULT says so).
        log.exception("API v2 request cycle failed")
        status, body, headers = 500, {"error": SERVER_FAULT}, NO_HEADERS
    data = ENCODER.encode(body).encode()
    start_response(STATUS_LINES[status], [*HEADERS, *headers, ("Content-Length", str(len(data)))])
    return [data]


# Fault injection hook (a test panel playing a misbehaving provider; see
# docs/faults.md). Decided once at import: without SMMPANEL_FAULTS_FILE,
# `application` stays the function above and a call pays nothing for it.
if os.environ.get("SMMPANEL_FAULTS_FILE"):
    from smmpanel.api import faults

    application = faults.wrap(application)
