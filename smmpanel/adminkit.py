"""What several admin pages share: a read-only page for history tables, and a link to an order by its id."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _


class HistoryAdmin(admin.ModelAdmin):
    """A table of history (ledger rows, order events): listed and read, never added, changed or deleted here.

    Big tables: no full COUNT per page and no counts per filter choice (each would scan the table).
    """

    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description=_("order"), ordering="order_id")
    def order_link(self, row):
        # By id: str(row.order) would read every row's order, one query each.
        if row.order_id is None:
            return ""
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:orders_order_change", args=[row.order_id]), row.order_id
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
