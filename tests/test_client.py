"""The API v2 client (smmpanel.client) against our own panel and against sloppy ones.

- Our panel: a real gunicorn on a throwaway SQLite file, shared by this module's tests
  (each test uses its own links, so they do not meet the duplicate-link rule).
- Sloppy panels: a tiny real HTTP server on 127.0.0.1 answering what the test tells it,
  in the odd shapes real panels send; it records every request it got.
- The client stays standalone: importing it loads neither Django nor the rest of smmpanel.
"""

import json
import os
import socket
import subprocess
import sys
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from smmpanel.client import (
    MAX_IDS,
    ApiError,
    BadResponse,
    Balance,
    Client,
    ClientError,
    OrderStatus,
    Service,
    TransportError,
)

from .conftest import ORDER_EXAMPLES, REPO, PanelServer, new_link

KEY = "Sloppy0Key1With2Digits3And4Letters5xyzAB"  # looks like a real 40-character key


# --- standalone --------------------------------------------------------------------------------


def test_the_client_imports_neither_django_nor_the_rest_of_smmpanel():
    code = (
        "import json, sys\n"
        "import smmpanel.client, smmpanel.client.cli\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'django' or m.startswith(('django.', 'smmpanel')))))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    assert not [m for m in loaded if m == "django" or m.startswith("django.")]
    assert [m for m in loaded if m != "smmpanel" and not m.startswith("smmpanel.client")] == []
    assert "smmpanel.client.api" in loaded  # the check above looked at a real import


# --- a sloppy panel: a real HTTP server answering what each test says ----------------------------


class SloppyPanel:
    """answer(action, body, status=200, content_type=...) sets what the panel says to an action.

    ``body`` is JSON-encoded unless it is a str or bytes, or a callable(form) returning such a body.
    ``requests`` holds (method, path, headers, form) of every request received.
    """

    def __init__(self):
        self.answers = {}
        self.requests = []
        self.peers = []  # (host, port) of the connection each request came on
        panel = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real panels behind nginx do

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                panel.requests.append(("POST", self.path, dict(self.headers), form))
                panel.peers.append(self.client_address)
                body, status, content_type, headers = panel.answers.get(
                    form.get("action"), ({"error": "Incorrect request"}, 200, "application/json", {})
                )
                if callable(body):
                    body = body(form)
                if not isinstance(body, (str, bytes)):
                    body = json.dumps(body)
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v2"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def answer(self, action, body, status=200, content_type="application/json", headers=None):
        self.answers[action] = (body, status, content_type, headers or {})

    def forms(self, action=None):
        return [form for _, _, _, form in self.requests if action is None or form.get("action") == action]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sloppy():
    panel = SloppyPanel()
    yield panel
    panel.close()


@pytest.fixture
def client(sloppy):
    with Client(sloppy.url, KEY, timeout=5) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- how requests are sent -------------------------------------------------------------------------


def test_requests_are_form_encoded_posts_of_key_action_and_fields(sloppy, client):
    sloppy.answer("add", {"order": 23501})
    assert client.add("7", link="https://instagram.com/p/x", quantity=1000, runs=None, interval=None) == 23501
    method, path, headers, form = sloppy.requests[-1]
    assert (method, path) == ("POST", "/api/v2")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers["User-Agent"].startswith("smmpanel-client/")
    assert form == {
        "key": KEY,
        "action": "add",
        "service": "7",
        "link": "https://instagram.com/p/x",
        "quantity": "1000",
    }  # None values are not sent at all


def test_add_sends_lists_as_lines_and_dates_as_day_month_year(sloppy, client):
    import datetime

    sloppy.answer("add", {"order": "9"})
    client.add(3, link="https://x.test/p", comments=["Nice!", "Wow"])
    client.add(4, username="nasa", min=100, max=200, delay=30, expiry=datetime.date(2027, 12, 31))
    first, second = sloppy.forms("add")
    assert first["comments"] == "Nice!\nWow"
    assert (second["expiry"], second["delay"]) == ("31/12/2027", "30")


def test_one_connection_serves_many_calls(sloppy, client):
    sloppy.answer("balance", {"balance": "1", "currency": "USD"})
    for _ in range(5):
        client.balance()
    assert len(sloppy.requests) == 5
    assert len(set(sloppy.peers)) == 1  # the pooled connection was reused


@pytest.mark.parametrize("bad", [0, -1, "abc", "1.5", "", True, None, 2.0, "١٢"])
def test_ids_that_are_not_positive_whole_numbers_are_refused_before_sending(sloppy, client, bad):
    with pytest.raises((ValueError, TypeError)):
        client.status(bad)
    assert sloppy.requests == []


def test_add_refuses_to_overwrite_the_key_or_the_action(sloppy, client):
    with pytest.raises(ValueError, match="reserved field"):
        client.add(1, key="other")
    assert sloppy.requests == []


# --- services --------------------------------------------------------------------------------------


def test_services_reads_numbers_as_strings_or_numbers_and_every_spelling_of_a_boolean(sloppy, client):
    sloppy.answer(
        "services",
        [
            {
                "service": "1",
                "name": "Followers",
                "type": "Default",
                "category": "Instagram",
                "rate": "0.90",
                "min": "50",
                "max": "10000",
                "refill": "1",
                "cancel": "true",
                "dripfeed": 1,
            },
            {
                "service": 2,
                "name": "Likes",
                "type": "Default",
                "category": "Instagram",
                "rate": 1.25,
                "min": 10,
                "max": 5000,
                "refill": "0",
                "cancel": False,
                "dripfeed": "false",
            },
            {"service": 3, "name": "Comments", "rate": 8},  # no type, category, limits or flags
        ],
    )
    one, two, three = client.services()
    assert one == Service(
        service=1,
        name="Followers",
        type="Default",
        category="Instagram",
        rate=Decimal("0.90"),
        min=50,
        max=10000,
        refill=True,
        cancel=True,
        dripfeed=True,
        raw={},
    )
    assert (two.rate, two.min, two.max, two.refill, two.cancel, two.dripfeed) == (
        Decimal("1.25"),
        10,
        5000,
        False,
        False,
        False,
    )
    assert type(two.rate) is Decimal
    assert (three.type, three.category, three.min, three.max, three.refill) == ("Default", "", 0, 0, False)
    assert three.raw == {"service": 3, "name": "Comments", "rate": 8}
    assert client.last_skipped == 0


def test_services_skips_and_counts_items_without_an_id_a_name_or_a_rate(sloppy, client):
    sloppy.answer(
        "services",
        [
            {"service": 1, "name": "Good", "rate": "1", "min": "1", "max": "10"},
            {"name": "No id", "rate": "1"},
            {"service": 3, "rate": "1"},
            {"service": 4, "name": "No rate"},
            {"service": 5, "name": "Bad rate", "rate": "free"},
            "not even an object",
        ],
    )
    assert [s.service for s in client.services()] == [1]
    assert client.last_skipped == 5


@pytest.mark.parametrize("body", [{"services": []}, "yes", 42])
def test_services_that_are_not_a_list_are_a_bad_response(sloppy, client, body):
    sloppy.answer("services", body)
    with pytest.raises(BadResponse) as caught:
        client.services()
    assert caught.value.status_code == 200


# --- add, status ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{"order": 23501}, {"order": "23501"}, {"order": " 23501 "}])
def test_add_answers_the_order_id_as_an_int(sloppy, client, body):
    sloppy.answer("add", body)
    assert client.add(1, link="https://x.test", quantity=100) == 23501


@pytest.mark.parametrize("body", [{}, {"order": ""}, {"order": None}, {"status": "ok"}, [23501]])
def test_add_without_an_order_id_is_a_bad_response(sloppy, client, body):
    sloppy.answer("add", body)
    with pytest.raises(BadResponse):
        client.add(1, link="https://x.test", quantity=100)


@pytest.mark.parametrize(
    "spelling, status",
    [
        ("In progress", "In progress"),
        ("Inprogress", "In progress"),
        ("In Progress", "In progress"),
        ("in_progress", "In progress"),
        ("inprogress", "In progress"),
        ("Canceled", "Canceled"),
        ("Cancelled", "Canceled"),
        ("canceled", "Canceled"),
        ("Refunded", "Canceled"),
        ("pending", "Pending"),
        ("PROCESSING", "Processing"),
        ("Complete", "Completed"),
        ("completed", "Completed"),
        ("partial", "Partial"),
        ("active", "Active"),
        ("Paused", "Paused"),
        ("expired", "Expired"),
        ("Fail", "Fail"),
        ("Failed", "Failed"),
        ("Error", "Error"),
        ("Awaiting", "Awaiting"),
    ],
)
def test_status_spellings_are_normalized(sloppy, client, spelling, status):
    sloppy.answer("status", {"status": spelling, "charge": "1", "start_count": "0", "remains": "0", "currency": "USD"})
    assert client.status(1).status == status


def test_status_reads_the_reference_example(sloppy, client):
    sloppy.answer(
        "status", {"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157", "currency": "USD"}
    )
    result = client.status("1")
    assert result == OrderStatus(
        status="Partial",
        charge=Decimal("0.27819"),
        start_count=3572,
        remains=157,
        currency="USD",
        posts=None,
        orders=[],
        raw={},
    )
    assert sloppy.forms("status")[-1]["order"] == "1"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("157", 157),
        (157, 157),
        ("157.0", 157),
        (157.0, 157),
        ("", None),
        (None, None),
        ("-12", -12),
        (" 157 ", 157),
        ("n/a", None),
        ("157.5", None),
    ],
)
def test_status_numbers_in_any_spelling_become_ints_or_none(sloppy, client, value, expected):
    sloppy.answer("status", {"status": "Completed", "charge": "1", "start_count": value, "remains": value})
    result = client.status(1)
    assert (result.start_count, result.remains) == (expected, expected)


def test_status_without_optional_keys_is_read_with_nones(sloppy, client):
    sloppy.answer("status", {"status": "Pending"})
    result = client.status(1)
    assert (result.charge, result.start_count, result.remains, result.currency) == (None, None, None, None)


def test_a_charge_sent_as_a_json_number_stays_exact(sloppy, client):
    sloppy.answer("status", '{"status": "Completed", "charge": 0.27819, "remains": 0}')
    assert client.status(1).charge == Decimal("0.27819")


def test_a_subscriptions_status_carries_its_posts_and_orders(sloppy, client):
    sloppy.answer("status", {"status": "Active", "charge": "1.4", "posts": "3", "orders": [5, "6", 7]})
    result = client.status(1)
    assert (result.status, result.posts, result.orders) == ("Active", 3, [5, 6, 7])


@pytest.mark.parametrize("body", [{}, {"status": ""}, {"status": None}, ["Pending"], {"charge": "1"}])
def test_a_status_answer_without_a_status_is_a_bad_response(sloppy, client, body):
    sloppy.answer("status", body)
    with pytest.raises(BadResponse):
        client.status(1)


def test_statuses_reads_string_keys_errors_and_bare_strings_and_notes_missing_ids(sloppy, client):
    sloppy.answer(
        "status",
        {
            "1": {"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157", "currency": "USD"},
            "10": {"error": "Incorrect order ID"},
            "11": "Incorrect order ID",
            "100": {"charge": 1.44219, "start_count": 234, "status": "Inprogress", "remains": 10, "currency": "USD"},
            "12": {"no": "status"},
            "999": {"status": "Completed"},  # an id nobody asked for
        },
    )
    result = client.statuses([1, "10", 11, 100, 12, 13, 1])
    assert sloppy.forms("status")[-1]["orders"] == "1,10,11,100,12,13"  # each id once
    assert list(result) == [1, 10, 11, 100, 12, 13]
    assert result[1].status == "Partial" and result[1].remains == 157
    assert result[10] == ApiError("Incorrect order ID")
    assert result[11] == ApiError("Incorrect order ID")
    assert (result[100].status, result[100].charge) == ("In progress", Decimal("1.44219"))
    assert isinstance(result[12], ApiError) and "unreadable" in result[12].message
    assert result[13] == ApiError("missing from the answer")


def test_statuses_asks_at_most_100_ids_per_request(sloppy, client):
    def answer(form):
        return {i: {"status": "Completed", "remains": "0"} for i in form["orders"].split(",")}

    sloppy.answer("status", answer)
    result = client.statuses(range(1, 251))
    assert [len(f["orders"].split(",")) for f in sloppy.forms("status")] == [MAX_IDS, MAX_IDS, 50]
    assert sorted(result) == list(range(1, 251))
    assert all(isinstance(r, OrderStatus) for r in result.values())


def test_statuses_of_nothing_asks_nothing(sloppy, client):
    assert client.statuses([]) == {}
    assert sloppy.requests == []


def test_statuses_of_one_id_accepts_the_single_order_shape(sloppy, client):
    sloppy.answer("status", {"status": "Completed", "charge": "2", "remains": "0"})
    assert client.statuses([7])[7].status == "Completed"


def test_statuses_as_a_whole_refused_raise_api_error(sloppy, client):
    sloppy.answer("status", {"error": "Invalid API key"})
    with pytest.raises(ApiError, match="Invalid API key"):
        client.statuses([1, 2])


# --- refill, refill_status, cancel, balance -----------------------------------------------------------


@pytest.mark.parametrize("body", [{"refill": "1"}, {"refill": 1}])
def test_refill_answers_the_refill_id_as_an_int(sloppy, client, body):
    sloppy.answer("refill", body)
    assert client.refill(5) == 1
    assert sloppy.forms("refill")[-1]["order"] == "5"


def test_refill_refused_inside_the_answer_raises_api_error(sloppy, client):
    sloppy.answer("refill", {"refill": {"error": "Refill is disabled for this service"}})
    with pytest.raises(ApiError, match="Refill is disabled"):
        client.refill(5)


def test_refills_reads_the_list_form_with_per_order_errors(sloppy, client):
    sloppy.answer(
        "refill",
        [
            {"order": 1, "refill": 1},
            {"order": "2", "refill": "2"},
            {"order": 3, "refill": {"error": "Incorrect order ID"}},
            {"order": 4, "refill": "Refill not allowed"},
        ],
    )
    assert client.refills([1, 2, 3, 4, 5]) == {
        1: 1,
        2: 2,
        3: ApiError("Incorrect order ID"),
        4: ApiError("Refill not allowed"),
        5: ApiError("missing from the answer"),
    }
    assert sloppy.forms("refill")[-1]["orders"] == "1,2,3,4,5"


def test_refill_status_normalizes_like_order_statuses_plus_rejected(sloppy, client):
    sloppy.answer("refill_status", {"status": "Inprogress"})
    assert client.refill_status(1) == "In progress"
    sloppy.answer("refill_status", {"status": "rejected"})
    assert client.refill_status("1") == "Rejected"
    assert sloppy.forms("refill_status")[-1]["refill"] == "1"


def test_refill_status_refused_inside_the_answer_raises_api_error(sloppy, client):
    sloppy.answer("refill_status", {"status": {"error": "Refill not found"}})
    with pytest.raises(ApiError, match="Refill not found"):
        client.refill_status(1)


def test_refill_statuses_reads_the_list_form(sloppy, client):
    sloppy.answer(
        "refill_status",
        [
            {"refill": 1, "status": "Completed"},
            {"refill": "2", "status": "Rejected"},
            {"refill": 3, "status": {"error": "Refill not found"}},
            {"refill": 4, "error": "Refill not found"},
        ],
    )
    assert client.refill_statuses(["1", 2, 3, 4]) == {
        1: "Completed",
        2: "Rejected",
        3: ApiError("Refill not found"),
        4: ApiError("Refill not found"),
    }
    assert sloppy.forms("refill_status")[-1]["refills"] == "1,2,3,4"


def test_cancel_reads_accepted_and_refused_orders(sloppy, client):
    sloppy.answer(
        "cancel",
        [
            {"order": 9, "cancel": {"error": "Incorrect order ID"}},
            {"order": 2, "cancel": 1},
            {"order": "3", "cancel": "1"},
            {"order": 4, "cancel": 0},
            {"order": 5, "cancel": "Cancel is disabled"},
        ],
    )
    result = client.cancel([9, 2, 3, 4, 5])
    assert result[9] == ApiError("Incorrect order ID")
    assert (result[2], result[3]) == (None, None)
    assert isinstance(result[4], ApiError)
    assert result[5] == ApiError("Cancel is disabled")
    assert sloppy.forms("cancel")[-1]["orders"] == "9,2,3,4,5"


def test_cancel_of_one_id_accepts_the_single_shape(sloppy, client):
    sloppy.answer("cancel", {"cancel": "1"})
    assert client.cancel(5) == {5: None}
    assert sloppy.forms("cancel")[-1]["orders"] == "5"


def test_cancel_of_many_ids_goes_in_chunks_of_100(sloppy, client):
    sloppy.answer("cancel", lambda form: [{"order": int(i), "cancel": 1} for i in form["orders"].split(",")])
    assert client.cancel(range(1, 202)) == dict.fromkeys(range(1, 202))
    assert [len(f["orders"].split(",")) for f in sloppy.forms("cancel")] == [100, 100, 1]


@pytest.mark.parametrize(
    "body, amount, currency",
    [
        ({"balance": "100.84292", "currency": "USD"}, Decimal("100.84292"), "USD"),
        ('{"balance": 100.84292, "currency": "EUR"}', Decimal("100.84292"), "EUR"),
        ({"balance": 5}, Decimal("5"), ""),
    ],
)
def test_balance_is_an_exact_decimal(sloppy, client, body, amount, currency):
    sloppy.answer("balance", body)
    assert client.balance() == Balance(amount=amount, currency=currency)


# --- what goes wrong ----------------------------------------------------------------------------------


def test_an_error_with_http_401_is_an_api_error_with_that_status(sloppy, client):
    sloppy.answer("balance", {"error": "Invalid API key"}, status=401)
    with pytest.raises(ApiError) as caught:
        client.balance()
    assert (caught.value.message, caught.value.status_code) == ("Invalid API key", 401)
    assert str(caught.value) == "Invalid API key"


def test_an_html_502_page_is_a_bad_response_with_the_start_of_the_page(sloppy, client):
    page = "<html><head><title>502 Bad Gateway</title></head><body>" + "x" * 2000 + "</body></html>"
    sloppy.answer("services", page, status=502, content_type="text/html")
    with pytest.raises(BadResponse) as caught:
        client.services()
    assert caught.value.status_code == 502
    assert caught.value.text.startswith("<html><head><title>502 Bad Gateway")
    assert len(caught.value.text) == 500


def test_invalid_json_with_http_200_is_a_bad_response(sloppy, client):
    sloppy.answer("balance", '{"balance": "1.00", ')
    with pytest.raises(BadResponse) as caught:
        client.balance()
    assert (caught.value.status_code, caught.value.text) == (200, '{"balance": "1.00", ')


def test_a_json_answer_with_http_500_that_is_not_an_error_is_a_bad_response(sloppy, client):
    sloppy.answer("balance", {"balance": "1"}, status=500)
    with pytest.raises(BadResponse) as caught:
        client.balance()
    assert caught.value.status_code == 500


def test_a_redirect_is_a_bad_response_that_names_where_it_points(sloppy, client):
    # Following it would turn the POST into a GET without the key and the fields.
    sloppy.answer("balance", "", status=301, headers={"Location": "https://panel.example/api/v2"})
    with pytest.raises(BadResponse) as caught:
        client.balance()
    assert caught.value.status_code == 301
    assert "a redirect to https://panel.example/api/v2" in str(caught.value)
    assert len(sloppy.requests) == 1


def test_a_utf8_bom_before_the_json_is_tolerated(sloppy, client):
    sloppy.answer("balance", "\ufeff" + json.dumps({"balance": "3.5", "currency": "USD"}))
    assert client.balance().amount == Decimal("3.5")


def test_a_port_nobody_listens_on_is_a_transport_error_not_sent():
    with (
        Client(f"http://127.0.0.1:{free_port()}/api/v2", KEY, timeout=2) as c,
        pytest.raises(TransportError) as caught,
    ):
        c.add(1, link="https://x.test", quantity=100)
    assert caught.value.sent is False
    assert isinstance(caught.value, ClientError)


@pytest.mark.parametrize(
    "url", ["panel.example/api/v2", "http://127.0.0.1:abc/api/v2", "http://nonexistent.invalid/api/v2"]
)
def test_a_url_that_cannot_be_reached_is_a_transport_error_not_sent(url):
    with Client(url, KEY, timeout=5) as c, pytest.raises(TransportError) as caught:
        c.balance()
    assert caught.value.sent is False


def test_a_server_that_never_answers_is_a_transport_error_that_may_have_been_sent():
    with socket.socket() as listener:  # the kernel accepts the connection; nobody ever answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/api/v2"
        with Client(url, KEY, timeout=0.5) as c, pytest.raises(TransportError) as caught:
            c.add(1, link="https://x.test", quantity=100)
    assert caught.value.sent is True
    assert "ReadTimeout" in str(caught.value)


def test_a_connection_closed_without_an_answer_may_have_been_sent():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/api/v2"

        def hang_up():
            conn, _ = listener.accept()
            conn.recv(65536)  # the whole request arrived ...
            conn.close()  # ... and the panel went away

        thread = threading.Thread(target=hang_up)
        thread.start()
        with Client(url, KEY, timeout=5) as c, pytest.raises(TransportError) as caught:
            c.add(1, link="https://x.test", quantity=100)
        thread.join()
    assert caught.value.sent is True


def test_the_key_never_shows_in_exceptions_or_the_clients_repr(sloppy):
    # A debug page and an error that echo the request back, key included.
    sloppy.answer("services", lambda form: f"<pre>POST key={form['key']}</pre>", status=500, content_type="text/html")
    sloppy.answer("balance", lambda form: {"error": f"Invalid API key {form['key']}"}, status=401)
    sloppy.answer("status", lambda form: {"1": f"key {form['key']} has no order 1"})
    raised = []
    with Client(sloppy.url, KEY, timeout=5) as c:
        assert KEY not in repr(c) and KEY not in str(c)
        for call in (c.services, c.balance):
            with pytest.raises(ClientError) as caught:
                call()
            raised.append(caught.value)
        raised.append(c.statuses([1, 2])[1])
    with Client(f"http://127.0.0.1:{free_port()}/api/v2?key={KEY}", KEY, timeout=2) as c:
        assert KEY not in repr(c)
        with pytest.raises(TransportError) as caught:
            c.balance()
        raised.append(caught.value)
    assert len(raised) == 4
    for error in raised:
        shown = [str(error), repr(error), *(str(v) for v in vars(error).values())]
        assert not [s for s in shown if KEY in s], shown
    assert "***" in raised[0].text and "***" in raised[1].message


def test_a_client_given_its_own_http_client_leaves_it_open(sloppy):
    import httpx

    sloppy.answer("balance", {"balance": "1", "currency": "USD"})
    with httpx.Client(timeout=5) as http:
        with Client(sloppy.url, KEY, http=http) as c:
            assert c.balance().amount == Decimal("1")
        assert not http.is_closed


# --- our own panel, for real ---------------------------------------------------------------------------

WORLD = """
import json
from decimal import Decimal
from django.contrib.auth import get_user_model
from smmpanel.accounts.models import Account
from smmpanel.catalog.models import Category, Service
from smmpanel.ledger.services import deposit

account = Account.objects.create(user=get_user_model().objects.create_user("reseller"))
key = account.regenerate_api_key()
deposit(account, Decimal("1000"))
category = Category.objects.create(name="Client tests")
services = {}
for type, fields in TYPES.items():
    services[type] = Service.objects.create(name=f"{type} (client)", category=category, type=type,
                                            rate=Decimal(fields["rate"]), min=fields["min"], max=fields["max"],
                                            refill=True, cancel=True, dripfeed=type == "Default").pk
plain = Service.objects.create(name="No refill, no cancel", category=category, type="Default",
                               rate=Decimal("1"), min=10, max=1000).pk
print(json.dumps({"key": key, "services": services, "plain": plain}))
"""

COMPLETE = """
import json
from smmpanel.orders.services import apply_status
for order_id in ORDERS:
    apply_status(order_id, "Completed", start_count=100)
print(json.dumps({}))
"""

SETTLE_REFILLS = """
import json
from smmpanel.orders.services import apply_refill_status
for refill_id, status in REFILLS:
    apply_refill_status(refill_id, status)
print(json.dumps({}))
"""


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    """Our panel on gunicorn with a reseller (1000 USD) and a service of every order type."""
    data_dir = tmp_path_factory.mktemp("client_panel")
    server = PanelServer(f"sqlite:///{data_dir}/p.sqlite3", data_dir)
    server.manage("migrate", "--noinput")
    server.start(workers=1, threads=4)
    try:
        types = {t: example[0] for t, example in ORDER_EXAMPLES.items()}
        server.world = server.python(WORLD.replace("TYPES", repr(types)))
        yield server
    finally:
        server.stop()


@pytest.fixture
def ours(panel):
    with Client(panel.url, panel.world["key"], timeout=30) as c:
        yield c


def place_default(panel, ours, quantity=100):
    return ours.add(panel.world["services"]["Default"], link=new_link(), quantity=quantity)


def test_services_of_our_panel_come_back_typed(panel, ours):
    services = {s.service: s for s in ours.services()}
    assert ours.last_skipped == 0
    for type, service_id in panel.world["services"].items():
        fields = ORDER_EXAMPLES[type][0]
        s = services[service_id]
        assert (s.type, s.category, s.rate, s.min, s.max) == (
            type,
            "Client tests",
            Decimal(fields["rate"]),
            fields["min"],
            fields["max"],
        )
        assert (s.refill, s.cancel, s.dripfeed) == (True, True, type == "Default")
    plain = services[panel.world["plain"]]
    assert (plain.refill, plain.cancel, plain.dripfeed) == (False, False, False)


@pytest.mark.parametrize("order_type", list(ORDER_EXAMPLES))
def test_add_places_every_order_type_and_status_reads_it_back(panel, ours, order_type):
    _, request, _, charge, _ = ORDER_EXAMPLES[order_type]
    order = ours.add(panel.world["services"][order_type], **request)
    assert type(order) is int
    result = ours.status(order)
    assert result.charge == Decimal(charge)
    assert result.currency == "USD"
    if order_type == "Subscriptions":
        assert (result.status, result.orders) == ("Active", [])
    else:
        assert result.status == "Pending"
        assert result.remains is not None and result.remains >= 0


def test_a_drip_feed_order_goes_through_add_with_runs_and_interval(panel, ours):
    before = ours.balance().amount
    order = ours.add(panel.world["services"]["Default"], link=new_link(), quantity=100, runs=3, interval=5)
    result = ours.status(order)
    assert result.charge == Decimal("0.27000")  # 0.90 × 3 runs × 100 / 1000
    assert ours.balance().amount == before - result.charge


def test_statuses_answers_every_id_across_chunks(panel, ours):
    placed = [place_default(panel, ours) for _ in range(3)]
    unknown = list(range(900_000, 900_000 + 2 * MAX_IDS))
    result = ours.statuses([*placed, *unknown])
    assert len(result) == len(placed) + len(unknown)
    assert [result[o].status for o in placed] == ["Pending"] * 3
    assert {result[o] for o in unknown} == {ApiError("Incorrect order ID")}


def test_refill_and_refill_status_one_and_many(panel, ours):
    orders = [place_default(panel, ours) for _ in range(3)]
    panel.python(COMPLETE.replace("ORDERS", repr(orders)))
    assert [r.status for r in ours.statuses(orders).values()] == ["Completed"] * 3

    first = ours.refill(orders[0])
    many = ours.refills([orders[1], str(orders[2]), 900_001])
    assert type(first) is int and type(many[orders[1]]) is int and type(many[orders[2]]) is int
    assert many[900_001] == ApiError("Incorrect order ID")
    assert ours.refill_status(first) == "Pending"

    panel.python(SETTLE_REFILLS.replace("REFILLS", repr([[first, "Rejected"], [many[orders[1]], "Completed"]])))
    assert ours.refill_status(first) == "Rejected"
    assert ours.refill_statuses([first, many[orders[1]], many[orders[2]], 900_001]) == {
        first: "Rejected",
        many[orders[1]]: "Completed",
        many[orders[2]]: "Pending",
        900_001: ApiError("Refill not found"),
    }
    with pytest.raises(ApiError, match="Refill not found"):
        ours.refill_status(900_001)


def test_refill_of_a_service_without_refill_is_the_panels_error(panel, ours):
    order = ours.add(panel.world["plain"], link=new_link(), quantity=100)
    panel.python(COMPLETE.replace("ORDERS", repr([order])))
    with pytest.raises(ApiError) as caught:
        ours.refill(order)
    assert (caught.value.message, caught.value.status_code) == ("Refill is disabled for this service", 200)


def test_cancel_one_and_many(panel, ours):
    one, two = place_default(panel, ours), place_default(panel, ours)
    no_cancel = ours.add(panel.world["plain"], link=new_link(), quantity=100)
    assert ours.cancel(one) == {one: None}
    assert ours.cancel([str(two), no_cancel, 900_002]) == {
        two: None,
        no_cancel: ApiError("Cancel is disabled for this service"),
        900_002: ApiError("Incorrect order ID"),
    }


def test_balance_falls_by_each_charge(panel, ours):
    before = ours.balance()
    assert before.currency == "USD" and type(before.amount) is Decimal
    order = place_default(panel, ours, quantity=1000)
    assert ours.balance().amount == before.amount - ours.status(order).charge == before.amount - Decimal("0.9")


def test_refusals_of_our_panel_are_api_errors_in_its_words(panel, ours):
    with pytest.raises(ApiError, match=r"^Incorrect service ID$"):
        ours.add(999_999, link=new_link(), quantity=100)
    with pytest.raises(ApiError, match=r"^Quantity less than minimal 50$"):
        ours.add(panel.world["services"]["Default"], link=new_link(), quantity=1)
    with pytest.raises(ApiError, match=r"^Incorrect order ID$"):
        ours.status(999_999)
    with Client(panel.url, "not-a-key" + "x" * 31) as wrong, pytest.raises(ApiError) as caught:
        wrong.balance()
    assert (caught.value.message, caught.value.status_code) == ("Invalid API key", 200)
    assert "not-a-key" not in repr(caught.value) + str(caught.value) + repr(wrong)
