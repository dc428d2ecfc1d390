"""The funds page: balance, the ledger with its running balance, keyset pages, the CSV export."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from smmpanel.ledger.models import Kind, LedgerEntry
from smmpanel.ledger.services import adjust, deposit
from smmpanel.orders import services
from smmpanel.orders.models import Status
from smmpanel.paging import PAGE_SIZE

pytestmark = pytest.mark.django_db


def entry_ids(response) -> list[int]:
    import re

    return [int(pk) for pk in re.findall(r'id="entry-(\d+)"', response.content.decode())]


def csv_rows(response) -> list[dict]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_page_shows_the_balance_and_each_movement_with_the_balance_it_left(client, customer, service, place):
    cust = customer("10")
    svc = service(rate="2", min=100, max=1000)
    order = place(cust, svc, quantity=500)  # charged 1.00000
    adjust(cust.account, Decimal("-0.5"), memo="correction")
    client.force_login(cust.user)
    body = client.get("/funds/").content.decode()
    assert 'id="balance">8.50 USD' in body
    # Newest first: the adjustment, the charge, the opening deposit — each with the balance after it.
    rows = list(LedgerEntry.objects.filter(account=cust.account).order_by("-id"))
    assert [r.kind for r in rows] == [Kind.ADJUSTMENT, Kind.CHARGE, Kind.DEPOSIT]
    positions = [body.index(f'id="entry-{r.pk}"') for r in rows]
    assert positions == sorted(positions)
    for row, amount, after in zip(rows, ["-0.50", "-1.00", "+10.00"], ["8.50", "9.00", "10.00"], strict=True):
        chunk = body[body.index(f'id="entry-{row.pk}"') :].split("</tr>")[0]
        assert f'<td class="num">{amount}</td>' in chunk
        assert f'<td class="num">{after}</td>' in chunk
    assert f'href="/orders/{order}/"' in body
    assert "contact the panel's owner" in body  # how funds are added, until payments exist


def test_pages_go_by_keyset_without_counting_or_skipping_rows(client, customer):
    cust = customer("0")
    for n in range(PAGE_SIZE * 2 + 20):
        deposit(cust.account, Decimal(1), memo=f"d{n}")
    all_ids = list(LedgerEntry.objects.filter(account=cust.account).order_by("-id").values_list("id", flat=True))
    client.force_login(cust.user)

    with CaptureQueriesContext(connection) as queries:
        first = client.get("/funds/")
    ledger_sql = [q["sql"].upper() for q in queries.captured_queries if "LEDGER" in q["sql"].upper()]
    assert ledger_sql and not any("COUNT(" in sql or "OFFSET" in sql for sql in ledger_sql)
    assert entry_ids(first) == all_ids[:PAGE_SIZE]
    assert f"?before={all_ids[PAGE_SIZE - 1]}" in first.content.decode()
    assert "?after=" not in first.content.decode()

    second = client.get(f"/funds/?before={all_ids[PAGE_SIZE - 1]}")
    assert entry_ids(second) == all_ids[PAGE_SIZE : 2 * PAGE_SIZE]
    third = client.get(f"/funds/?before={all_ids[2 * PAGE_SIZE - 1]}")
    assert entry_ids(third) == all_ids[2 * PAGE_SIZE :]
    assert "?before=" not in third.content.decode()  # the oldest page

    # Back from the third page: the second page again, rows for rows.
    back = client.get(f"/funds/?after={all_ids[2 * PAGE_SIZE]}")
    assert entry_ids(back) == all_ids[PAGE_SIZE : 2 * PAGE_SIZE]
    assert client.get(f"/funds/?after={all_ids[PAGE_SIZE]}").status_code == 200
    assert entry_ids(client.get(f"/funds/?after={all_ids[PAGE_SIZE]}")) == all_ids[:PAGE_SIZE]
    # A cursor that is not a number is ignored: the newest page.
    assert entry_ids(client.get("/funds/?before=abc")) == all_ids[:PAGE_SIZE]


def test_the_csv_export_holds_the_whole_ledger_oldest_first_with_running_balances(client, customer, service, place):
    cust = customer("20")
    svc = service(rate="3", min=10, max=1000)
    place(cust, svc, quantity=100)  # 0.30000
    adjust(cust.account, Decimal("-1.25"), memo='=HYPERLINK("http://evil")')
    deposit(cust.account, Decimal("4.5"), memo="bank transfer")
    client.force_login(cust.user)
    response = client.get("/funds/ledger.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="ledger-')
    rows = csv_rows(response)
    assert [r["kind"] for r in rows] == ["deposit", "charge", "adjustment", "deposit"]
    assert [r["amount"] for r in rows] == ["20.00000", "-0.30000", "-1.25000", "4.50000"]
    assert [r["balance_after"] for r in rows] == ["20.00000", "19.70000", "18.45000", "22.95000"]
    running = Decimal(0)
    for row in rows:
        running += Decimal(row["amount"])
        assert Decimal(row["balance_after"]) == running
    assert running == cust.balance()
    assert rows[1]["order"] == str(cust.orders().get().pk)
    # A memo a spreadsheet would run as a formula is exported as text.
    assert rows[2]["memo"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["time"].endswith("+00:00")


def test_the_csv_streams_a_large_ledger_in_chunks(client, customer):
    cust = customer("0")
    LedgerEntry.objects.bulk_create(
        LedgerEntry(account=cust.account, kind=Kind.DEPOSIT, amount=Decimal(1), balance_after=Decimal(n + 1))
        for n in range(5000)
    )
    client.force_login(cust.user)
    with CaptureQueriesContext(connection) as queries:
        rows = csv_rows(client.get("/funds/ledger.csv"))
    assert len(rows) == 5000
    assert rows[-1]["balance_after"] == "5000.00000"
    # Read in chunks (an iterator), not one query holding the whole ledger at once … on SQLite
    # Django fetches chunk by chunk from one cursor; either way no query counts the rows.
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)


def test_another_customer_s_movements_are_never_shown(client, customer):
    mine, theirs = customer("7"), customer("1234.5")
    deposit(theirs.account, Decimal("1"), memo="their secret memo")
    client.force_login(mine.user)
    page = client.get("/funds/").content.decode()
    assert "their secret memo" not in page and "1234.50" not in page
    theirs_first = LedgerEntry.objects.filter(account=theirs.account).order_by("id").first().pk
    # Their row ids as cursors show nothing of theirs either.
    assert "their secret memo" not in client.get(f"/funds/?before={theirs_first + 10}").content.decode()
    exported = csv_rows(client.get("/funds/ledger.csv"))
    assert [r["amount"] for r in exported] == ["7.00000"]


def test_a_memo_with_markup_is_shown_as_text(client, customer):
    cust = customer("1")
    deposit(cust.account, Decimal("1"), memo="<img src=x onerror=alert(1)>")
    client.force_login(cust.user)
    body = client.get("/funds/").content.decode()
    assert "<img src=x" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


def test_the_csv_gives_times_in_the_customer_s_time_zone(client, customer):
    cust = customer("3")
    entry = LedgerEntry.objects.get(account=cust.account)
    LedgerEntry.objects.filter(pk=entry.pk).update(created=datetime(2026, 3, 1, 23, 15, tzinfo=UTC))
    client.force_login(cust.user)
    client.post("/settings/", {"email": "c@example.com", "time_zone": "Asia/Tokyo"})
    response = client.get("/funds/ledger.csv")
    assert csv_rows(response)[0]["time"] == "2026-03-02T08:15:00+09:00"
    assert 'filename="ledger-' in response["Content-Disposition"]


def test_a_refund_says_why_once(client, customer, service, place):
    cust = customer("10")
    order_id = place(cust, service(rate="2", min=100, max=1000), quantity=500)
    services.apply_status(order_id, Status.CANCELED)
    client.force_login(cust.user)
    body = client.get("/funds/").content.decode()
    refund = LedgerEntry.objects.get(order_id=order_id, kind=Kind.REFUND)
    row = body.split(f'id="entry-{refund.pk}"')[1].split("</tr>")[0]
    assert f"Order #{order_id}: canceled" in row
    assert row.count("canceled") == 1
