"""Limits on what a request may be and what an order may store; every refusal is a JSON answer.

Through the production entry point (the ``api``/``wsgi_client`` fixtures) and,
for what only a real server shows (a body never read, a chunked body), gunicorn.
"""

import json
import logging
import socket
from decimal import Decimal

import pytest

from smmpanel.catalog import order_types as ot
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders.models import Order
from smmpanel.orders.validation import MAX_PARAMS_BYTES
from tests.conftest import ORDER_EXAMPLES, PanelServer, call_api, parsed

LINES_TYPES = [t.name for t in ot.ORDER_TYPES if t.quantity == ot.QTY_LINES]
TOO_LARGE = {"error": "Request body is too large"}


def lines(n: int, width: int = 20) -> str:
    return "\n".join(f"{i:0{width}d}" for i in range(n))


def nothing_moved(cust, balance="100"):
    assert cust.orders().count() == 0
    assert cust.balance() == cust.ledger_sum() == Decimal(balance)


# --- line-counted and package types against the service's min/max -------------------------------


def test_a_custom_comments_package_over_its_maximum_is_refused(api, customer, service):
    # The demo's "Custom Comments Package (10)" used to sell 5,000 comments at the price of 10.
    cust = customer("100")
    svc = service("Custom Comments Package", rate="4", min=1, max=10)
    body = api(cust.key, "add", service=svc.pk, link="https://instagram.com/p/x", comments=lines(5000, 4))
    assert body == {"error": "Quantity more than maximum 10"}
    nothing_moved(cust)
    placed = api(cust.key, "add", service=svc.pk, link="https://instagram.com/p/x", comments=lines(10))
    assert "order" in placed
    assert Order.objects.get(pk=placed["order"]).quantity == 10


@pytest.mark.parametrize("type_name", LINES_TYPES)
def test_every_line_counted_type_checks_its_lines_against_min_and_max(api, customer, service, type_name):
    svc_fields, fields, *_ = ORDER_EXAMPLES[type_name]
    spec = ot.get(type_name)
    cust = customer("100")
    svc = service(type_name, **{**svc_fields, "min": 3, "max": 5})
    for count, error in ((2, "Quantity less than minimal 3"), (6, "Quantity more than maximum 5")):
        body = api(cust.key, "add", service=svc.pk, **{**fields, spec.lines_param: lines(count)})
        assert body == {"error": error}, (type_name, count)
    nothing_moved(cust)
    for count in (3, 5):
        link = f"https://example.com/{type_name.replace(' ', '-')}/{count}"
        body = api(cust.key, "add", service=svc.pk, **{**fields, "link": link, spec.lines_param: lines(count)})
        assert Order.objects.get(pk=body["order"]).quantity == count


# --- what one order may store ----------------------------------------------------------------


def test_an_order_storing_more_than_64_kib_of_parameters_is_refused(api, customer, service):
    # A 2.4 MB keywords list used to be stored for 0.04 USD.
    cust = customer("100")
    svc = service("SEO", rate="2", min=10, max=10000)
    keywords = lines(3500)  # 3,500 lines of 21 bytes: 73,499 bytes
    body = api(
        cust.key, "add", via="json", service=svc.pk, link="https://example.com/seo", quantity=20, keywords=keywords
    )
    assert body == {"error": f"Order parameters are too large: at most {MAX_PARAMS_BYTES} bytes in all"}
    assert MAX_PARAMS_BYTES == 65536
    nothing_moved(cust)


def test_the_cap_counts_every_parameter_of_the_order_together(api, customer, service):
    cust = customer("100")
    svc = service("Mentions with Hashtags", rate="1", min=10, max=10000)
    half = lines(1700)  # 35,699 bytes: each alone fits, both together do not
    body = api(
        cust.key,
        "add",
        via="json",
        service=svc.pk,
        link="https://example.com/m",
        quantity=20,
        usernames=half,
        hashtags=half,
    )
    assert body == {"error": "Order parameters are too large: at most 65536 bytes in all"}
    nothing_moved(cust)


def test_parameters_of_exactly_64_kib_are_stored(api, customer, service):
    cust = customer("100")
    svc = service("SEO", rate="2", min=10, max=10000)
    # Counted in UTF-8 bytes: "é" is two.
    keywords = "\n".join(["é" * 499] * 65) + "\n" + "x" * 601
    assert len(keywords.encode()) == MAX_PARAMS_BYTES
    body = api(
        cust.key, "add", via="json", service=svc.pk, link="https://example.com/seo", quantity=20, keywords=keywords
    )
    assert Order.objects.get(pk=body["order"]).params["keywords"] == keywords


# --- JSON bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [500, 100_000])
@pytest.mark.parametrize("inside", [False, True])
def test_deeply_nested_json_is_a_bad_request_not_a_server_error(wsgi_client, client, customer, caplog, depth, inside):
    cust = customer()
    nested = "[" * depth + "]" * depth
    body = (f'{{"key": "{cust.key}", "action": "balance", "x": {nested}}}' if inside else nested).encode()
    caplog.set_level(logging.WARNING)
    for entry in (wsgi_client, client):
        answer = parsed(entry.post("/api/v2", data=body, content_type="application/json"))
        if depth == 500 and inside:
            # Deep but parseable: an unknown field, ignored.
            assert answer == {"balance": "100.00000", "currency": "USD"}
        elif depth == 500:
            assert answer == {"error": "Request body must be a JSON object"}
        else:
            assert answer == {"error": "Request body is not valid JSON"}
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []  # no traceback in the log


@pytest.mark.parametrize("body", [b"[1, 2]", b'"x"', b"3", b"null", b"true", b"[]", b'[{"key": "k"}]'])
def test_valid_json_that_is_not_an_object_says_so(wsgi_client, client, body):
    for entry in (wsgi_client, client):
        response = entry.post("/api/v2", data=body, content_type="application/json")
        assert parsed(response) == {"error": "Request body must be a JSON object"}


def test_a_json_number_too_large_for_any_quantity_is_more_than_the_maximum(api, wsgi_client, customer, service):
    cust = customer("100")
    svc = service("Default", min=10, max=10000)
    for quantity in (99999999999999999999999, "99999999999999999999999", 10**400):
        body = api(cust.key, "add", via="json", service=svc.pk, link="https://example.com/q", quantity=quantity)
        assert body == {"error": "Quantity more than maximum 10000"}
    body = api(cust.key, "add", service=svc.pk, link="https://example.com/q", quantity="99999999999999999999999")
    assert body == {"error": "Quantity more than maximum 10000"}
    # A literal longer than Python converts to int (4,300 digits) is still just a large number.
    raw = (
        f'{{"key": "{cust.key}", "action": "add", "service": {svc.pk}, "link": "https://example.com/q", '
        f'"quantity": {"9" * 5000}}}'
    )
    assert parsed(wsgi_client.post("/api/v2", data=raw, content_type="application/json")) == {
        "error": "Quantity more than maximum 10000"
    }
    nothing_moved(cust)


def test_a_subscription_max_too_large_for_any_number_is_more_than_the_maximum(api, customer, service):
    cust = customer("100")
    svc = service("Subscriptions", min=10, max=1000)
    body = api(cust.key, "add", service=svc.pk, username="nasa", min="100", max="9" * 40, delay="0")
    assert body == {"error": "Quantity more than maximum 1000"}
    nothing_moved(cust)


# --- methods -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS", "GET", "POST"])
@pytest.mark.parametrize("via", ["form", "json", "multipart"])
def test_every_method_reads_its_fields_as_post_does(wsgi_client, client, customer, method, via):
    cust = customer("7")
    fields = {"key": cust.key, "action": "balance"}
    if via == "json":
        data, content_type = json.dumps(fields), "application/json"
    elif via == "form":
        data, content_type = f"key={cust.key}&action=balance", "application/x-www-form-urlencoded"
    else:
        boundary = "XyZ"
        data = (
            "".join(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()
            )
            + f"--{boundary}--\r\n"
        )
        content_type = f"multipart/form-data; boundary={boundary}"
    for entry in (wsgi_client, client):
        response = entry.generic(method, "/api/v2", data=data, content_type=content_type)
        assert parsed(response) == {"balance": "7.00000", "currency": "USD"}, (method, via)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "HEAD"])
def test_other_methods_answer_json_with_the_query_string_alone(wsgi_client, customer, method):
    cust = customer("2")
    response = wsgi_client.generic(method, f"/api/v2?key={cust.key}&action=balance")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    if method != "HEAD":
        assert json.loads(response.content) == {"balance": "2.00000", "currency": "USD"}
    response = wsgi_client.generic(method, "/api/v2?action=balance")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"


# --- body size: one limit for every encoding ----------------------------------------------------------


def multipart(fields: dict, file_size: int, boundary: str = "b0undary") -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="f.bin"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + b"x" * file_size
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_multipart_body_over_the_limit_is_refused_like_any_other(wsgi_client, client, customer, settings, method):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    cust = customer("5")
    fields = {"key": cust.key, "action": "balance"}
    content_type = "multipart/form-data; boundary=b0undary"
    for entry in (wsgi_client, client):
        # A file part carries no field, but it is body all the same (Django's parser would stream it).
        over = entry.generic(method, "/api/v2", data=multipart(fields, 20_000), content_type=content_type)
        assert parsed(over) == TOO_LARGE
        under = entry.generic(method, "/api/v2", data=multipart(fields, 5_000), content_type=content_type)
        assert parsed(under) == {"balance": "5.00000", "currency": "USD"}


def test_the_limit_is_a_mebibyte_by_default(settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 1024 * 1024


@pytest.fixture
def gunicorn(tmp_path):
    server = PanelServer(f"sqlite:///{tmp_path}/limits.sqlite3", tmp_path)
    server.manage("migrate", "--noinput")
    key = server.python(
        "import json\n"
        "from decimal import Decimal\n"
        "from django.contrib.auth import get_user_model\n"
        "from smmpanel.accounts.models import Account\n"
        "from smmpanel.ledger.services import deposit\n"
        "a = Account.objects.create(user=get_user_model().objects.create_user('big'))\n"
        "k = a.regenerate_api_key(); deposit(a, Decimal('3'))\n"
        "print(json.dumps({'key': k}))\n"
    )["key"]
    server.start(workers=1, threads=4)
    yield server, key
    server.stop()


def exchange(server, head: bytes, chunks=(), timeout=20) -> bytes:
    """Send a raw request (headers, then body chunks as long as the server reads) and return the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and stopped reading: what is being tested
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < _length(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    return answer


def _length(answer: bytes) -> int:
    for line in answer.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def test_a_100_mb_multipart_body_is_refused_from_its_content_length_unread(gunicorn):
    server, key = gunicorn
    start = multipart({"key": key, "action": "balance"}, 0)[:-40]
    head = (
        f"POST /api/v2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b0undary\r\n"
        f"Content-Length: {100 * 1024 * 1024}\r\n\r\n"
    ).encode()
    # Only the first bytes are ever sent: the answer must not wait for the other 100 MB.
    answer = exchange(server, head, [start], timeout=10)
    status = answer.partition(b"\r\n")[0]
    assert status == b"HTTP/1.1 200 OK", answer[:300]
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == TOO_LARGE


def chunked(data: bytes, size: int = 65536):
    for i in range(0, len(data), size):
        piece = data[i : i + size]
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


def test_a_chunked_body_is_read_within_the_limit_and_refused_past_it(gunicorn):
    server, key = gunicorn
    head = (
        b"POST /api/v2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    small = f"key={key}&action=balance".encode()
    answer = exchange(server, head, chunked(small, 7))
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {"balance": "3.00000", "currency": "USD"}

    # 3 MiB with no Content-Length: refused once past 1 MiB, whatever follows.
    big = small + b"&pad=" + b"x" * (3 * 1024 * 1024)
    answer = exchange(server, head, chunked(big))
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == TOO_LARGE
    assert "Traceback" not in server.log.read_text()


def test_a_refused_body_leaves_no_trace_in_the_ledger(wsgi_client, customer, service, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    cust = customer("10")
    svc = service("Custom Comments", min=1, max=1000)
    fields = {
        "key": cust.key,
        "action": "add",
        "service": svc.pk,
        "link": "https://example.com/c",
        "comments": lines(200),
    }
    for via in ("form", "json", "multipart"):
        assert parsed(call_api(wsgi_client, fields, via=via)) == TOO_LARGE
    assert LedgerEntry.objects.filter(account_id=cust.account.pk).count() == 1  # the deposit
    nothing_moved(cust, "10")
