"""Support tickets from the owner's side: the admin lists them by state and kind, shows the thread with the
orders linked, and staff who may change tickets answer (the customer is mailed) and close; others cannot."""

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.cache import caches
from django.urls import reverse

from smmpanel.orders import services as order_services
from smmpanel.orders.validation import validate_order
from smmpanel.tickets import services
from smmpanel.tickets.models import State, Ticket

from .conftest import new_link

pytestmark = pytest.mark.django_db

LIST = reverse("admin:tickets_ticket_changelist")


@pytest.fixture(autouse=True)
def fresh_counts():
    caches["default"].clear()


@pytest.fixture
def asker(customer, service):
    cust = customer("100")
    cust.user.email = "asker@example.com"
    cust.user.save()
    svc = service(rate="1", fulfilment="manual")
    order = order_services.place_order(cust.account.pk, validate_order(svc, {"link": new_link(), "quantity": "100"}))
    ticket = services.open_ticket(
        cust.account.pk, "order", "Please <b>refill</b>", order_ids=[order.pk], request="refill"
    )
    return cust, order, ticket


@pytest.fixture
def owner(django_user_model, client):
    user = django_user_model.objects.create_superuser("owner", "owner@example.com", "pw")
    client.force_login(user)
    return user


def change_url(ticket) -> str:
    return reverse("admin:tickets_ticket_change", args=[ticket.pk])


def listed(client, query: str = "") -> list[int]:
    response = client.get(LIST + query)
    assert response.status_code == 200
    return sorted(ticket.pk for ticket in response.context["cl"].result_list)


def test_the_list_filters_by_state_and_kind(client, owner, asker):
    cust, _order, about_order = asker
    payment = services.open_ticket(cust.account.pk, "payment", "Paid twice", payment_ref="tx-1")
    closed = services.open_ticket(cust.account.pk, "other", "Never mind")
    services.close([closed.pk])
    assert listed(client) == sorted([about_order.pk, payment.pk, closed.pk])
    assert listed(client, "?state__exact=open") == sorted([about_order.pk, payment.pk])
    assert listed(client, "?state__exact=closed") == [closed.pk]
    assert listed(client, "?kind__exact=payment") == [payment.pk]


def test_the_owner_reads_the_thread_escaped_with_the_orders_linked_answers_and_the_customer_is_mailed(
    client, owner, asker, django_capture_on_commit_callbacks
):
    _cust, order, ticket = asker
    page = client.get(change_url(ticket)).content.decode()
    assert f'href="{reverse("admin:orders_order_change", args=[order.pk])}">#{order.pk}</a>' in page
    assert "Please &lt;b&gt;refill&lt;/b&gt;" in page and "<b>refill</b>" not in page
    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(change_url(ticket), {"answer": "Refill started.", "close_ticket": ""})
    assert saved.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.state, ticket.unread) == (State.ANSWERED, True)
    answer = ticket.messages.last()
    assert (answer.body, answer.from_staff, answer.staff) == ("Refill started.", True, owner)
    assert [m.to for m in mail.outbox] == [["asker@example.com"]]
    assert f"/tickets/{ticket.pk}/" in mail.outbox[0].body and "Refill started." in mail.outbox[0].body
    # Closing from the same form.
    client.post(change_url(ticket), {"answer": "", "close_ticket": "on"})
    ticket.refresh_from_db()
    assert ticket.state == State.CLOSED and ticket.messages.count() == 2


def test_the_close_action_closes_the_selected_tickets(client, owner, asker):
    _cust, _order, ticket = asker
    response = client.post(LIST, {"action": "close_tickets", "_selected_action": [str(ticket.pk)]})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == State.CLOSED


def test_staff_who_may_only_view_tickets_read_them_but_cannot_answer_or_close(client, django_user_model, asker):
    _cust, _order, ticket = asker
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__in=["view_ticket"]))
    client.force_login(viewer)
    page = client.get(change_url(ticket))
    assert page.status_code == 200 and "Please &lt;b&gt;refill&lt;/b&gt;" in page.content.decode()
    assert 'name="answer"' not in page.content.decode()
    assert client.post(change_url(ticket), {"answer": "sneaky", "close_ticket": "on"}).status_code == 403
    client.post(LIST, {"action": "close_tickets", "_selected_action": [str(ticket.pk)]})
    ticket.refresh_from_db()
    assert ticket.state == State.OPEN and ticket.messages.count() == 1
    assert not Ticket.objects.filter(state=State.ANSWERED).exists()
