"""Support tickets from the customer's side: opening one about their orders, the thread, the unread count,
another customer's ticket and orders, the open-ticket cap, the message rate limit, escaping and the body limit,
and the hook the owner's alerts listen to."""

import re

import pytest
from django.core import mail
from django.core.cache import caches
from django.db import IntegrityError, transaction
from django.urls import reverse

from smmpanel.orders import services as order_services
from smmpanel.orders.validation import validate_order
from smmpanel.tickets import services, signals
from smmpanel.tickets.errors import TicketError
from smmpanel.tickets.models import BODY_MAX, State, Ticket, TicketMessage

from .conftest import new_link

pytestmark = pytest.mark.django_db

NEW = reverse("web:ticket-new")


@pytest.fixture(autouse=True)
def fresh_counts():
    """The message limit counts in the cache under an account id, which another test may have had."""
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def shop(customer, service):
    svc = service(rate="1", fulfilment="manual")

    def order(cust):
        return order_services.place_order(cust.account.pk, validate_order(svc, {"link": new_link(), "quantity": "100"}))

    return order


@pytest.fixture
def shopper(customer, client):
    cust = customer("100")
    cust.user.email = f"{cust.user.username}@example.com"
    cust.user.save()
    client.force_login(cust.user)
    return cust


def open_by_form(client, **fields):
    data = {"kind": "order", "order_ids": "", "request": "", "payment_ref": "", "body": "Hello", **fields}
    return client.post(NEW, data)


def unread_in_menu(client) -> int | None:
    page = client.get(reverse("web:orders")).content.decode()
    found = re.search(r'class="badge unread-count"[^>]*>(\d+)<', page)
    return int(found[1]) if found else None


def test_a_customer_opens_a_ticket_about_two_orders_and_reads_it_in_its_thread(shopper, client, shop):
    first, second = shop(shopper), shop(shopper)
    response = open_by_form(
        client, order_ids=f"{first.pk}, #{second.pk} {first.pk}", request="refill", body="Drop after a day\nplease"
    )
    ticket = Ticket.objects.get(account=shopper.account)
    assert response.status_code == 302 and response["Location"] == reverse("web:ticket", args=[ticket.pk])
    assert sorted(ticket.orders.values_list("pk", flat=True)) == [first.pk, second.pk]
    assert (ticket.kind, ticket.request, ticket.state) == ("order", "refill", State.OPEN)
    page = client.get(response["Location"]).content.decode()
    assert "Drop after a day<br>please" in page and "Refill" in page
    assert f'href="{reverse("web:order", args=[first.pk])}"' in page
    listing = client.get(reverse("web:tickets")).content.decode()
    assert f'id="ticket-{ticket.pk}"' in listing


def test_another_customers_order_is_refused_exactly_like_one_that_does_not_exist(shopper, client, shop, customer):
    theirs = shop(customer("10"))
    missing = theirs.pk + 1000
    answers = []
    for order_id in (theirs.pk, missing):
        response = open_by_form(client, order_ids=str(order_id), request="cancel")
        assert response.status_code == 400
        answers.append(response.content.decode().replace(str(order_id), "N"))
    assert _errors(answers[0]) == _errors(answers[1]) == ["Order N is not one of your orders."]
    assert not Ticket.objects.exists()


def _errors(page: str) -> list[str]:
    return re.findall(r'<ul class="errorlist[^"]*"[^>]*><li>(.*?)</li>', page)


def test_a_ticket_about_orders_needs_an_order_and_a_request(shopper, client, shop):
    response = open_by_form(client, order_ids="", request="refill")
    assert "Give the id of the order" in response.content.decode()
    response = open_by_form(client, order_ids=str(shop(shopper).pk), request="")
    assert "Choose what you ask" in response.content.decode()
    # A payment ticket needs neither, and keeps what the customer typed of the payment.
    response = open_by_form(client, kind="payment", payment_ref="tx-991", order_ids="5", request="refill")
    ticket = Ticket.objects.get()
    assert (ticket.kind, ticket.payment_ref, ticket.request, ticket.orders.count()) == ("payment", "tx-991", "", 0)


def test_another_customers_ticket_is_a_404_for_reading_replying_and_closing(shopper, client, customer, shop):
    other = customer("10")
    theirs = services.open_ticket(other.account.pk, "other", "Mine")
    for url, method in (
        (reverse("web:ticket", args=[theirs.pk]), client.get),
        (reverse("web:ticket-reply", args=[theirs.pk]), client.post),
        (reverse("web:ticket-close", args=[theirs.pk]), client.post),
        (reverse("web:ticket", args=[theirs.pk + 100]), client.get),
    ):
        assert method(url, {"body": "hijack"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == State.OPEN and theirs.messages.count() == 1


def test_a_staff_answer_is_mailed_counted_in_the_menu_until_read_and_the_customer_replies(
    shopper, client, django_user_model, django_capture_on_commit_callbacks
):
    staff = django_user_model.objects.create_user("support", is_staff=True)
    ticket = services.open_ticket(shopper.account.pk, "service", "Is it real followers?")
    assert unread_in_menu(client) is None
    with django_capture_on_commit_callbacks(execute=True):
        services.answer(ticket.pk, staff, "Yes <b>real</b>.", link="https://panel.example/tickets/1/")
    assert [m.to for m in mail.outbox] == [[shopper.user.email]]
    assert "Yes <b>real</b>." in mail.outbox[0].body and f"#{ticket.pk}" in mail.outbox[0].subject
    assert unread_in_menu(client) == 1
    page = client.get(reverse("web:ticket", args=[ticket.pk])).content.decode()
    assert "Yes &lt;b&gt;real&lt;/b&gt;." in page and "Answered" in page
    assert unread_in_menu(client) is None  # read now
    response = client.post(reverse("web:ticket-reply", args=[ticket.pk]), {"body": "Thanks, and the speed?"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == State.OPEN
    assert [m.from_staff for m in ticket.messages.all()] == [False, True, False]


def test_a_closed_ticket_takes_no_reply(shopper, client):
    ticket = services.open_ticket(shopper.account.pk, "other", "Hi")
    assert client.post(reverse("web:ticket-close", args=[ticket.pk])).status_code == 302
    response = client.post(reverse("web:ticket-reply", args=[ticket.pk]), {"body": "Still there?"})
    assert response.status_code == 400 and "This ticket is closed" in response.content.decode()
    assert ticket.messages.count() == 1


def test_open_tickets_are_capped_per_customer_and_closing_one_makes_room(shopper, client, customer, settings):
    settings.TICKETS_OPEN_MAX = 2
    first = services.open_ticket(shopper.account.pk, "other", "one")
    services.open_ticket(shopper.account.pk, "other", "two")
    response = open_by_form(client, kind="other", body="three")
    assert response.status_code == 400 and "You have 2 open tickets" in response.content.decode()
    services.open_ticket(customer("0").account.pk, "other", "someone else's counts apart")
    services.close([first.pk])
    assert open_by_form(client, kind="other", body="three").status_code == 302
    assert Ticket.objects.filter(account=shopper.account).exclude(state=State.CLOSED).count() == 2


def test_new_messages_are_rate_limited_per_customer(shopper, client, customer, settings):
    settings.TICKET_MESSAGES_PER_CUSTOMER = "3/h"
    ticket = services.open_ticket(shopper.account.pk, "other", "1")
    reply = reverse("web:ticket-reply", args=[ticket.pk])
    assert client.post(reply, {"body": "2"}).status_code == 302
    assert client.post(reply, {"body": "3"}).status_code == 302
    refused = client.post(reply, {"body": "4"})
    assert refused.status_code == 400 and "Too many messages: please write again in" in refused.content.decode()
    with pytest.raises(TicketError) as refused_too_many_messages:
        services.open_ticket(shopper.account.pk, "other", "a new ticket counts too")
    assert refused_too_many_messages.value.code == "too_many_messages"
    assert ticket.messages.count() == 3 and Ticket.objects.filter(account=shopper.account).count() == 1
    services.open_ticket(customer("0").account.pk, "other", "another customer writes on")


def test_every_text_the_customer_typed_is_shown_escaped(shopper, client):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = open_by_form(client, kind="payment", payment_ref=evil[:90], body=evil)
    page = client.get(response["Location"]).content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_a_message_has_a_length_limit_the_form_the_services_and_the_database_keep(shopper, client):
    too_long = "x" * (BODY_MAX + 1)
    assert open_by_form(client, kind="other", body=too_long).status_code == 400
    with pytest.raises(TicketError) as refused_too_long:
        services.open_ticket(shopper.account.pk, "other", too_long)
    with pytest.raises(TicketError) as refused_empty:
        services.open_ticket(shopper.account.pk, "other", "  \n ")
    assert (refused_too_long.value.code, refused_empty.value.code) == ("too_long", "empty")
    ticket = services.open_ticket(shopper.account.pk, "other", "x" * BODY_MAX)
    for body in (too_long, ""):
        with pytest.raises(IntegrityError), transaction.atomic():
            TicketMessage.objects.create(ticket=ticket, body=body)


def test_the_database_refuses_a_request_or_payment_on_a_ticket_of_another_kind(shopper):
    for fields in ({"kind": "other", "request": "refill"}, {"kind": "order", "payment_ref": "tx"}, {"kind": "?"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Ticket.objects.create(account=shopper.account, **fields)


def test_ticket_opened_is_sent_after_the_commit_and_a_failing_receiver_breaks_nothing(
    shopper, client, shop, django_capture_on_commit_callbacks
):
    heard = []

    def listener(sender, ticket, **kwargs):
        heard.append((ticket.pk, ticket.kind, list(ticket.orders.values_list("pk", flat=True))))

    def broken(sender, **kwargs):
        raise RuntimeError("the alert's server is down")

    order = shop(shopper)
    signals.ticket_opened.connect(listener)
    signals.ticket_opened.connect(broken)
    try:
        with django_capture_on_commit_callbacks(execute=False) as pending:
            response = open_by_form(client, order_ids=str(order.pk), request="speed_up")
        assert heard == []  # nothing before the commit
        for callback in pending:
            callback()
    finally:
        signals.ticket_opened.disconnect(listener)
        signals.ticket_opened.disconnect(broken)
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert heard == [(ticket.pk, "order", [order.pk])]


def test_the_menus_unread_count_costs_a_page_one_query_on_tickets(shopper, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    services.open_ticket(shopper.account.pk, "other", "Hi")
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("web:orders")).status_code == 200
    on_tickets = [q["sql"] for q in queries.captured_queries if "tickets_ticket" in q["sql"]]
    assert len(on_tickets) == 1 and "COUNT(" in on_tickets[0].upper()


def test_an_orders_page_links_to_a_new_ticket_with_the_order_filled_in(shopper, client, shop):
    order = shop(shopper)
    page = client.get(reverse("web:order", args=[order.pk])).content.decode()
    link = f"{NEW}?order={order.pk}"
    assert f'href="{link}"' in page
    form = client.get(link).content.decode()
    assert re.search(rf'name="order_ids" value="{order.pk}"', form)


def test_a_customer_without_an_e_mail_gets_the_answer_in_the_thread_only(
    customer, client, django_user_model, django_capture_on_commit_callbacks
):
    quiet = customer("0")
    client.force_login(quiet.user)
    ticket = services.open_ticket(quiet.account.pk, "other", "Hi")
    with django_capture_on_commit_callbacks(execute=True):
        services.answer(ticket.pk, django_user_model.objects.create_user("support", is_staff=True), "Hello")
    assert mail.outbox == []
    assert unread_in_menu(client) == 1
