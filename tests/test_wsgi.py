"""The production WSGI entry point: /api/v2 on its lean handler, everything else on Django's full stack."""

import io
import json
from urllib.parse import urlencode

import pytest

from smmpanel.wsgi import application


def call(path: str, fields: dict | None = None, method: str = "POST"):
    body = urlencode(fields or {}).encode()
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO(),
    }
    started = {}

    def start_response(status, headers, exc_info=None):
        started["status"], started["headers"] = status, dict(headers)

    result = application(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        result.close()
    return started["status"], started["headers"], content


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/api/v2", "/api/v2/"])
def test_the_api_answers_through_the_production_entry_point(customer, path):
    cust = customer("12.5")
    status, headers, content = call(path, {"key": cust.key, "action": "balance"})
    assert status == "200 OK"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert json.loads(content) == {"balance": "12.50000", "currency": "USD"}


@pytest.mark.django_db(transaction=True)
def test_a_bad_key_through_the_production_entry_point_is_json_too():
    status, headers, content = call("/api/v2", {"key": "nope", "action": "balance"})
    assert (status, json.loads(content)) == ("200 OK", {"error": "Invalid API key"})


@pytest.mark.django_db(transaction=True)
def test_other_pages_keep_the_browser_middleware():
    status, headers, _ = call("/admin/login/", method="GET")
    assert status == "200 OK"
    assert headers["X-Frame-Options"] == "DENY"  # clickjacking protection
    assert "csrftoken" in headers.get("Set-Cookie", "")
