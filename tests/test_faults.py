"""Fault injection (smmpanel/api/faults.py): panel A misbehaves exactly as its faults file says.

Panel A is a real gunicorn (tests/providers_harness.py) spoken to with plain
httpx, as a reseller's engine would. Each fault is shown doing what
docs/faults.md says, and in particular whether the order was placed at A:
faults "before" leave A untouched, faults "after" leave A holding an order
the client never heard of.
"""

import io
import json
import time
from decimal import Decimal

import httpx
import pytest

from smmpanel.api.faults import SPELLINGS, stable_fraction, wrap
from tests.conftest import new_link

NOT_FOUND = "Incorrect order ID"


def call(panel, action, *, timeout=10.0, **params) -> httpx.Response:
    return httpx.post(panel.url, data={"key": panel.key, "action": action, **params}, timeout=timeout)


def add(panel, service="default", quantity=100, **params) -> httpx.Response:
    return call(panel, "add", service=panel.services[service], link=new_link(), quantity=quantity, **params)


def place(panel, service="default", **params) -> int:
    body = add(panel, service, **params).json()
    assert set(body) == {"order"}, body
    return int(body["order"])


# --- no faults -------------------------------------------------------------------------------


def test_without_the_variable_the_api_app_is_served_unwrapped():
    import smmpanel.wsgi  # noqa: F401 - the production entry point, as gunicorn imports it
    from smmpanel.api import wsgi as api

    assert not hasattr(api.application, "__wrapped__")


def _wsgi_call(app, fields: dict) -> tuple[str, list, bytes]:
    body = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/v2",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    started = {}

    def start_response(status, headers, exc_info=None):
        started["status"], started["headers"] = status, headers

    data = b"".join(app(environ, start_response))
    return started["status"], started["headers"], data


@pytest.mark.django_db(transaction=True)  # the API app closes the connection after each call
def test_a_missing_empty_or_idle_faults_file_changes_no_answer(tmp_path, customer, service):
    from smmpanel.api import wsgi as api

    cust = customer("10")
    svc = service(rate="1", min=10, max=1000, cancel=True)
    order = json.loads(
        _wsgi_call(
            api.application,
            {"key": cust.key, "action": "add", "service": svc.pk, "link": "https://example.com/x", "quantity": 10},
        )[2]
    )["order"]
    idle = tmp_path / "idle.json"
    idle.write_text(json.dumps({"seed": 5, "forget": 0, "spellings": False}))
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    requests = [
        {"action": "balance"},
        {"action": "services"},
        {"action": "status", "order": order},
        {"action": "status", "orders": f"{order},999999,x"},
        {"action": "refill", "orders": f"{order},7"},
        {"action": "cancel", "orders": "999999"},
        {"action": "nope"},
        {"key": "wrong", "action": "balance"},
    ]
    for path in (tmp_path / "missing.json", empty, idle):
        faulty = wrap(api.application, str(path))
        for fields in requests:
            fields = {"key": cust.key, **fields}
            assert _wsgi_call(faulty, fields) == _wsgi_call(api.application, fields), (path.name, fields)
        added = _wsgi_call(
            faulty,
            {
                "key": cust.key,
                "action": "add",
                "service": svc.pk,
                "link": f"https://example.com/{path.name}",
                "quantity": 10,
            },
        )
        assert added[0] == "200 OK" and type(json.loads(added[2])["order"]) is int


def test_with_no_faults_the_provider_answers_in_the_reference_shapes(provider_panel):
    order = place(provider_panel)
    assert type(add(provider_panel).json()["order"]) is int
    body = call(provider_panel, "status", order=order).json()
    assert body["status"] == "Pending" and type(body["start_count"]) is str and type(body["remains"]) is str
    multi = call(provider_panel, "status", orders=f"{order},999999999").json()
    assert multi["999999999"] == {"error": NOT_FOUND}
    assert call(provider_panel, "cancel", orders=str(order)).json() == [{"order": order, "cancel": 1}]


ONE_OF_EACH = {
    "default": dict(quantity=100),
    "package": dict(),
    "custom_comments": dict(comments="one\ntwo"),
    "mentions": dict(quantity=20, usernames="alice\nbob"),
    "poll": dict(quantity=20, answer_number=1),
    "comment_replies": dict(username="alice", comments="thanks\nagreed"),
    "seo": dict(quantity=50, keywords="smm panel"),
}


def test_the_provider_completes_an_order_of_every_catalog_type_within_seconds(provider_panel):
    provider_panel.run_worker()
    placed = {
        name: call(provider_panel, "add", service=provider_panel.services[name], link=new_link(), **params).json()
        for name, params in ONE_OF_EACH.items()
    }
    placed["subscriptions"] = call(
        provider_panel,
        "add",
        service=provider_panel.services["subscriptions"],
        username=new_link(),
        min=10,
        max=20,
        posts=2,
        old_posts=1,
        delay=0,
    ).json()
    assert all(set(body) == {"order"} for body in placed.values()), placed
    ids = {body["order"] for body in placed.values()}

    def all_completed(panel):
        mine = [o for pk, o in panel.orders().items() if pk in ids or o["parent"] in ids]
        return len(mine) == len(ids) + 3 and {o["status"] for o in mine} == {"Completed"}

    provider_panel.wait_for(all_completed, timeout=30)
    assert provider_panel.ledger_ok()


# --- faults before anything: nothing reaches A ---------------------------------------------------

REFUSALS = {
    "http_5xx": lambda r: (
        r.status_code in (502, 503) and r.headers["content-type"] == "text/html" and r.text.startswith("<html>")
    ),
    "html": lambda r: (
        r.status_code == 200 and r.headers["content-type"].startswith("text/html") and "Cloudflare" in r.text
    ),
    "rate_limit": lambda r: r.status_code == 429 and r.json() == {"error": "Too many requests"},
    "funds": lambda r: r.status_code == 200 and r.json() == {"error": "Not enough funds on balance"},
}


@pytest.mark.parametrize("fault", REFUSALS)
def test_a_refusal_before_the_add_places_nothing_at_the_provider(provider_panel, fault):
    count, balance = provider_panel.order_count(), provider_panel.balance()
    provider_panel.set_faults({fault: 1})
    for _ in range(3):
        response = add(provider_panel)
        assert REFUSALS[fault](response), (response.status_code, response.headers, response.text[:200])
    assert provider_panel.order_count() == count
    assert provider_panel.balance() == balance
    assert provider_panel.ledger_ok()


@pytest.mark.parametrize("fault", ["http_5xx", "html", "rate_limit"])
def test_a_refusal_before_anything_hits_every_action(provider_panel, fault):
    provider_panel.set_faults({fault: 1})
    for action in ("balance", "services", "status"):
        response = call(provider_panel, action, order=1)
        assert REFUSALS[fault](response), (action, response.status_code, response.text[:200])


def test_actions_restricts_the_drawn_faults_to_those_actions(provider_panel):
    provider_panel.set_faults({"funds": 1, "rate_limit": 0, "http_5xx": 0, "actions": ["status"]})
    count = provider_panel.order_count()
    place(provider_panel)
    assert provider_panel.order_count() == count + 1
    provider_panel.set_faults({"rate_limit": 1, "actions": ["status"]})
    assert call(provider_panel, "balance").status_code == 200
    assert call(provider_panel, "status", order=1).status_code == 429


def test_latency_delays_every_answer(provider_panel):
    provider_panel.set_faults({"latency": [0.3, 0.4]})
    for action in ("balance", "status"):
        started = time.monotonic()
        assert call(provider_panel, action, order=1).status_code == 200
        assert time.monotonic() - started >= 0.3


# --- faults after the add: A holds an order the client never heard of ---------------------------


def test_add_timeout_times_the_client_out_and_the_provider_holds_the_order(provider_panel):
    count, balance = provider_panel.order_count(), provider_panel.balance()
    provider_panel.set_faults({"add_timeout": 1, "hang_seconds": 2})
    with pytest.raises(httpx.ReadTimeout):
        add(provider_panel, quantity=100, timeout=httpx.Timeout(5, read=0.5))
    assert provider_panel.order_count() == count + 1
    assert provider_panel.balance() == balance - Decimal("0.1")
    assert provider_panel.ledger_ok()


def test_add_drop_closes_the_connection_without_an_answer_and_the_provider_holds_the_order(provider_panel):
    count = provider_panel.order_count()
    provider_panel.set_faults({"add_drop": 1})
    with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
        add(provider_panel)
    assert provider_panel.order_count() == count + 1
    assert provider_panel.ledger_ok()
    assert call(provider_panel, "balance").status_code == 200  # other actions are answered


def test_http_500_after_add_answers_a_server_error_and_the_provider_holds_the_order(provider_panel):
    count = provider_panel.order_count()
    provider_panel.set_faults({"http_500_after_add": 1})
    response = add(provider_panel)
    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error, please try again later"}
    assert provider_panel.order_count() == count + 1
    assert provider_panel.ledger_ok()


# --- rewritten answers -----------------------------------------------------------------------------


def test_forget_makes_the_same_orders_unknown_every_time_and_only_them(provider_panel):
    orders = [place(provider_panel) for _ in range(10)]
    # A seed that forgets some of these ids but not all (the hash decides, not luck).
    seed = next(s for s in range(100) if 0 < sum(stable_fraction(s, "forget", o) < 0.5 for o in orders) < 10)
    provider_panel.set_faults({"seed": seed, "forget": 0.5})
    expected = {o for o in orders if stable_fraction(seed, "forget", o) < 0.5}
    for _ in range(2):
        single = {o for o in orders if call(provider_panel, "status", order=o).json() == {"error": NOT_FOUND}}
        multi = call(provider_panel, "status", orders=",".join(map(str, orders))).json()
        assert single == expected
        assert {int(k) for k, v in multi.items() if v == {"error": NOT_FOUND}} == expected
        assert all("status" in multi[str(o)] for o in orders if o not in expected)


def test_spellings_give_each_order_one_other_panels_spelling(provider_panel):
    provider_panel.run_worker()
    running = [place(provider_panel, "slow", quantity=1000) for _ in range(4)]
    canceled = place(provider_panel, "slow", quantity=1000)
    assert call(provider_panel, "cancel", order=canceled).json() == [{"order": canceled, "cancel": 1}]
    completed = place(provider_panel, "default", quantity=10)
    wanted = {**dict.fromkeys(running, "In progress"), canceled: "Canceled", completed: "Completed"}
    provider_panel.wait_for(lambda p: all(p.orders()[o]["status"] == s for o, s in wanted.items()))
    provider_panel.set_faults({"seed": 3, "spellings": True})

    multi = call(provider_panel, "status", orders=",".join(map(str, wanted))).json()
    seen = {}
    for order, status in wanted.items():
        alternatives = SPELLINGS.get(status, (status,))
        spelled = call(provider_panel, "status", order=order).json()["status"]
        assert spelled in alternatives
        assert spelled == alternatives[int(stable_fraction(3, "order", order) * len(alternatives))]
        assert multi[str(order)]["status"] == spelled == call(provider_panel, "status", order=order).json()["status"]
        seen[order] = spelled
    assert seen[canceled] == "Cancelled" and seen[completed] == "Completed"


def test_string_ids_send_every_id_as_a_string(provider_panel):
    provider_panel.set_faults({"string_ids": True})
    body = add(provider_panel).json()
    assert type(body["order"]) is str and body["order"].isdigit()
    order = body["order"]
    assert call(provider_panel, "cancel", orders=f"{order},999999999").json() == [
        {"order": order, "cancel": 1},
        {"order": "999999999", "cancel": {"error": NOT_FOUND}},
    ]
    refills = call(provider_panel, "refill", orders=order).json()
    assert refills[0]["order"] == order and "error" in refills[0]["refill"]


def test_numbers_send_start_count_and_remains_as_json_numbers(provider_panel):
    order = place(provider_panel, quantity=150)
    provider_panel.set_faults({"numbers": True})
    body = call(provider_panel, "status", order=order).json()
    assert body["remains"] == 150 and type(body["start_count"]) is int
    assert type(body["charge"]) is str  # only those two
    multi = call(provider_panel, "status", orders=str(order)).json()
    assert multi[str(order)]["remains"] == 150


def test_bare_string_errors_answer_unknown_ids_of_a_multi_status_with_a_string(provider_panel):
    order = place(provider_panel)
    provider_panel.set_faults({"bare_string_errors": True})
    multi = call(provider_panel, "status", orders=f"{order},999999999").json()
    assert multi["999999999"] == NOT_FOUND
    assert multi[str(order)]["status"] == "Pending"
    assert call(provider_panel, "status", order=999999999).json() == {"error": NOT_FOUND}  # single: as ever


def test_a_broken_faults_file_means_no_faults(provider_panel):
    provider_panel.set_faults({"rate_limit": 1})
    assert call(provider_panel, "balance").status_code == 429
    provider_panel.faults_file.write_text('{"rate_limit": 1,')  # cut short; the next call looks again
    assert call(provider_panel, "balance").status_code == 200
