"""Admin for the catalog: categories and services, their order, and changes to many services at once.

A service's fulfilment data (the simulated pace, the provider and upstream
service) is edited inline: one inline per kind of smmpanel.catalog.fulfilment_kinds
with a `service_data_model`, its `service_data_readonly` fields shown, not
edited. Whatever the owner changes by hand (one service or many) is told to
the services' kinds (`owner_edited`: a provider's keeps it on the next re-sync).

Every action requires catalog.change_category or catalog.change_service.

Every change customers care about (new, price, limits, enabled / disabled) is
recorded as a service update in the change's transaction (smmpanel.updates.record):
"admin" for the change form and the list's editable columns, "bulk" for the actions.

Bulk price change: every selected service's rate × (1 + percent/100), rounded
up to the money's 5 places (so a rise never rounds to nothing) and never below
zero; the same rounding as a provider's markup.
"""

from decimal import ROUND_CEILING, Decimal, localcontext
from functools import cache

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from smmpanel.adminkit import action_page
from smmpanel.catalog import fulfilment_kinds
from smmpanel.catalog.models import Category, Service
from smmpanel.ledger.money import MAX_AMOUNT, PLACES, ZERO
from smmpanel.updates.models import Source
from smmpanel.updates.record import record, recording, snapshot

MAX_PERCENT = Decimal(10000)


def changed_rate(rate: Decimal, percent: Decimal) -> Decimal:
    """rate × (1 + percent/100), rounded up to 5 places, never below zero nor above what money can hold."""
    with localcontext() as ctx:
        ctx.prec = 100  # exact before the one rounding
        exact = Decimal(rate) * (1 + Decimal(percent) / 100)
        return min(max(exact.quantize(PLACES, rounding=ROUND_CEILING), ZERO), MAX_AMOUNT)


def _owner_edited(services, fields) -> None:
    """Tell each kind which of its services the owner changed by hand (one call per kind)."""
    by_kind: dict[str, list[Service]] = {}
    for service in services:
        by_kind.setdefault(service.fulfilment, []).append(service)
    for name, of_kind in by_kind.items():
        fulfilment_kinds.get(name).owner_edited(of_kind, fields)


def _set_active(modeladmin, request, services, active: bool) -> None:
    with transaction.atomic():
        services = list(services)
        chosen = Service.objects.filter(pk__in=[s.pk for s in services])
        with recording(chosen, Source.BULK):
            chosen.update(active=active)
        _owner_edited(services, ["active"])
    text = (
        ngettext("%(n)d service enabled.", "%(n)d services enabled.", len(services))
        if active
        else ngettext("%(n)d service disabled.", "%(n)d services disabled.", len(services))
    )
    modeladmin.message_user(request, text % {"n": len(services)}, messages.SUCCESS)


class PercentForm(forms.Form):
    percent = forms.DecimalField(
        min_value=-100,
        max_value=MAX_PERCENT,
        max_digits=9,
        decimal_places=4,
        label=_("Change rates by (%)"),
        help_text=_("e.g. 10 raises every rate by 10%, -5 lowers it by 5%. Rounded up to 0.00001; never below 0."),
    )


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "position", "services_count"]
    list_editable = ["position"]
    search_fields = ["name"]
    actions = ["enable_services", "disable_services"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_services=Count("services"))

    @admin.display(description=_("services"), ordering="n_services")
    def services_count(self, category):
        return category.n_services

    @admin.action(description=_("Enable every service of these categories"), permissions=["change"])
    def enable_services(self, request, queryset):
        _set_active(self, request, Service.objects.filter(category__in=queryset), True)

    @admin.action(description=_("Disable every service of these categories"), permissions=["change"])
    def disable_services(self, request, queryset):
        _set_active(self, request, Service.objects.filter(category__in=queryset), False)


@cache
def _inlines() -> list[type[admin.StackedInline]]:
    """One inline per kind with per-service data, made from what the kind declares (on first use:
    the registry imports each kind's code lazily, and a kind's app may import the catalog)."""
    inlines = []
    for name in fulfilment_kinds.KINDS:
        kind = fulfilment_kinds.get(name)
        if kind.service_data_model is None:
            continue
        inlines.append(
            type(
                f"{kind.service_data_model.__name__}Inline",
                (admin.StackedInline,),
                {
                    "model": kind.service_data_model,
                    "can_delete": False,
                    "extra": 0,
                    "readonly_fields": kind.service_data_readonly,
                },
            )
        )
    return inlines


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "category",
        "type",
        "rate",
        "min",
        "max",
        "refill",
        "cancel",
        "dripfeed",
        "fulfilment",
        "provider",
        "position",
        "active",
    ]
    list_editable = ["rate", "position", "active"]
    list_filter = [
        "active",
        "category",
        "type",
        "fulfilment",
        ("upstream__provider", admin.RelatedOnlyFieldListFilter),
        "refill",
        "cancel",
        "dripfeed",
    ]
    list_select_related = ["category", "upstream__provider"]
    search_fields = ["name", "description", "category__name", "=id"]
    actions = ["enable", "disable", "change_price"]
    fieldsets = [
        (None, {"fields": ["name", "category", "type", "description", "active", "position"]}),
        (_("Price and limits"), {"fields": ["rate", "min", "max"]}),
        (_("Options"), {"fields": ["refill", "refill_days", "cancel", "dripfeed"]}),
        (_("Fulfilment"), {"fields": ["fulfilment"]}),
    ]

    @admin.display(description=_("provider"), ordering="upstream__provider__name")
    def provider(self, service):
        upstream = getattr(service, "upstream", None) if service.fulfilment == "provider" else None
        return upstream.provider.name if upstream else ""

    def get_inlines(self, request, obj):
        return _inlines()

    def save_model(self, request, obj, form, change):
        # The change form and the list's editable columns both save here, in the admin's transaction.
        before = snapshot(Service.objects.filter(pk=obj.pk)) if change else {}
        super().save_model(request, obj, form, change)
        record(before, snapshot(Service.objects.filter(pk=obj.pk)), Source.ADMIN)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After the inlines (the provider inline's own keep_* boxes would overwrite it), and reached
        # from the change form and from list_editable alike: an owner's rate or name is kept on re-sync.
        if change:
            _owner_edited([form.instance], form.changed_data)

    @admin.action(description=_("Enable the selected services"), permissions=["change"])
    def enable(self, request, queryset):
        _set_active(self, request, queryset, True)

    @admin.action(description=_("Disable the selected services"), permissions=["change"])
    def disable(self, request, queryset):
        _set_active(self, request, queryset, False)

    @admin.action(description=_("Change the price of the selected services by a percent"), permissions=["change"])
    def change_price(self, request, queryset):
        """First a page asking the percent, then every rate changed (and kept on re-sync)."""
        form = PercentForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            percent = form.cleaned_data["percent"]
            with transaction.atomic():
                # Locked as plain rows (the list's joins would put provider rows on the nullable side).
                services = list(Service.objects.select_for_update().filter(pk__in=queryset.values("pk")))
                with recording(Service.objects.filter(pk__in=[s.pk for s in services]), Source.BULK):
                    for service in services:
                        service.rate = changed_rate(service.rate, percent)
                    Service.objects.bulk_update(services, ["rate"])
                _owner_edited(services, ["rate"])
            self.message_user(
                request,
                ngettext("%(n)d rate changed by %(percent)s%%.", "%(n)d rates changed by %(percent)s%%.", len(services))
                % {"n": len(services), "percent": f"{percent.normalize():f}"},
                messages.SUCCESS,
            )
            return None  # back to the list
        return action_page(
            self,
            request,
            "admin/catalog/service/change_price.html",
            gettext("Change prices by a percent"),
            queryset.select_related("category"),
            form=form,
        )
