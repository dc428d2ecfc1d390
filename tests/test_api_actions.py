"""Every action of API v2, single and multi, with the reference's shapes and JSON types."""

import json
from decimal import Decimal

import httpx
import pytest

from smmpanel.orders.models import Order, Refill
from smmpanel.orders.services import apply_refill_status, apply_status
from tests.conftest import ENCODINGS, PATHS, PanelServer, call_api, new_link, parsed

SERVICE_KEYS = ["service", "name", "type", "category", "rate", "min", "max", "refill", "cancel", "dripfeed"]
STATUS_KEYS = ["charge", "start_count", "status", "remains", "currency"]


def completed_order(place, cust, svc, **params) -> int:
    order_id = place(cust, svc, **params)
    apply_status(order_id, "Completed", start_count=100)
    return order_id


# --- key and action ------------------------------------------------------------------


@pytest.mark.parametrize("via", ENCODINGS)
@pytest.mark.parametrize("key", [None, "", "   ", "not-a-key", "x" * 500])
def test_it_rejects_a_missing_or_wrong_key(api, customer, via, key):
    customer()
    assert api(key, "balance", via=via) == {"error": "Invalid API key"}


def test_it_checks_the_key_before_the_action_and_its_parameters(api):
    assert api("wrong", "no-such-action") == {"error": "Invalid API key"}
    assert api("wrong", None) == {"error": "Invalid API key"}
    assert api("wrong", "add", service="x") == {"error": "Invalid API key"}


@pytest.mark.parametrize("action", [None, "", "Balance", "delete", "add ", "refills"])
def test_it_answers_an_unknown_or_missing_action_with_incorrect_request(api, customer, action):
    cust = customer()
    # ("add " is `add` once trimmed, missing its parameters: the same words.)
    assert api(cust.key, action) == {"error": "Incorrect request"}


def test_it_checks_the_action_before_its_parameters(api, customer):
    cust = customer()
    assert api(cust.key, "nope", service="not-a-number", order="x") == {"error": "Incorrect request"}


def test_a_key_with_surrounding_spaces_still_works(api, customer):
    cust = customer("5")
    assert api(f"  {cust.key}\n", "balance") == {"balance": "5.00000", "currency": "USD"}


def test_a_regenerated_key_replaces_the_old_one(api, customer):
    cust = customer()
    old = cust.key
    new = cust.account.regenerate_api_key()
    assert api(old, "balance") == {"error": "Invalid API key"}
    assert api(new, "balance")["balance"] == "100.00000"


def test_a_deactivated_users_key_no_longer_works(api, customer):
    cust = customer()
    cust.user.is_active = False
    cust.user.save()
    assert api(cust.key, "balance") == {"error": "Invalid API key"}


def test_the_key_is_stored_only_as_a_digest(customer):
    cust = customer()
    cust.account.refresh_from_db()
    assert cust.key not in (cust.account.api_key_hash or "")
    assert len(cust.key) >= 32 and cust.key.isalnum()


def test_it_answers_malformed_json_with_a_json_error(wsgi_client):
    response = wsgi_client.post("/api/v2", data=b'{"key": ', content_type="application/json")
    assert parsed(response) == {"error": "Request body is not valid JSON"}
    # (valid JSON that is not an object: tests/test_limits.py)


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=\x00"]
)
def test_a_malformed_multipart_body_is_an_incorrect_request(wsgi_client, content_type):
    response = wsgi_client.generic("POST", "/api/v2", data=b"key=x&action=balance", content_type=content_type)
    assert parsed(response) == {"error": "Incorrect request"}


def test_a_json_body_sent_without_a_json_content_type_is_still_read(wsgi_client, customer):
    cust = customer("3")
    body = json.dumps({"key": cust.key, "action": "balance"}).encode()
    response = wsgi_client.generic("POST", "/api/v2", data=body, content_type="text/plain")
    assert parsed(response) == {"balance": "3.00000", "currency": "USD"}


# --- services --------------------------------------------------------------------------


def test_services_lists_active_services_with_the_reference_keys_in_order(api, customer, service):
    cust = customer()
    followers = service(
        "Default",
        rate="0.90",
        min=50,
        max=10000,
        refill=True,
        cancel=True,
        name="Followers",
        category="First Category",
        dripfeed=True,
    )
    comments = service(
        "Custom Comments",
        rate="8",
        min=10,
        max=1500,
        refill=False,
        cancel=True,
        name="Comments",
        category="Second Category",
    )
    service("Default", name="Hidden", active=False)

    body = api(cust.key, "services")

    assert isinstance(body, list)
    assert [item["name"] for item in body] == ["Followers", "Comments"]
    for item in body:
        assert list(item) == SERVICE_KEYS
    assert body[0] == {
        "service": followers.pk,
        "name": "Followers",
        "type": "Default",
        "category": "First Category",
        "rate": "0.90",
        "min": "50",
        "max": "10000",
        "refill": True,
        "cancel": True,
        "dripfeed": True,
    }
    assert body[1] == {
        "service": comments.pk,
        "name": "Comments",
        "type": "Custom Comments",
        "category": "Second Category",
        "rate": "8",
        "min": "10",
        "max": "1500",
        "refill": False,
        "cancel": True,
        "dripfeed": False,
    }


@pytest.mark.parametrize(
    "rate, shown",
    [
        ("0.9", "0.90"),
        ("8", "8"),
        ("10", "10"),
        ("0.123", "0.123"),
        ("1.5", "1.50"),
        ("0.00001", "0.00001"),
        ("12.34567", "12.34567"),
    ],
)
def test_services_shows_rates_as_the_owner_wrote_them(api, customer, service, rate, shown):
    cust = customer()
    service(rate=rate)
    assert api(cust.key, "services")[0]["rate"] == shown


def test_services_is_an_empty_list_when_nothing_is_sold(api, customer):
    assert api(customer().key, "services") == []


# --- balance ---------------------------------------------------------------------------


def test_balance_is_a_string_with_five_decimals_and_the_currency(api, customer):
    cust = customer("100.84292")
    body = api(cust.key, "balance")
    assert body == {"balance": "100.84292", "currency": "USD"}
    assert list(body) == ["balance", "currency"]


def test_balance_of_a_customer_without_deposits_is_zero(api, customer):
    assert api(customer("0").key, "balance") == {"balance": "0.00000", "currency": "USD"}


# --- add and status --------------------------------------------------------------------


def test_add_answers_only_the_new_order_id_as_a_number(api, customer, service):
    cust = customer("10")
    svc = service(rate="0.9", min=50, max=10000)
    body = api(cust.key, "add", service=svc.pk, link="https://example.com/a", quantity="1000")
    assert list(body) == ["order"] and type(body["order"]) is int
    order = Order.objects.get(pk=body["order"])
    assert (order.status, order.quantity, order.charge) == ("Pending", 1000, Decimal("0.9"))
    assert api(cust.key, "balance")["balance"] == "9.10000"


@pytest.mark.parametrize("service_id", ["999999", "abc", "-1", "1.0", "0", "9" * 30])
def test_add_to_a_service_that_does_not_exist_is_an_incorrect_service_id(api, customer, service_id):
    cust = customer()
    body = api(cust.key, "add", service=service_id, link="https://example.com/a", quantity="100")
    assert body == {"error": "Incorrect service ID"}


def test_add_to_an_inactive_service_is_an_incorrect_service_id(api, customer, service):
    cust = customer()
    svc = service(active=False)
    body = api(cust.key, "add", service=svc.pk, link="https://example.com/a", quantity="100")
    assert body == {"error": "Incorrect service ID"}
    assert Order.objects.count() == 0


def test_add_without_a_service_is_an_incorrect_request(api, customer):
    assert api(customer().key, "add", link="https://example.com/a", quantity="100") == {"error": "Incorrect request"}


def test_status_of_one_order_has_the_reference_keys_as_strings(api, customer, service, place):
    cust = customer()
    svc = service(rate="1.5", min=10)
    order_id = place(cust, svc, quantity="200")

    body = api(cust.key, "status", order=order_id)

    assert list(body) == STATUS_KEYS
    assert body == {"charge": "0.30000", "start_count": "0", "status": "Pending", "remains": "200", "currency": "USD"}
    assert all(type(v) is str for v in body.values())


def test_status_follows_the_order_through_its_life(api, customer, service, place):
    cust = customer()
    order_id = place(cust, service(rate="2"), quantity="1000")
    apply_status(order_id, "In progress", start_count=3572, remains=600)
    assert api(cust.key, "status", order=order_id) == {
        "charge": "2.00000",
        "start_count": "3572",
        "status": "In progress",
        "remains": "600",
        "currency": "USD",
    }
    apply_status(order_id, "Completed")
    assert api(cust.key, "status", order=order_id)["status"] == "Completed"
    assert api(cust.key, "status", order=order_id)["remains"] == "0"


@pytest.mark.parametrize("order_id", ["999999", "abc", "", "  ", "-5", "1e3", "²", "9" * 40])
def test_status_of_an_unknown_order_is_an_incorrect_order_id(api, customer, order_id):
    body = api(customer().key, "status", order=order_id)
    expected = "Incorrect request" if not order_id.strip() else "Incorrect order ID"
    assert body == {"error": expected}


def test_multi_status_is_an_object_keyed_by_the_ids_as_asked(api, customer, service, place):
    cust = customer()
    svc = service(rate="1")
    first = place(cust, svc, quantity="100")
    second = place(cust, svc, quantity="300")
    apply_status(second, "Partial", remains=100)

    body = api(cust.key, "status", orders=f" {first} ,999999,  {second}")

    assert list(body) == [str(first), "999999", str(second)]
    assert body[str(first)] == {
        "charge": "0.10000",
        "start_count": "0",
        "status": "Pending",
        "remains": "100",
        "currency": "USD",
    }
    assert body["999999"] == {"error": "Incorrect order ID"}
    assert body[str(second)] == {
        "charge": "0.20000",
        "start_count": "0",
        "status": "Partial",
        "remains": "100",
        "currency": "USD",
    }
    for item in (body[str(first)], body[str(second)]):
        assert list(item) == STATUS_KEYS


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "0x10", "²", "１", "٣", "1 2", "+1"])
def test_multi_status_gives_non_numeric_ids_the_unknown_id_error(api, customer, service, place, bad):
    cust = customer()
    # Order #1 (and #3) may well be this customer's: a look-alike must not reach them.
    for _ in range(3):
        place(cust, service(rate="1"))
    body = api(cust.key, "status", orders=f"{bad},{Order.objects.first().pk}")
    assert body[bad] == {"error": "Incorrect order ID"}
    assert body[str(Order.objects.first().pk)]["status"] == "Pending"


def test_multi_status_with_only_commas_is_an_incorrect_request(api, customer):
    assert api(customer().key, "status", orders=" , ,") == {"error": "Incorrect request"}


# --- the 100-id limit ------------------------------------------------------------------


@pytest.mark.parametrize(
    "action, field", [("status", "orders"), ("refill", "orders"), ("refill_status", "refills"), ("cancel", "orders")]
)
def test_multi_actions_take_up_to_100_ids(api, customer, action, field):
    cust = customer()
    ids = [900000 + i for i in range(100)]
    hundred = ",".join(map(str, ids))
    body = api(cust.key, action, **{field: hundred})
    # One answer per id, in order, each saying what became of that id (here: none exists).
    # A whole-body {"error": ...} would fail here; so would a list that dropped or merged items.
    not_found = {"error": "Refill not found" if action == "refill_status" else "Incorrect order ID"}
    expected = {
        "status": {str(i): not_found for i in ids},
        "refill": [{"order": i, "refill": not_found} for i in ids],
        "refill_status": [{"refill": i, "status": not_found} for i in ids],
        "cancel": [{"order": i, "cancel": not_found} for i in ids],
    }[action]
    assert body == expected
    if action == "status":
        assert list(body) == [str(i) for i in ids]
    too_many = hundred + ",999999"
    assert api(cust.key, action, **{field: too_many}) == {"error": "Too many IDs: at most 100 per request"}


def test_multi_status_of_100_real_orders_answers_each(api, customer, service, place):
    cust = customer("1000")
    svc = service(rate="1", min=10)
    ids = [place(cust, svc, quantity="10") for _ in range(100)]
    body = api(cust.key, "status", orders=",".join(map(str, ids)))
    assert list(body) == [str(i) for i in ids]
    assert all(v["status"] == "Pending" for v in body.values())


# --- refill ------------------------------------------------------------------------------


def test_refill_of_one_order_answers_the_refill_id_as_a_string(api, customer, service, place):
    cust = customer()
    order_id = completed_order(place, cust, service(refill=True))
    body = api(cust.key, "refill", order=order_id)
    assert list(body) == ["refill"] and type(body["refill"]) is str
    refill = Refill.objects.get(pk=int(body["refill"]))
    assert (refill.order_id, refill.status) == (order_id, "Pending")


@pytest.mark.parametrize("order_id", ["424242", "abc", "²", "1.0"])
def test_refill_of_an_unknown_order_is_an_incorrect_order_id(api, customer, order_id):
    assert api(customer().key, "refill", order=order_id) == {"error": "Incorrect order ID"}


def test_refill_on_a_service_without_refill_is_disabled(api, customer, service, place):
    cust = customer()
    order_id = completed_order(place, cust, service(refill=False))
    assert api(cust.key, "refill", order=order_id) == {"error": "Refill is disabled for this service"}


def test_multi_refill_is_a_list_with_numeric_ids_and_per_item_errors(api, customer, service, place):
    cust = customer()
    svc = service(refill=True)
    first = completed_order(place, cust, svc)
    second = completed_order(place, cust, svc)

    body = api(cust.key, "refill", orders=f"{first}, {second} ,424242,abc")

    assert isinstance(body, list) and len(body) == 4
    refills = list(Refill.objects.order_by("id").values_list("id", "order_id"))
    assert body[0] == {"order": first, "refill": refills[0][0]}
    assert body[1] == {"order": second, "refill": refills[1][0]}
    assert body[2] == {"order": 424242, "refill": {"error": "Incorrect order ID"}}
    assert body[3] == {"order": "abc", "refill": {"error": "Incorrect order ID"}}
    assert type(body[0]["refill"]) is int and type(body[0]["order"]) is int
    assert [list(item) for item in body] == [["order", "refill"]] * 4


def test_multi_refill_reports_each_orders_own_reason(api, customer, service, place):
    cust = customer()
    no_refill = completed_order(place, cust, service(refill=False))
    pending = place(cust, service(refill=True))
    body = api(cust.key, "refill", orders=f"{no_refill},{pending}")
    assert body == [
        {"order": no_refill, "refill": {"error": "Refill is disabled for this service"}},
        {"order": pending, "refill": {"error": "Refill is available only for completed orders (this one is Pending)"}},
    ]


# --- refill_status ------------------------------------------------------------------------


def test_refill_status_of_one_refill(api, customer, service, place):
    cust = customer()
    order_id = completed_order(place, cust, service(refill=True))
    refill_id = api(cust.key, "refill", order=order_id)["refill"]
    assert api(cust.key, "refill_status", refill=refill_id) == {"status": "Pending"}
    apply_refill_status(int(refill_id), "Completed")
    assert api(cust.key, "refill_status", refill=refill_id) == {"status": "Completed"}


@pytest.mark.parametrize("refill_id", ["424242", "abc", "²", "-1"])
def test_refill_status_of_an_unknown_refill_is_refill_not_found(api, customer, refill_id):
    assert api(customer().key, "refill_status", refill=refill_id) == {"error": "Refill not found"}


def test_refill_status_without_an_id_is_an_incorrect_request(api, customer):
    assert api(customer().key, "refill_status") == {"error": "Incorrect request"}


def test_multi_refill_status_is_a_list_with_per_item_errors(api, customer, service, place):
    cust = customer()
    svc = service(refill=True)
    r1 = int(api(cust.key, "refill", order=completed_order(place, cust, svc))["refill"])
    r2 = int(api(cust.key, "refill", order=completed_order(place, cust, svc))["refill"])
    apply_refill_status(r1, "Completed")
    apply_refill_status(r2, "Rejected")

    body = api(cust.key, "refill_status", refills=f"{r1}, {r2} ,424242, x ")

    assert body == [
        {"refill": r1, "status": "Completed"},
        {"refill": r2, "status": "Rejected"},
        {"refill": 424242, "status": {"error": "Refill not found"}},
        {"refill": "x", "status": {"error": "Refill not found"}},
    ]


# --- cancel ---------------------------------------------------------------------------------


def test_cancel_is_a_list_with_1_for_accepted_and_per_item_errors(api, customer, service, place):
    cust = customer()
    order_id = place(cust, service(cancel=True))

    body = api(cust.key, "cancel", orders=f"9999999, {order_id} , #{order_id}")

    assert body == [
        {"order": 9999999, "cancel": {"error": "Incorrect order ID"}},
        {"order": order_id, "cancel": 1},
        {"order": f"#{order_id}", "cancel": {"error": "Incorrect order ID"}},
    ]
    assert Order.objects.get(pk=order_id).cancel_requested_at is not None


def test_cancel_gives_each_refused_order_its_reason(api, customer, service, place):
    cust = customer()
    no_cancel = place(cust, service(cancel=False))
    done = place(cust, service(cancel=True))
    apply_status(done, "Completed")
    asked = place(cust, service(cancel=True))
    assert api(cust.key, "cancel", orders=str(asked)) == [{"order": asked, "cancel": 1}]

    body = api(cust.key, "cancel", orders=f"{no_cancel},{done},{asked}")

    assert body == [
        {"order": no_cancel, "cancel": {"error": "Cancel is disabled for this service"}},
        {"order": done, "cancel": {"error": "Order cannot be canceled: it is Completed"}},
        {"order": asked, "cancel": {"error": "Cancel is already requested for this order"}},
    ]


def test_cancel_does_not_refund_until_the_order_is_canceled(api, customer, service, place):
    cust = customer("10")
    order_id = place(cust, service(rate="2", cancel=True), quantity="1000")
    api(cust.key, "cancel", orders=str(order_id))
    assert api(cust.key, "balance")["balance"] == "8.00000"
    apply_status(order_id, "Canceled")
    assert api(cust.key, "balance")["balance"] == "10.00000"
    assert api(cust.key, "status", order=order_id)["charge"] == "0.00000"


def test_cancel_accepts_a_single_order_field_too(api, customer, service, place):
    cust = customer()
    order_id = place(cust, service(cancel=True))
    assert api(cust.key, "cancel", order=str(order_id)) == [{"order": order_id, "cancel": 1}]


def test_cancel_without_ids_is_an_incorrect_request(api, customer):
    assert api(customer().key, "cancel") == {"error": "Incorrect request"}


# --- encodings and paths ---------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("via", [*ENCODINGS, "multipart"])
def test_every_encoding_and_both_paths_behave_alike(api, customer, service, via, path):
    cust = customer("10")
    svc = service(rate="1", min=10, max=1000, refill=True, cancel=True, name="Likes", category="Cat")

    services = api(cust.key, "services", via=via, path=path)
    assert services == [
        {
            "service": svc.pk,
            "name": "Likes",
            "type": "Default",
            "category": "Cat",
            "rate": "1",
            "min": "10",
            "max": "1000",
            "refill": True,
            "cancel": True,
            "dripfeed": False,
        }
    ]
    added = api(cust.key, "add", via=via, path=path, service=str(svc.pk), link="https://example.com/x", quantity="500")
    order_id = added["order"]
    assert api(cust.key, "balance", via=via, path=path) == {"balance": "9.50000", "currency": "USD"}
    assert api(cust.key, "status", via=via, path=path, order=str(order_id))["status"] == "Pending"
    assert list(api(cust.key, "status", via=via, path=path, orders=f"{order_id},424242")) == [str(order_id), "424242"]
    assert api(cust.key, "cancel", via=via, path=path, orders=str(order_id)) == [{"order": order_id, "cancel": 1}]
    apply_status(order_id, "Completed")
    refill = api(cust.key, "refill", via=via, path=path, order=str(order_id))
    assert api(cust.key, "refill_status", via=via, path=path, refills=refill["refill"]) == [
        {"refill": int(refill["refill"]), "status": "Pending"}
    ]
    assert api("bad", "balance", via=via, path=path) == {"error": "Invalid API key"}


def test_the_api_never_redirects_through_djangos_full_stack(client, customer, settings):
    # The Django route (the test client, runserver) passes every middleware. With the
    # redirecting ones switched on, a POST to either path must still be answered, not
    # redirected (a client following a 301 would re-send it as a GET, without its body).
    settings.APPEND_SLASH = True
    settings.SECURE_SSL_REDIRECT = True
    cust = customer("1")
    for path in PATHS:
        response = client.post(path, data={"key": cust.key, "action": "balance"})
        assert parsed(response) == {"balance": "1.00000", "currency": "USD"}, path
    # The control: the same middleware does redirect the other pages.
    assert client.post("/admin/login/").status_code == 301  # SecurityMiddleware: to https
    settings.SECURE_SSL_REDIRECT = False
    assert client.get("/admin").status_code == 301  # CommonMiddleware: APPEND_SLASH


def test_the_api_never_redirects_through_gunicorn_behind_https(tmp_path):
    server = PanelServer(f"sqlite:///{tmp_path}/redirects.sqlite3", tmp_path)
    # A deployment's https settings: SSL redirect on, and no proxy header in these requests.
    server.env.update({"SITE_URL": "https://panel.example.com", "SECRET_KEY": "s" * 60})
    server.manage("migrate", "--noinput")
    server.start(workers=1, threads=2)
    try:
        with httpx.Client(headers={"Host": "panel.example.com"}, follow_redirects=False, timeout=30) as http:
            for path in PATHS:
                response = http.post(f"http://127.0.0.1:{server.port}{path}", data={"key": "x", "action": "balance"})
                assert response.status_code == 200, (path, response.status_code, response.headers)
                assert response.json() == {"error": "Invalid API key"}
            # The control: the browser pages do go through the redirecting middleware.
            admin = http.get(f"http://127.0.0.1:{server.port}/admin/login/")
            assert admin.status_code == 301 and admin.headers["location"].startswith("https://panel.example.com/")
    finally:
        server.stop()


def test_json_clients_may_send_numbers_and_arrays(api, customer, service, place):
    cust = customer("10")
    svc = service(rate="1")
    added = api(cust.key, "add", via="json", service=svc.pk, link="https://example.com/j", quantity=100)
    other = place(cust, svc)
    body = api(cust.key, "status", via="json", orders=[added["order"], other, 424242])
    assert list(body) == [str(added["order"]), str(other), "424242"]
    assert api(cust.key, "status", via="json", order=added["order"])["status"] == "Pending"


def test_query_string_and_body_fields_combine(wsgi_client, customer):
    cust = customer("2")
    response = wsgi_client.post(f"/api/v2?key={cust.key}", data={"action": "balance"})
    assert parsed(response) == {"balance": "2.00000", "currency": "USD"}


def test_non_ascii_text_comes_back_unescaped(wsgi_client, customer, service):
    cust = customer()
    service(name="Подписчики ❤", category="Категория")
    response = call_api(wsgi_client, {"key": cust.key, "action": "services"})
    assert "Подписчики ❤".encode() in response.content
    assert parsed(response)[0]["category"] == "Категория"


# --- isolation between customers --------------------------------------------------------------


def test_another_customers_order_is_indistinguishable_from_a_missing_one(api, customer, service, place):
    alice, bob = customer(), customer()
    svc = service(refill=True, cancel=True)
    order_id = place(alice, svc)
    done = completed_order(place, alice, svc)
    missing = "987654321"

    assert (
        api(bob.key, "status", order=order_id)
        == api(bob.key, "status", order=missing)
        == {"error": "Incorrect order ID"}
    )
    assert api(bob.key, "status", orders=f"{order_id},{missing}") == {
        str(order_id): {"error": "Incorrect order ID"},
        missing: {"error": "Incorrect order ID"},
    }
    assert api(bob.key, "refill", order=done) == api(bob.key, "refill", order=missing)
    assert api(bob.key, "refill", orders=str(done)) == [{"order": done, "refill": {"error": "Incorrect order ID"}}]
    assert api(bob.key, "cancel", orders=f"{order_id},{missing}") == [
        {"order": order_id, "cancel": {"error": "Incorrect order ID"}},
        {"order": int(missing), "cancel": {"error": "Incorrect order ID"}},
    ]
    # Alice's orders are untouched by Bob's attempts.
    assert Order.objects.get(pk=order_id).cancel_requested_at is None
    assert not Refill.objects.exists()
    assert api(alice.key, "status", order=order_id)["status"] == "Pending"


def test_another_customers_refill_is_indistinguishable_from_a_missing_one(api, customer, service, place):
    alice, bob = customer(), customer()
    refill_id = api(alice.key, "refill", order=completed_order(place, alice, service(refill=True)))["refill"]

    assert api(bob.key, "refill_status", refill=refill_id) == {"error": "Refill not found"}
    assert api(bob.key, "refill_status", refills=refill_id) == [
        {"refill": int(refill_id), "status": {"error": "Refill not found"}}
    ]
    assert api(alice.key, "refill_status", refill=refill_id) == {"status": "Pending"}


def test_each_customer_sees_only_their_own_balance(api, customer):
    alice, bob = customer("7"), customer("3")
    assert api(alice.key, "balance")["balance"] == "7.00000"
    assert api(bob.key, "balance")["balance"] == "3.00000"


def test_the_same_link_is_free_for_another_customer(api, customer, service):
    alice, bob = customer(), customer()
    svc = service()
    link = new_link()
    assert "order" in api(alice.key, "add", service=svc.pk, link=link, quantity="100")
    assert "order" in api(bob.key, "add", service=svc.pk, link=link, quantity="100")
