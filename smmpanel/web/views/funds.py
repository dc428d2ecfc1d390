"""The funds page (balance and the ledger with its running balance) and the ledger's CSV export.

Every ledger row stores the balance it left (balance_after, written in the
same statement as the balance itself), so the running balance is read, never
summed. Pages go by keyset on the row id (?before= older, ?after= newer)
through the (account, -id) index: page 2,000 of a 100,000-row ledger costs what
page 1 does, and nothing counts the whole ledger. The export streams rows from
a database iterator, so its memory does not grow with the ledger.
"""

import csv
from datetime import datetime, tzinfo

from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from smmpanel.ledger.models import LedgerEntry
from smmpanel.ledger.money import format_money
from smmpanel.payments import gateways
from smmpanel.payments.models import Payment
from smmpanel.web.context import customer_account

PAGE_SIZE = 25
CSV_CHUNK = 2000
# A spreadsheet runs a cell starting with one of these as a formula: memos are text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cursor(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


def ledger_page(account_id: int, before: int | None = None, after: int | None = None):
    """(rows newest first, a newer page exists, an older page exists) for one page of an account's ledger.

    Ledger rows are never deleted, so the row a cursor names still exists: coming
    from a newer page there is one, coming from an older page there is one too.
    """
    rows = LedgerEntry.objects.filter(account_id=account_id)
    if after is not None:
        # Newer rows, taken oldest first from the cursor, shown newest first.
        page = list(rows.filter(id__gt=after).order_by("id")[: PAGE_SIZE + 1])
        return page[:PAGE_SIZE][::-1], len(page) > PAGE_SIZE, True
    if before is not None:
        rows = rows.filter(id__lt=before)
    page = list(rows.order_by("-id")[: PAGE_SIZE + 1])
    return page[:PAGE_SIZE], before is not None, len(page) > PAGE_SIZE


@login_required
def funds(request):
    account = customer_account(request)
    rows, has_newer, has_older = ledger_page(
        account.pk, before=_cursor(request, "before"), after=_cursor(request, "after")
    )
    context = {
        "account": account,
        "rows": rows,
        "newer": rows[0].pk if rows and has_newer else None,
        "older": rows[-1].pk if rows and has_older else None,
        # How to add funds: the gateways the owner enabled, else the owner by hand (see views/payments.py).
        "can_add": bool(gateways.enabled()),
        "has_payments": Payment.objects.filter(account_id=account.pk).exists(),
    }
    return render(request, "web/funds.html", context)


class _Line:
    """csv.writer's file: hands back each line instead of keeping it."""

    def write(self, line: str) -> str:
        return line


def _text_cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def ledger_lines(account_id: int, tz: tzinfo):
    """The CSV's lines, oldest row first: id, time (ISO 8601 in `tz`), kind, amount, balance, order, reason, memo."""
    writer = csv.writer(_Line())
    yield writer.writerow(["id", "time", "kind", "amount", "balance_after", "order", "reason", "memo"])
    rows = (
        LedgerEntry.objects.filter(account_id=account_id)
        .order_by("id")
        .values_list("id", "created", "kind", "amount", "balance_after", "order_id", "reason", "memo")
    )
    for pk, created, kind, amount, balance_after, order_id, reason, memo in rows.iterator(chunk_size=CSV_CHUNK):
        when: datetime = timezone.localtime(created, tz)
        yield writer.writerow(
            [
                pk,
                when.isoformat(timespec="seconds"),
                kind,
                format_money(amount),
                format_money(balance_after),
                order_id or "",
                reason,
                _text_cell(memo),
            ]
        )


@login_required
def ledger_csv(request):
    account = customer_account(request)
    # The body is produced after the middleware has returned (and reset the time zone): take it now.
    tz = timezone.get_current_timezone()
    response = StreamingHttpResponse(ledger_lines(account.pk, tz), content_type="text/csv; charset=utf-8")
    filename = timezone.localdate(timezone=tz).strftime("ledger-%Y-%m-%d.csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
