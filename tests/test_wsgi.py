"""The production WSGI entry point: /api/v2 on its plain WSGI app, everything else on Django's full stack.

Most API tests already run through this entry point (the ``api`` fixture uses
``wsgi_client``); these pin what is the entry point's own business: headers,
body limits, encodings, both routes answering alike, connection handling
and a real server fault.
"""

import json
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import ENCODINGS, PATHS, PanelServer, call_api, parsed


@pytest.mark.parametrize("path", PATHS)
def test_the_api_answers_json_with_its_headers(wsgi_client, customer, path):
    cust = customer("12.5")
    response = wsgi_client.post(path, {"key": cust.key, "action": "balance"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert int(response["Content-Length"]) == len(response.content)
    assert json.loads(response.content) == {"balance": "12.50000", "currency": "USD"}


def test_other_pages_keep_the_browser_middleware(wsgi_client):
    response = wsgi_client.get("/admin/login/")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"  # clickjacking protection
    assert "csrftoken" in response.get("Set-Cookie", "")


@pytest.mark.parametrize("via", [*ENCODINGS, "multipart"])
def test_the_production_entry_point_and_the_django_route_answer_alike(wsgi_client, client, customer, service, via):
    cust = customer("10")
    svc = service(rate="2", min=10, max=1000, name="Views ✓", category="Видео")
    for fields in (
        {"action": "services"},
        {"action": "balance"},
        {"action": "status", "orders": "1, x,"},
        {"action": "add", "service": svc.pk, "link": "https://example.com/a", "quantity": "9"},
        {"action": "nope"},
        {},
    ):
        production = parsed(call_api(wsgi_client, {"key": cust.key, **fields}, via=via))
        assert production == parsed(call_api(client, {"key": cust.key, **fields}, via=via)), fields
    assert cust.orders().count() == 0  # quantity 9 is below the minimum: no answer placed an order


def test_a_body_over_the_upload_limit_is_refused_and_charges_nothing(wsgi_client, client, customer, service, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    cust = customer("10")
    svc = service(type="Custom Comments", rate="1", min=1, max=10000)
    fields = {
        "key": cust.key,
        "action": "add",
        "service": svc.pk,
        "link": "https://example.com/c",
        "comments": "\n".join(["a nice comment"] * 100),
    }
    for entry in (wsgi_client, client):
        for via in ("form", "json"):
            assert parsed(call_api(entry, fields, via=via)) == {"error": "Request body is too large"}
    assert cust.balance() == 10 and cust.orders().count() == 0


def test_more_fields_than_allowed_are_an_incorrect_request(wsgi_client, customer, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    cust = customer("1")
    fields = {"key": cust.key, "action": "balance", **{f"extra{i}": "x" for i in range(10)}}
    assert parsed(call_api(wsgi_client, fields)) == {"error": "Incorrect request"}
    assert parsed(call_api(wsgi_client, fields, via="get")) == {"error": "Incorrect request"}


@pytest.mark.parametrize("charset", ["utf-8", "iso-8859-1", "nonsense"])
def test_a_form_body_declaring_a_charset_is_read_as_utf8(wsgi_client, client, customer, charset):
    # An urlencoded body has no charset of its own (it is ASCII); clients that
    # declare one anyway still get an answer, never a server error.
    cust = customer("4")
    body = urlencode({"key": cust.key, "action": "balance"})
    for entry in (wsgi_client, client):
        response = entry.generic(
            "POST", "/api/v2", data=body, content_type=f"application/x-www-form-urlencoded; charset={charset}"
        )
        assert parsed(response) == {"balance": "4.00000", "currency": "USD"}


def test_a_content_type_with_an_unknown_rfc2231_charset_is_an_incorrect_request(wsgi_client, customer):
    cust = customer()
    response = wsgi_client.generic(
        "POST",
        "/api/v2",
        data=urlencode({"key": cust.key, "action": "balance"}),
        content_type="application/x-www-form-urlencoded; name*=nope''x",
    )
    assert parsed(response) == {"error": "Incorrect request"}


def test_a_body_is_read_only_up_to_its_declared_length(wsgi_client, customer):
    cust = customer("6")
    body = urlencode({"key": cust.key, "action": "balance"}).encode()
    response = wsgi_client.generic(
        "POST",
        "/api/v2",
        data=body + b"&action=services",
        content_type="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(len(body)),
    )
    assert parsed(response) == {"balance": "6.00000", "currency": "USD"}


def test_a_database_that_is_down_gives_a_json_server_error_not_a_page(tmp_path):
    # Nothing listens on port 9: every query fails to connect, as when PostgreSQL is down.
    server = PanelServer("postgres://postgres@127.0.0.1:9/smmpanel", tmp_path)
    server.start(workers=1, threads=2)
    try:
        response = httpx.post(server.url, data={"key": "k" * 40, "action": "balance"}, timeout=30)
    finally:
        server.stop()
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    # It cannot know whether an `add` was placed before the fault: it says so.
    assert response.json() == {
        "error": "Internal server error: the request may have been processed; "
        "check your orders, or retry with the same Idempotency-Key"
    }
    assert "Traceback" in server.log.read_text()  # the fault is logged for the owner, not shown to the client
