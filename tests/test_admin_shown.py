"""Money and dates read one way in the admin and on the dashboard, as on the customer's pages."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client, db):
    owner = get_user_model().objects.create_superuser("owner", "owner@example.com", "pw-owner-1")
    client.force_login(owner)
    return client


def cell(page: str, row_id: int, field: str) -> str:
    row = page.split(f'value="{row_id}"')[1].split("</tr>")[0]
    return re.search(rf'class="field-{field}[^"]*">(.*?)</t[dh]>', row, re.S)[1]


def test_the_order_and_ledger_lists_show_money_to_the_cent_or_its_last_digit(owner_client, customer, service, place):
    cust = customer("1000")
    order_id = place(cust, service(rate="2.5", min=10, max=1000), quantity=13)  # 0.0325
    Order.objects.filter(pk=order_id).update(created=datetime(2026, 3, 4, 5, 6, tzinfo=UTC))
    page = owner_client.get("/admin/orders/order/").content.decode()
    assert cell(page, order_id, "charge") == "0.0325"
    assert cell(page, order_id, "refunded") == "0.00"
    assert "999.9675 USD" in cell(page, order_id, "account")
    assert cell(page, order_id, "created") == "2026-03-04 05:06"  # the panel's date, not "March 4, 2026, 5:06 a.m."

    deposit = LedgerEntry.objects.filter(account=cust.account).order_by("pk").first()
    ledger = owner_client.get("/admin/ledger/ledgerentry/").content.decode()
    row = ledger.split(f'href="/admin/ledger/ledgerentry/{deposit.pk}/')[1].split("</tr>")[0]
    assert '<td class="field-amount">1000.00</td>' in row and "1000.00000" not in row


def test_the_dashboard_writes_money_as_the_pages_do(owner_client, customer, service, place):
    cust = customer("5000")
    for _ in range(2):
        place(cust, service(rate="1000", min=1, max=1000), quantity=1000)  # 1000 each: 2000 revenue
    body = owner_client.get("/admin/dashboard/").content.decode()
    assert "2000.00 USD" in body and "2,000.00" not in body
    assert Decimal("2000") == sum(Order.objects.values_list("charge", flat=True))
