"""The funds page (balance and the ledger with its running balance) and the ledger's CSV export.

Every ledger row stores the balance it left (balance_after, written in the
same statement as the balance itself), so the running balance is read, never
summed. Pages go by keyset on the row id (smmpanel.paging) through the
(account, -id) index. The export streams rows from
a database iterator, so its memory does not grow with the ledger.
"""

import csv
from datetime import datetime, tzinfo

from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from smmpanel.ids import parse_id
from smmpanel.ledger.models import LedgerEntry
from smmpanel.ledger.money import format_money
from smmpanel.paging import keyset_page
from smmpanel.payments import gateways
from smmpanel.payments.models import Payment
from smmpanel.web.context import customer_account

CSV_CHUNK = 2000
# A spreadsheet runs a cell starting with one of these as a formula: memos are text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cursor(request, name: str) -> int | None:
    return parse_id(request.GET.get(name, ""))


@login_required
def funds(request):
    account = customer_account(request)
    rows = LedgerEntry.objects.filter(account_id=account.pk)
    page = keyset_page(rows, before=_cursor(request, "before"), after=_cursor(request, "after"))
    context = {
        "account": account,
        "rows": page.rows,
        "newer": page.newer,
        "older": page.older,
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
