"""Manual fulfilment: the owner records outcomes in the admin, and the refund rules still apply."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from smmpanel.orders import services
from smmpanel.orders.models import Order, Refill, Status
from smmpanel.orders.validation import validate_order

from .conftest import money_is_conserved


@pytest.fixture
def admin_client(client, db):
    admin = get_user_model().objects.create_superuser("owner", "owner@example.com", "pw-owner-1")
    client.force_login(admin)
    return client


@pytest.fixture
def manual_order(customer, service):
    cust = customer("10")
    svc = service(rate="2", fulfilment="manual", cancel=True, refill=True)
    order = services.place_order(cust.account.pk, validate_order(svc, {"link": "https://x.test/m", "quantity": "1000"}))
    return cust, order


def edit(admin_client, order, **fields):
    url = f"/admin/orders/order/{order.pk}/change/"
    return admin_client.post(
        url, {"status": order.status, "remains": order.remains, "start_count": order.start_count, **fields}
    )


def test_the_owner_marks_an_order_partial_and_the_customer_is_refunded(admin_client, manual_order):
    cust, order = manual_order
    response = edit(admin_client, order, status="Partial", remains="250", start_count="1200")
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.remains, order.start_count) == (Status.PARTIAL, 250, 1200)
    assert order.refunded == Decimal("0.50000")  # 2.00 × 250 / 1000
    assert cust.balance() == Decimal("8.50000")
    money_is_conserved(cust)


def test_a_final_order_cannot_be_changed_again_from_the_admin(admin_client, manual_order):
    cust, order = manual_order
    edit(admin_client, order, status="Canceled")
    order.refresh_from_db()
    edit(admin_client, order, status="Partial", remains="10")
    order.refresh_from_db()
    assert order.status == Status.CANCELED
    assert cust.balance() == Decimal("10")
    money_is_conserved(cust)


def test_a_cancel_request_on_a_manual_order_needs_the_owners_attention(admin_client, manual_order):
    cust, order = manual_order
    services.request_cancel(cust.account.pk, str(order.pk))
    page = admin_client.get("/admin/orders/order/?attention=yes")
    assert page.status_code == 200
    assert f"/admin/orders/order/{order.pk}/change/" in page.content.decode()
    edit(admin_client, Order.objects.get(pk=order.pk), status="Canceled")
    order.refresh_from_db()
    assert order.status == Status.CANCELED and not order.needs_attention


def test_the_owner_completes_a_refill(admin_client, manual_order):
    cust, order = manual_order
    edit(admin_client, order, status="Completed")
    refill = services.request_refill(cust.account.pk, str(order.pk))
    response = admin_client.post(f"/admin/orders/refill/{refill.pk}/change/", {"status": "Completed"})
    assert response.status_code == 302
    refill.refresh_from_db()
    assert refill.status == Refill.Status.COMPLETED


def test_the_owner_adds_funds_from_the_account_page(admin_client, customer):
    cust = customer("1")
    url = f"/admin/accounts/account/{cust.account.pk}/change/"
    form = {"kind": "deposit", "amount": "4.5", "memo": "paid by bank transfer"}
    assert admin_client.post(url, form).status_code == 302
    assert cust.balance() == Decimal("5.50000")
    money_is_conserved(cust)


@pytest.mark.parametrize(
    "page, shows",
    [
        ("/admin/", ["/admin/orders/order/", "/admin/catalog/service/", "/admin/accounts/account/"]),
        ("/admin/catalog/service/", ["{service}"]),
        ("/admin/catalog/category/", ["{category}"]),
        ("/admin/accounts/account/", ["{username}"]),
        ("/admin/ledger/ledgerentry/", ["test deposit", "{username}"]),
        ("/admin/orders/order/", ["/admin/orders/order/{order}/change/", "https://x.test/m"]),
        ("/admin/orders/refill/", ["0 refills"]),
    ],
)
def test_every_admin_list_opens_and_lists_what_the_panel_holds(admin_client, manual_order, page, shows):
    cust, order = manual_order
    values = {
        "service": order.service.name,
        "category": order.service.category.name,
        "username": cust.user.username,
        "order": order.pk,
    }
    response = admin_client.get(page)
    assert response.status_code == 200
    body = response.content.decode()
    for text in shows:
        assert text.format(**values) in body, (page, text.format(**values))


def test_the_order_service_and_account_pages_show_their_own_record(admin_client, manual_order):
    cust, order = manual_order
    for page, text in [
        (f"/admin/orders/order/{order.pk}/change/", "https://x.test/m"),
        (f"/admin/catalog/service/{order.service_id}/change/", order.service.name),
        (f"/admin/accounts/account/{cust.account.pk}/change/", cust.user.username),
    ]:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert text in response.content.decode(), (page, text)
