"""Admin for orders, refills and their history: manual fulfilment, and orders needing attention settled.

Only status, remains and start count can be changed, and every change goes
through smmpanel.orders.services (as the admin, with the user's name in the
order's history), so a Partial or Canceled order is refunded by the same rules
as anywhere else, exactly once however often the button is pressed: a final
order stays final, and an action on it says that nothing changed.

What each action requires, beyond viewing orders (an action declares it, and
Django offers it to no one else):
- "Cancel and refund", "Mark Completed", "Mark Partial", "Set status…",
  "Look again": orders.change_order (what the order's own page could do);
- "Resend to the provider": orders.resend_order (the provider delivers, and
  charges us, again if the first sending did arrive after all).
Refills' "Mark Completed" and "Mark Rejected": orders.change_refill.
An action asks the order's kind (smmpanel.catalog.fulfilment_kinds) what only the
kind knows: whether it can hand the order back, how to send it again. No action
leaves an order where nobody looks: it ends final, due for the worker, or in
"needs attention" with its reason.

The order list stays usable on a million orders: no full COUNT, filters that
name few rows (needs attention has its own partial index, a customer is an
indexed account), related rows read in the same query.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from smmpanel.adminkit import HistoryAdmin, action_page, has_permission
from smmpanel.ledger.admincolumns import MoneyColumns
from smmpanel.ledger.money import shown_money
from smmpanel.orders import selectors, services
from smmpanel.orders.errors import OrderError
from smmpanel.orders.models import Actor, Order, OrderEvent, Refill, Status

# How much of an order's link its column shows in the list (the rest on hover).
LINK_SHOWN = 40


def _words(error: OrderError) -> str:
    from smmpanel.orders.messages import localized

    return localized(error)


class NeedsAttention(admin.SimpleListFilter):
    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes"))]

    def queryset(self, request, queryset):
        return queryset.filter(needs_attention=True) if self.value() == "yes" else queryset


class ProviderFilter(admin.SimpleListFilter):
    """Orders sent to a provider, or of a service it fulfils now."""

    title = _("provider")
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        from smmpanel.providers.models import Provider

        return [(str(p.pk), p.name) for p in Provider.objects.order_by("name")]

    def queryset(self, request, queryset):
        value = self.value() or ""
        if not value.isdigit():
            return queryset
        from smmpanel.providers.models import UpstreamOrder

        sent = UpstreamOrder.objects.filter(order=OuterRef("pk"), provider_id=int(value))
        return queryset.filter(Q(Exists(sent)) | Q(service__upstream__provider_id=int(value)))


class InputFilter(admin.SimpleListFilter):
    """A list filter typed in rather than picked: a list of every choice would not fit on a big panel."""

    template = "admin/orders/input_filter.html"
    placeholder: str | Promise = ""

    def lookups(self, request, model_admin):
        return [("", "")]  # one dummy choice: Django hides a filter without any

    def choices(self, changelist):
        # What the box's form must carry along: the other filters and the search.
        others = [
            (key, value)
            for key, values in changelist.get_filters_params().items()
            if key != self.parameter_name
            for value in (values if isinstance(values, list) else [values])
        ]
        if changelist.query:
            others.append(("q", changelist.query))
        yield {
            "value": self.value() or "",
            "others": others,
            "parameter_name": self.parameter_name,
            "placeholder": self.placeholder,
        }


class CustomerFilter(InputFilter):
    """A customer by username."""

    title = _("customer")
    parameter_name = "customer"
    placeholder = _("username")

    def queryset(self, request, queryset):
        name = (self.value() or "").strip()
        return queryset.filter(account__user__username=name) if name else queryset


class ServiceFilter(InputFilter):
    """A service by its id (as a customer's ticket or the API names it) or a part of its name.

    A box rather than Django's list of every service (unreadable at 500 services)
    or a list narrowed to services with orders needing attention (which hides the
    service an owner asks about when its orders are fine): it finds any service
    on any panel size, with one indexed lookup for an id.
    """

    title = _("service")
    parameter_name = "service"
    placeholder = _("id or name")

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        if value.isdigit():
            return queryset.filter(service_id=int(value))
        return queryset.filter(service__name__icontains=value)


def _table(headers: list[str], rows: list[list]) -> str:
    """A small read-only HTML table (user text escaped) for the order page."""
    if not rows:
        return "—"
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows)
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


class CountsForm(forms.Form):
    """The questions of "Set status, start count, remains…": empty means leave as it is."""

    status = forms.ChoiceField(
        required=False,
        label=_("Status"),
        choices=[("", _("(leave as it is)"))]
        + [(s.value, s.label) for s in (Status.IN_PROGRESS, Status.PROCESSING, Status.PARTIAL, Status.COMPLETED)],
    )
    start_count = forms.IntegerField(required=False, min_value=0, label=_("Start count"))
    remains = forms.IntegerField(required=False, min_value=0, label=_("Remains"))

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if not data.get("status") and data.get("start_count") is None and data.get("remains") is None:
            raise forms.ValidationError(gettext("Say what to set."))
        return data


class Tally:
    """What a bulk action did, order by order, said back to the admin in one message each way."""

    def __init__(self):
        self.changed: list[int] = []
        self.final: list[int] = []
        self.refused: list[str] = []

    def report(self, modeladmin, request, done: str) -> None:
        if self.changed:
            ids = ", ".join(f"#{i}" for i in self.changed)
            modeladmin.message_user(request, f"{done}: {ids}", messages.SUCCESS)
        if self.final:
            ids = ", ".join(f"#{i}" for i in self.final)
            modeladmin.message_user(
                request,
                gettext("Already final, nothing changed and nothing refunded: %(ids)s") % {"ids": ids},
                messages.WARNING,
            )
        for words in self.refused:
            modeladmin.message_user(request, words, messages.ERROR)


@admin.register(Order)
class OrderAdmin(MoneyColumns, admin.ModelAdmin):
    # What an owner scans first comes first, so that it fits at 1280 px: state and money before who and what.
    list_display = [
        "id",
        "status",
        "needs_attention",
        "charge",
        "remains",
        "account",
        "service",
        "short_link",
        "total",
        "refunded",
        "attention_note",
        "created",
    ]
    list_filter = [
        NeedsAttention,
        "status",
        ProviderFilter,
        CustomerFilter,
        ServiceFilter,
        "service__fulfilment",
        "type",
    ]
    search_fields = ["=id", "link", "=account__user__username"]
    list_select_related = ["account__user", "service"]
    show_full_result_count = False  # a full COUNT(*) of a million orders on every page is not worth it
    show_facets = admin.ShowFacets.NEVER  # counts per filter choice would each scan the big table
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
        "runs_done",  # derived from what remains (the method below), as the customer's pages show it
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
        "refills_of_order",
        "history",
    ]
    exclude = ["claim_token"]
    actions = [
        "cancel_and_refund",
        "mark_completed",
        "mark_partial",
        "set_counts",
        "look_again",
        "resend_upstream",
    ]

    @admin.display(description=_("runs done"))
    def runs_done(self, obj):
        return selectors.runs_done(obj) if obj.runs else "-"

    @admin.display(description=_("history"))
    def history(self, obj):
        events = obj.events.select_related("user").order_by("id")[:500]
        return _table(
            [
                gettext("when"),
                gettext("who"),
                gettext("what"),
                gettext("status"),
                gettext("remains"),
                gettext("start count"),
                gettext("words"),
                gettext("refill"),
            ],
            [
                [
                    localtime(e.created).strftime("%Y-%m-%d %H:%M:%S"),
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

    @admin.display(description=_("upstream orders"))
    def upstream(self, obj):
        rows = obj.upstream_orders.select_related("provider").order_by("run")
        return _table(
            [
                gettext("run"),
                gettext("provider"),
                gettext("state"),
                gettext("upstream id"),
                gettext("status"),
                gettext("remains"),
                gettext("charge"),
                gettext("words"),
            ]
            + [gettext("sent")],
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
                    localtime(u.submitted_at).strftime("%Y-%m-%d %H:%M:%S"),
                ]
                for u in rows
            ],
        )

    @admin.display(description=_("refills"))
    def refills_of_order(self, obj):
        rows = obj.refills.order_by("id")
        return _table(
            [gettext("refill"), gettext("status"), gettext("asked"), gettext("updated")],
            [
                [
                    format_html('<a href="{}">#{}</a>', reverse("admin:orders_refill_change", args=[r.pk]), r.pk),
                    r.status,
                    localtime(r.created).strftime("%Y-%m-%d %H:%M:%S"),
                    localtime(r.updated).strftime("%Y-%m-%d %H:%M:%S"),
                ]
                for r in rows
            ],
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_final:
            return self.readonly_fields + self.editable  # final is final
        return self.readonly_fields

    @admin.display(description=_("link"), ordering="link")
    def short_link(self, order):
        """The link cut to a column's width; the whole link on hover (and on the order's page)."""
        return format_html('<span title="{}">{}</span>', order.link, Truncator(order.link).chars(LINK_SHOWN))

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
            messages.error(request, _words(e))
            return
        messages.info(
            request, gettext("Order #%(id)s is now %(status)s.") % {"id": obj.pk, "status": _status_of(obj.pk)}
        )

    # --- actions: each order through smmpanel.orders.services, a final order left as it is ----------

    def _apply(self, request, queryset, target, message: str, **changes) -> Tally:
        """apply_status(order, target(order)) for each selected order, as this admin."""
        tally = Tally()
        for order in queryset.order_by("id"):
            if order.is_final:
                tally.final.append(order.pk)
                continue
            try:
                after = services.apply_status(
                    order.pk, target(order), actor=Actor.ADMIN, user=request.user, message=message, **changes
                )
            except OrderError as e:
                tally.refused.append(f"#{order.pk}: {_words(e)}")
                continue
            (tally.changed if after.status != order.status or changes else tally.final).append(order.pk)
        return tally

    @admin.action(description=_("Cancel and refund (what is left of the charge)"), permissions=["change"])
    def cancel_and_refund(self, request, queryset):
        """First a page saying what each order would get back, then each order canceled and refunded."""
        if "apply" not in request.POST:
            return action_page(
                self,
                request,
                "admin/orders/order/cancel_and_refund.html",
                gettext("Cancel and refund"),
                queryset.select_related("service").order_by("id"),
            )

        def target(order):
            if not order.is_subscription and 0 < order.remains < order.total:
                return Status.PARTIAL  # part was delivered: refund the rest
            return Status.CANCELED

        before = dict(queryset.values_list("id", "refunded"))
        tally = self._apply(request, queryset, target, "Canceled and refunded in the admin.")
        after = Order.objects.filter(pk__in=tally.changed).values_list("id", "refunded")
        refunded = sum((paid_back - before[pk] for pk, paid_back in after), start=Decimal(0))
        said = gettext("Canceled, %(amount)s USD refunded in all") % {"amount": shown_money(refunded)}
        tally.report(self, request, said)
        return None

    @admin.action(description=_("Mark Completed"), permissions=["change"])
    def mark_completed(self, request, queryset):
        self._apply(request, queryset, lambda o: Status.COMPLETED, "Marked Completed in the admin.").report(
            self, request, gettext("Completed")
        )

    @admin.action(description=_("Mark Partial (refund what remains)"), permissions=["change"])
    def mark_partial(self, request, queryset):
        self._apply(request, queryset, lambda o: Status.PARTIAL, "Marked Partial in the admin.").report(
            self, request, gettext("Partial, what remains refunded")
        )

    @admin.action(description=_("Set status, start count, remains…"), permissions=["change"])
    def set_counts(self, request, queryset):
        """First a page asking the values, then each order through apply_status."""
        form = CountsForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            data = form.cleaned_data
            changes = {k: data[k] for k in ("start_count", "remains") if data[k] is not None}
            tally = self._apply(request, queryset, lambda o: data["status"] or o.status, "Set in the admin.", **changes)
            tally.report(self, request, gettext("Set"))
            return None
        return action_page(
            self,
            request,
            "admin/orders/order/set_counts.html",
            gettext("Set status, start count, remains"),
            queryset.select_related("service"),
            form=form,
        )

    @admin.action(
        description=_("Look again: clear 'needs attention' and let the worker continue"), permissions=["change"]
    )
    def look_again(self, request, queryset):
        tally = Tally()
        for order_id in queryset.order_by("id").values_list("id", flat=True):
            refusal = _hand_back(order_id, request.user)
            if refusal is None:
                tally.changed.append(order_id)
            elif refusal == "final":
                tally.final.append(order_id)
            else:  # left in "needs attention": handed back, it would wait for nobody
                tally.refused.append(
                    gettext("#%(id)s still needs attention: %(why)s.") % {"id": order_id, "why": refusal}
                )
        tally.report(self, request, gettext("Handed back to the worker"))

    def has_resend_permission(self, request):
        return has_permission(self, request, "resend_order")

    @admin.action(
        description=_("Resend to the provider (placing was ambiguous; you checked it was not placed)"),
        permissions=["resend"],
    )
    def resend_upstream(self, request, queryset):
        tally = Tally()
        for order in queryset.select_related("service").order_by("id"):
            sent = not order.is_final and order.service.kind.resend(order.pk, user=request.user)
            (tally.changed if sent else tally.final).append(order.pk)
        if tally.changed:
            tally.report(self, request, gettext("Will be sent to their provider again"))
        if tally.final:
            ids = ", ".join(f"#{i}" for i in tally.final)
            self.message_user(
                request,
                gettext("No ambiguous placing to resend, nothing sent: %(ids)s") % {"ids": ids},
                messages.WARNING,
            )


def _hand_back(order_id: int, user) -> str | None:
    """Clear "needs attention" unless the order's kind says a person must act first: None, "final" or why not.

    The order stays locked from the kind's answer to the change, so a worker
    flagging it meanwhile flags it after (and it stays flagged), never before.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).select_related("service").get(pk=order_id)
        if order.is_final:
            return "final"
        refusal = order.service.kind.resume_refusal(order)
        if refusal:
            return refusal
        services.resume(order_id, "Cleared in the admin.", user=user)
        return None


def _status_of(order_id: int) -> str:
    return Order.objects.filter(pk=order_id).values_list("status", flat=True).get()


@admin.register(Refill)
class RefillAdmin(admin.ModelAdmin):
    list_display = ["id", "order", "account", "status", "created", "updated"]
    list_filter = ["status"]
    search_fields = ["=id", "=order__id", "=account__user__username"]
    list_select_related = ["order", "account__user"]
    readonly_fields = ["order", "account", "created", "updated", "due_at", "locked_until", "attempts"]
    exclude = ["claim_token"]
    actions = ["mark_completed", "mark_rejected"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # counts per filter choice would each scan the big table

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if "status" in form.changed_data:
            try:
                services.apply_refill_status(obj.pk, obj.status, actor=Actor.ADMIN, user=request.user)
            except OrderError as e:
                messages.error(request, _words(e))

    def _settle(self, request, queryset, status: str) -> None:
        tally = Tally()
        for refill in queryset.order_by("id"):
            if refill.status not in Refill.OPEN:
                tally.final.append(refill.pk)
                continue
            services.apply_refill_status(
                refill.pk, status, actor=Actor.ADMIN, user=request.user, message="Set in the admin."
            )
            tally.changed.append(refill.pk)
        if tally.changed:
            ids = ", ".join(f"#{i}" for i in tally.changed)
            self.message_user(request, f"{status}: {ids}", messages.SUCCESS)
        if tally.final:
            ids = ", ".join(f"#{i}" for i in tally.final)
            self.message_user(
                request, gettext("Already settled, nothing changed: %(ids)s") % {"ids": ids}, messages.WARNING
            )

    @admin.action(description=_("Mark Completed"), permissions=["change"])
    def mark_completed(self, request, queryset):
        self._settle(request, queryset, Refill.Status.COMPLETED)

    @admin.action(description=_("Mark Rejected"), permissions=["change"])
    def mark_rejected(self, request, queryset):
        self._settle(request, queryset, Refill.Status.REJECTED)


@admin.register(OrderEvent)
class OrderEventAdmin(HistoryAdmin):
    """Every change of every order, newest first: read-only history."""

    list_display = ["id", "created", "order_link", "actor", "user", "action", "old_status", "new_status", "message"]
    list_filter = ["actor", "action"]
    search_fields = ["=order__id"]
    list_select_related = ["user"]
    ordering = ["-id"]
