"""An order's history: placing writes its first line with who placed it; actions come from a fixed set."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from smmpanel.orders import services
from smmpanel.orders.errors import OrderError
from smmpanel.orders.models import Action, Actor, Order, OrderEvent
from smmpanel.orders.validation import validate_order

from .conftest import new_link

pytestmark = pytest.mark.django_db


def placed_by(order_id: int) -> list[str]:
    return list(OrderEvent.objects.filter(order_id=order_id, action=Action.PLACED).values_list("actor", flat=True))


def test_an_order_placed_through_the_api_has_a_placed_line_by_the_api(customer, service, place):
    cust, svc = customer("10"), service(rate="1")
    order_id = place(cust, svc)
    assert placed_by(order_id) == [Actor.API]
    first = OrderEvent.objects.filter(order_id=order_id).order_by("id").first()
    assert first.action == Action.PLACED  # the history starts with the placing


def test_the_web_form_and_the_mass_order_say_who_placed_their_orders(customer, client, service):
    cust, svc = customer("10"), service(rate="1", min=10, max=10000)
    client.force_login(cust.user)
    client.post(reverse("web:new-order"), {"service": svc.pk, "link": "https://x.com/one", "quantity": "100"})
    client.post(reverse("web:mass-order"), {"orders": f"{svc.pk}|https://x.com/two|100\n{svc.pk}|https://x.com/3|100"})
    by_link = {o.link: placed_by(o.pk) for o in Order.objects.filter(account=cust.account)}
    assert by_link == {
        "https://x.com/one": [Actor.WEB],
        "https://x.com/two": [Actor.MASS_ORDER],
        "https://x.com/3": [Actor.MASS_ORDER],
    }


def test_an_order_refused_for_funds_leaves_no_placed_line(customer, service):
    cust, svc = customer("0.5"), service(rate="1")
    with pytest.raises(OrderError) as refused:
        services.place_order(cust.account.pk, validate_order(svc, {"link": new_link(), "quantity": "1000"}))
    assert refused.value.code == "funds"
    assert not OrderEvent.objects.filter(action=Action.PLACED).exists()
    assert not Order.objects.exists()


def test_a_subscription_post_is_placed_by_the_worker(customer, service):
    from .conftest import ORDER_EXAMPLES

    cust = customer("100")
    fields, params, *_ = ORDER_EXAMPLES["Subscriptions"]
    sub = services.place_order(
        cust.account.pk, validate_order(service(type="Subscriptions", fulfilment="manual", **fields), params)
    )
    post = services.add_post_order(sub.pk, number=1, old=False, link=new_link(), quantity=150)
    assert placed_by(sub.pk) == [Actor.API] and placed_by(post.pk) == [Actor.WORKER]


def test_the_database_refuses_an_action_or_actor_not_in_the_set(customer, service, place):
    order_id = place(customer("10"), service(rate="1"))
    for fields in ({"action": "placed upstrem", "actor": Actor.WORKER}, {"action": Action.STATUS, "actor": "robot"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            OrderEvent.objects.create(order_id=order_id, **fields)
    event = OrderEvent(order_id=order_id, action="run 2 refused", actor=Actor.PROVIDER)
    with pytest.raises(ValidationError, match="action"):
        event.full_clean()


def test_the_admin_shows_the_runs_a_drip_feed_delivered(customer, service, client):
    cust = customer("100")
    svc = service(rate="1", fulfilment="manual", dripfeed=True)
    order = services.place_order(
        cust.account.pk, validate_order(svc, {"link": new_link(), "quantity": "100", "runs": "5", "interval": "10"})
    )
    services.apply_status(order.pk, "In progress", remains=250, actor=Actor.ADMIN)  # 250 of 500 delivered: 2 runs
    owner = get_user_model().objects.create_superuser("owner", "owner@example.com", "pw-owner-1")
    client.force_login(owner)
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert '<div class="readonly">2</div>' in page


@pytest.mark.django_db(transaction=True)  # migrates the schema back and forth
def test_history_written_before_the_fixed_set_is_migrated_into_it(customer, service, place):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    order_id = place(customer("10"), service(rate="1"))
    executor = MigrationExecutor(connection)
    # Found by name, not number: numbers change when branches are merged.
    graph = executor.loader.graph
    mine = next(
        key for key in graph.nodes if key[0] == "orders" and key[1].endswith("_history_actions_fixed_runs_done_derived")
    )
    before, after = [p.key for p in graph.node_map[mine].parents if p.key[0] == "orders"], [mine]
    executor.migrate(before)
    try:
        # As the provider engine wrote a refused drip-feed run until now: its number in the action.
        old_event = executor.loader.project_state(before[0]).apps.get_model("orders", "OrderEvent")
        old_event.objects.create(order_id=order_id, action="run 3 refused", actor="provider", message="X refused it")
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(after)
    event = OrderEvent.objects.get(order_id=order_id, action=Action.RUN_REFUSED)
    assert event.message == "Run 3: X refused it"
    event.full_clean()  # valid by the new rules too


def test_placing_with_an_unknown_actor_is_a_programming_error_not_a_duplicate(customer, service):
    cust, svc = customer("10"), service(rate="1")
    with pytest.raises(ValueError, match="robot"):
        services.place_order(
            cust.account.pk, validate_order(svc, {"link": new_link(), "quantity": "100"}), actor="robot"
        )
    assert not Order.objects.exists() and cust.balance() == 10
