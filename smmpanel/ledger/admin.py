"""Admin view of the ledger: read-only, because rows are history."""

from django.contrib import admin

from smmpanel.ledger.models import LedgerEntry


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ["id", "created", "account", "kind", "amount", "balance_after", "order", "reason", "memo"]
    list_filter = ["kind"]
    search_fields = ["account__user__username", "memo", "order__id"]
    list_select_related = ["account__user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
