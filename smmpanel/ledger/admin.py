"""Admin view of the ledger: read-only, because rows are history.

Paged, newest first, filterable by account (the account page links here with
`?account__id__exact=…`, which the (account, -id) index answers) and kind.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from smmpanel.ledger.models import LedgerEntry


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ["id", "created", "account", "kind", "amount", "balance_after", "order_link", "reason", "memo"]
    list_filter = ["kind"]
    search_fields = ["account__user__username", "memo", "=order__id"]
    list_select_related = ["account__user"]
    list_per_page = 100
    show_full_result_count = False  # one COUNT of a big ledger is enough
    show_facets = admin.ShowFacets.NEVER  # counts per filter choice would each scan the big table

    @admin.display(description=_("order"), ordering="order_id")
    def order_link(self, entry):
        # By id: str(order) would read every row's order, one query each.
        if entry.order_id is None:
            return ""
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:orders_order_change", args=[entry.order_id]), entry.order_id
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
