"""Admin view of the ledger: read-only, because rows are history.

Paged, newest first, filterable by account (the account page links here with
`?account__id__exact=…`, which the (account, -id) index answers) and kind.
"""

from django.contrib import admin

from smmpanel.adminkit import HistoryAdmin
from smmpanel.ledger.admincolumns import MoneyColumns
from smmpanel.ledger.models import LedgerEntry


@admin.register(LedgerEntry)
class LedgerEntryAdmin(MoneyColumns, HistoryAdmin):
    list_display = ["id", "created", "account", "kind", "amount", "balance_after", "order_link", "reason", "memo"]
    list_filter = ["kind"]
    search_fields = ["account__user__username", "memo", "=order__id"]
    list_select_related = ["account__user"]
    list_per_page = 100
