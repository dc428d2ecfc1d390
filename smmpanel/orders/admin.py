"""Admin for orders and refills: the place where manual fulfilment happens.

Only status, remains and start count can be changed, and the change goes
through the fulfilment's `record_outcome`, so a Partial or Canceled order is
refunded by the same rules as anywhere else.
"""

from django.contrib import admin, messages

from smmpanel.fulfilment import manual
from smmpanel.orders.models import Order, Refill


class NeedsAttention(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", "Yes")]

    def queryset(self, request, queryset):
        return queryset.filter(needs_attention=True) if self.value() == "yes" else queryset


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "account", "service", "link", "total", "charge", "refunded", "status", "remains",
                    "needs_attention", "created"]
    list_filter = [NeedsAttention, "status", "service__fulfilment", "type", "service"]
    search_fields = ["=id", "link", "account__user__username"]
    list_select_related = ["account__user", "service"]
    editable = ["status", "remains", "start_count"]
    readonly_fields = [
        "account", "service", "type", "link", "quantity", "runs", "interval", "total", "params", "charge",
        "refunded", "runs_done", "parent", "paid_by_parent", "posts_done", "old_posts_done",
        "cancel_requested_at", "needs_attention", "attention_note", "created", "updated", "started_at",
        "finished_at", "due_at", "locked_until",
    ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_final:
            return self.readonly_fields + self.editable  # final is final
        return self.readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if not form.changed_data:
            return
        manual.record_outcome(obj, obj.status, remains=obj.remains, start_count=obj.start_count)
        messages.info(request, f"Order #{obj.pk} is now {Order.objects.get(pk=obj.pk).status}.")


@admin.register(Refill)
class RefillAdmin(admin.ModelAdmin):
    list_display = ["id", "order", "account", "status", "created", "updated"]
    list_filter = ["status"]
    search_fields = ["=id", "=order__id", "account__user__username"]
    readonly_fields = ["order", "account", "created", "updated", "due_at", "locked_until"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if "status" in form.changed_data:
            manual.record_refill(obj, obj.status)
