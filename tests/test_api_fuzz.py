"""Arbitrary input at every action in every encoding: always HTTP 200 JSON, money always conserved."""

import json
import os
from decimal import Decimal
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smmpanel.orders.errors import OrderError
from smmpanel.orders.models import Order
from smmpanel.orders.services import add_post_order, apply_status
from tests.conftest import ORDER_EXAMPLES, call_api, money_is_conserved

ACTIONS = ["services", "add", "status", "refill", "refill_status", "cancel", "balance"]
FIELDS = sorted(
    {
        "key",
        "action",
        "service",
        "link",
        "quantity",
        "runs",
        "interval",
        "order",
        "orders",
        "refill",
        "refills",
        "username",
        "min",
        "max",
        "posts",
        "old_posts",
        "delay",
        "expiry",
        *(name for _, params, *_ in ORDER_EXAMPLES.values() for name in params),
    }
)
ODD_TEXT = [
    "",
    " ",
    "\x00",
    "0",
    "-1",
    "+1",
    "1.5",
    "1e400",
    "²",
    "١٢",
    "１",
    "NaN",
    "Infinity",
    "9" * 19,
    "9" * 400,
    "1,2,,3",
    ",",
    "\r\n",
    "\n\n",
    "%00",
    "<script>",
    "' OR 1=1 --",
    "https://example.com/" + "a" * 600,
    "31/02/2099",
    "00/00/0000",
]

# A few hundred examples in all keeps the suite fast; raise it for a deeper run.
EXAMPLES = int(os.environ.get("SMMPANEL_FUZZ_EXAMPLES", "110"))
fuzz_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

any_char = st.characters(exclude_categories=[])  # surrogates and NUL included
any_text = st.one_of(st.text(any_char, max_size=30), st.sampled_from(ODD_TEXT))
huge = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40), st.floats(allow_nan=True, allow_infinity=True), st.booleans()
)
json_value = st.recursive(
    st.one_of(st.none(), any_text, huge),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=3)),
    max_leaves=6,
)


def _encodable(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


@pytest.fixture
def world(wsgi_client, customer, service):
    """Two customers, a service of every type, and a few orders to aim at."""
    alice, bob = customer("1000"), customer("3")
    services = {}
    for type_name, (svc_fields, *_rest) in ORDER_EXAMPLES.items():
        services[type_name] = service(
            type_name, **{**svc_fields, "refill": True, "cancel": True, "dripfeed": type_name == "Default"}
        )
    for type_name in ("Default", "Subscriptions", "Poll"):
        _, params, *_ = ORDER_EXAMPLES[type_name]
        for cust in (alice, bob):
            body = json.loads(
                call_api(
                    wsgi_client, {"key": cust.key, "action": "add", "service": services[type_name].pk, **params}
                ).content
            )
            assert "order" in body or body == {"error": "Not enough funds on balance"}, body
    return {"customers": [alice, bob], "services": services}


def _existing_id(index: int) -> int:
    ids = list(Order.objects.order_by("pk").values_list("pk", flat=True)) or [1]
    return ids[index % len(ids)]


@st.composite
def requests(draw, world):
    """A request's fields: a sensible template, then some fields replaced by junk, added or dropped."""
    customers, services = world["customers"], world["services"]
    # Draws must not depend on the database (Hypothesis replays them): draw an index,
    # then map it onto whatever orders (or refills, whose ids are alike) exist now.
    ids = st.one_of(st.integers(0, 50).map(_existing_id), st.integers(0, 10**6))
    id_text = st.one_of(ids.map(str), any_text)
    id_list = st.lists(id_text, max_size=8).map(",".join)

    action = draw(st.sampled_from(ACTIONS))
    fields = {"key": draw(st.sampled_from([c.key for c in customers])), "action": action}
    if action == "add":
        type_name = draw(st.sampled_from(list(ORDER_EXAMPLES)))
        fields["service"] = services[type_name].pk
        fields.update(ORDER_EXAMPLES[type_name][1])
        if draw(st.booleans()) and "link" in fields:
            fields["link"] = f"https://example.com/fuzz/{draw(st.integers(0, 30))}"
        if type_name == "Default" and draw(st.booleans()):
            fields.update(runs=str(draw(st.integers(1, 5))), interval="5")
    elif action in ("status", "refill", "cancel"):
        fields["orders" if draw(st.booleans()) else "order"] = draw(st.one_of(id_text, id_list))
    elif action == "refill_status":
        fields["refills" if draw(st.booleans()) else "refill"] = draw(st.one_of(id_text, id_list))

    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        fields[name] = draw(json_value)
    for name in draw(st.lists(st.sampled_from(sorted(fields)), max_size=2, unique=True)):
        del fields[name]
    for name, value in draw(st.dictionaries(any_text, json_value, max_size=2)).items():
        fields.setdefault(name, value)
    return fields


def _as_form(fields: dict) -> dict:
    """Form and query strings carry text only (and no unencodable surrogates)."""
    out = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[_encodable(name)] = [_encodable(v) for v in value]  # a repeated field
        else:
            out[_encodable(name)] = _encodable(value if isinstance(value, str) else json.dumps(value))
    return out


def send(client, via: str, fields: dict):
    if via == "json":
        return client.post("/api/v2", data=json.dumps(fields), content_type="application/json")
    return call_api(client, _as_form(fields), via=via, path="/api/v2" if len(fields) % 2 else "/api/v2/")


def check_answer(response):
    assert response.status_code == 200, (response.status_code, response.content[:300])
    assert response["Content-Type"].split(";")[0] == "application/json"
    body = json.loads(response.content)
    errors_are_well_formed(body)
    return body


def errors_are_well_formed(value) -> None:
    """Every error in an answer is {"error": "<words>"} and nothing else: the whole answer's, or one inside a
    list's items (refill, cancel, refill_status of many ids) or a dict's values (status of many ids).
    Every item of a list answer is an object (services, and the per-id answers)."""
    if isinstance(value, list):
        for item in value:
            assert isinstance(item, dict), value
            errors_are_well_formed(item)
    elif isinstance(value, dict):
        if "error" in value:
            assert list(value) == ["error"] and isinstance(value["error"], str) and value["error"], value
        for inner in value.values():
            errors_are_well_formed(inner)


def check_money(world):
    for cust in world["customers"]:
        money_is_conserved(cust)


@st.composite
def settlements(draw):
    """Sometimes an order ends (refunds) or a subscription makes an order, between requests."""
    if not draw(st.booleans()):
        return None
    order_id = _existing_id(draw(st.integers(0, 50)))
    status = draw(st.sampled_from(["In progress", "Completed", "Partial", "Canceled", "Paused", "Expired"]))
    return order_id, status, draw(st.integers(0, 10**6))


def settle(step):
    if step is None:
        return
    order_id, status, remains = step
    order = Order.objects.get(pk=order_id)
    if order.is_subscription and status == "Paused":
        old = bool(remains % 2)
        number = (order.old_posts_done if old else order.posts_done) + 1
        add_post_order(order_id, number=number, link="https://example.com/post", quantity=remains % 300 + 1, old=old)
        return
    try:
        apply_status(order_id, status, remains=remains)
    except OrderError as e:
        # A change the transition table refuses (an order to Expired, a subscription to In progress …)
        # changes nothing at all.
        assert e.code == "bad_transition"  # noqa: PT017 - a step of the state machine, not a test of the raise
        after = Order.objects.get(pk=order_id)
        assert (after.status, after.remains, after.refunded) == (order.status, order.remains, order.refunded)


@pytest.mark.parametrize("via", ["form", "json", "get"])
def test_any_request_gets_a_json_answer_and_never_moves_money_wrongly(wsgi_client, world, via):
    @fuzz_settings
    @given(data=st.data())
    def run(data):
        fields = data.draw(requests(world), label="fields")
        check_answer(send(wsgi_client, via, fields))
        settle(data.draw(settlements(), label="settle"))
        check_money(world)

    run()


body_types = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
    "",
    "application/json; charset=latin-1",
    "application/x-www-form-urlencoded; charset=iso-8859-1",
    "multipart/form-data; boundary=b",
]


# Through the production entry point and through Django's URL route (the same endpoint behind both).
@pytest.mark.parametrize("entry", ["wsgi_client", "client"])
@fuzz_settings
@given(
    body=st.one_of(
        st.binary(max_size=200),
        json_value.map(lambda v: json.dumps(v).encode()),
        st.text(any_char, max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")),
    ),
    content_type=st.sampled_from(body_types),
    query=st.binary(max_size=60),
)
def test_any_raw_body_or_query_string_gets_a_json_answer(request, entry, world, body, content_type, query):
    client = request.getfixturevalue(entry)
    qs = quote_from_bytes(query, safe="=&")
    check_answer(client.generic("POST", f"/api/v2?{qs}", data=body, content_type=content_type))
    check_answer(client.generic("GET", f"/api/v2/?{qs}"))
    check_money(world)


def test_the_fuzzed_world_still_answers_sensibly(api, world):
    # A sanity check that the fuzz setup itself places orders the fuzzer can aim at.
    alice = world["customers"][0]
    assert Order.objects.filter(account_id=alice.account.pk).count() == 3
    assert Decimal(api(alice.key, "balance")["balance"]) < Decimal(1000)


@pytest.mark.parametrize(
    "answer",
    [
        [{"order": 1, "refill": {"error": ""}}],  # an empty error inside a list's item
        [{"order": 1, "cancel": {"error": "Incorrect order ID", "code": 3}}],  # more than the error
        {"10": {"error": None}},  # an error that is no words, inside a dict's value
        [1, 2],  # a list answer whose items are not objects
    ],
)
def test_the_answer_check_looks_inside_list_items_and_dict_values(answer):
    with pytest.raises(AssertionError):
        errors_are_well_formed(answer)
