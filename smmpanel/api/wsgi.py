"""/api/v2 as a plain WSGI application: what gunicorn runs for every API call.

The endpoint itself (smmpanel.api.views.handle) is the same one the Django
view serves; this module only replaces Django's request cycle around it.
That cycle (the handler, a WSGIRequest with its QueryDicts, the view
machinery, HttpResponse) was the largest cost of a `balance` or `status`
call left after its one query: see docs/benchmarks.md.

What Django's cycle does that still matters is kept: the request_started /
request_finished signals (they recycle database connections per
CONN_MAX_AGE and run the health check), Django's limits on a request body
(DATA_UPLOAD_MAX_MEMORY_SIZE, DATA_UPLOAD_MAX_NUMBER_FIELDS) and, for the rare
multipart body, Django's own parser.
"""

import json
from http import HTTPStatus

from django.conf import settings
from django.core import signals
from django.core.handlers.wsgi import WSGIRequest
from django.utils.http import parse_header_parameters

from smmpanel.api.errors import ApiError
from smmpanel.api.params import RawRequest
from smmpanel.api.views import handle, raw_from_django

HEADERS = [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")]
STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def _content_length(environ) -> int:
    try:
        return max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def read_environ(environ) -> RawRequest:
    """The request, read from the WSGI environ (the body only up to its declared length)."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    try:
        content_type, _ = parse_header_parameters(environ.get("CONTENT_TYPE", ""))
    except ValueError:  # a parameter in an unknown charset (RFC 2231)
        raise ApiError("request") from None
    if method == "POST" and content_type == "multipart/form-data":
        return raw_from_django(WSGIRequest(environ))
    body = b""
    if method == "POST":
        length = _content_length(environ)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            raise ApiError("too_big")
        body = environ["wsgi.input"].read(length) if length else b""
    return RawRequest(
        method=method,
        # PEP 3333: environ strings carry the request's bytes as Latin-1.
        query=environ.get("QUERY_STRING", "").encode("iso-8859-1"),
        content_type=content_type,
        body=body,
    )


def application(environ, start_response):
    signals.request_started.send(sender=__name__, environ=environ)
    try:
        status, body = handle(lambda: read_environ(environ))
    finally:
        # The body is complete in memory: the request is over for the database too.
        signals.request_finished.send(sender=__name__)
    data = json.dumps(body, ensure_ascii=False).encode()
    start_response(STATUS_LINES[status], [*HEADERS, ("Content-Length", str(len(data)))])
    return [data]
