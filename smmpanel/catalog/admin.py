"""Admin for the catalog: categories and services, rates and options editable from the list.

A service's fulfilment data (the simulated pace, the provider and upstream
service) is edited inline, from the kind's own model.
"""

from django.contrib import admin

from smmpanel.catalog.models import Category, Service
from smmpanel.fulfilment.models import SimulatedService


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "position"]
    list_editable = ["position"]


class SimulatedInline(admin.StackedInline):
    model = SimulatedService
    can_delete = False
    extra = 0


def _inlines():
    # Here rather than at import: the providers app registers its inline in its admin module.
    from smmpanel.providers.admin import ProviderServiceInline

    return [SimulatedInline, ProviderServiceInline]


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
        "active",
    ]
    list_editable = ["rate", "active"]
    list_filter = ["active", "type", "category", "fulfilment", "refill", "cancel", "dripfeed"]
    search_fields = ["name", "description"]
    fieldsets = [
        (None, {"fields": ["name", "category", "type", "description", "active", "position"]}),
        ("Price and limits", {"fields": ["rate", "min", "max"]}),
        ("Options", {"fields": ["refill", "refill_days", "cancel", "dripfeed"]}),
        ("Fulfilment", {"fields": ["fulfilment"]}),
    ]

    def get_inlines(self, request, obj):
        return _inlines()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After the inlines (the provider inline's own keep_* boxes would overwrite it), and reached
        # from the change form and from list_editable alike: an owner's rate or name is kept on re-sync.
        if change:
            from smmpanel.providers.catalog import owner_edited

            owner_edited(form.instance, form.changed_data)
