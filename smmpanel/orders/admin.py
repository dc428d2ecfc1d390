"""Admin for orders and refills: where manual fulfilment happens and where orders needing attention are settled.

Only status, remains and start count can be changed, and every change goes
through smmpanel.orders.services (as the admin, with the user's name in the
order's history), so a Partial or Canceled order is refunded by the same rules
as anywhere else, exactly once however often the button is pressed.
"""

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from smmpanel.orders import services
from smmpanel.orders.errors import OrderError
from smmpanel.orders.models import Actor, Order, Refill, Status


class NeedsAttention(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", "Yes")]

    def queryset(self, request, queryset):
        return queryset.filter(needs_attention=True) if self.value() == "yes" else queryset


def _table(headers: list[str], rows: list[list]) -> str:
    """A small read-only HTML table (user text escaped) for the order page."""
    if not rows:
        return "—"
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows)
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "account",
        "service",
        "link",
        "total",
        "charge",
        "refunded",
        "status",
        "remains",
        "needs_attention",
        "attention_note",
        "created",
    ]
    list_filter = [NeedsAttention, "status", "service__fulfilment", "type", "service"]
    search_fields = ["=id", "link", "account__user__username"]
    list_select_related = ["account__user", "service"]
    editable = ["status", "remains", "start_count"]
    readonly_fields = [
        "account",
        "service",
        "type",
        "link",
        "quantity",
        "runs",
        "interval",
        "total",
        "params",
        "charge",
        "refunded",
        "runs_done",
        "parent",
        "post_number",
        "post_is_old",
        "paid_by_parent",
        "posts_done",
        "old_posts_done",
        "cancel_requested_at",
        "needs_attention",
        "attention_note",
        "attempts",
        "created",
        "updated",
        "started_at",
        "finished_at",
        "due_at",
        "locked_until",
        "upstream",
        "history",
    ]
    exclude = ["claim_token"]
    actions = ["cancel_and_refund", "look_again", "resend_upstream"]

    def history(self, obj):
        events = obj.events.select_related("user").order_by("id")[:500]
        return _table(
            ["when", "who", "what", "status", "remains", "start count", "words", "refill"],
            [
                [
                    e.created.strftime("%Y-%m-%d %H:%M:%S"),
                    e.actor + (f" ({e.user})" if e.user else ""),
                    e.action,
                    f"{e.old_status} → {e.new_status}" if e.new_status else "",
                    e.remains if e.remains is not None else "",
                    e.start_count if e.start_count is not None else "",
                    e.message,
                    e.refill_id or "",
                ]
                for e in events
            ],
        )

    def upstream(self, obj):
        rows = obj.upstream_orders.select_related("provider").order_by("run")
        return _table(
            ["run", "provider", "state", "upstream id", "status", "remains", "charge", "words", "sent"],
            [
                [
                    u.run,
                    u.provider,
                    u.state,
                    u.upstream_id,
                    u.status,
                    u.remains if u.remains is not None else "",
                    u.charge if u.charge is not None else "",
                    u.message,
                    u.submitted_at.strftime("%Y-%m-%d %H:%M:%S"),
                ]
                for u in rows
            ],
        )

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
        try:
            services.apply_status(
                obj.pk,
                obj.status,
                remains=obj.remains,
                start_count=obj.start_count,
                actor=Actor.ADMIN,
                user=request.user,
                message="Set in the admin.",
            )
        except OrderError as e:
            from smmpanel.orders.messages import message

            messages.error(request, message(e))
            return
        messages.info(request, f"Order #{obj.pk} is now {Order.objects.get(pk=obj.pk).status}.")

    @admin.action(description="Cancel and refund (what is left of the charge)")
    def cancel_and_refund(self, request, queryset):
        done = 0
        for order in queryset:
            if not order.is_final:
                status = Status.PARTIAL if 0 < order.remains < order.total else Status.CANCELED
                if order.is_subscription:
                    status = Status.CANCELED
                services.apply_status(
                    order.pk,
                    status,
                    actor=Actor.ADMIN,
                    user=request.user,
                    message="Canceled and refunded in the admin.",
                )
                done += 1
        messages.info(request, f"{done} order(s) canceled and refunded.")

    @admin.action(description="Look again: clear 'needs attention' and let the worker continue")
    def look_again(self, request, queryset):
        for order in queryset:
            services.resume(order.pk, "Cleared in the admin.", user=request.user)
        messages.info(request, f"{queryset.count()} order(s) handed back to the worker.")

    @admin.action(description="Resend to the provider (placing was ambiguous; you checked it was not placed)")
    def resend_upstream(self, request, queryset):
        from smmpanel.providers import engine

        done = sum(engine.resend(order.pk, user=request.user) for order in queryset)
        messages.info(request, f"{done} order(s) will be sent to their provider again.")


@admin.register(Refill)
class RefillAdmin(admin.ModelAdmin):
    list_display = ["id", "order", "account", "status", "created", "updated"]
    list_filter = ["status"]
    search_fields = ["=id", "=order__id", "account__user__username"]
    readonly_fields = ["order", "account", "created", "updated", "due_at", "locked_until", "attempts"]
    exclude = ["claim_token"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if "status" in form.changed_data:
            try:
                services.apply_refill_status(obj.pk, obj.status, actor=Actor.ADMIN, user=request.user)
            except OrderError as e:
                from smmpanel.orders.messages import message

                messages.error(request, message(e))
