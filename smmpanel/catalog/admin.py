"""Admin for the catalog: categories and services, rates and options editable from the list."""

from django.contrib import admin

from smmpanel.catalog.models import Category, Service


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "position"]
    list_editable = ["position"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "category", "type", "rate", "min", "max", "refill", "cancel", "dripfeed",
                    "fulfilment", "active"]
    list_editable = ["rate", "active"]
    list_filter = ["active", "type", "category", "fulfilment", "refill", "cancel", "dripfeed"]
    search_fields = ["name", "description"]
    fieldsets = [
        (None, {"fields": ["name", "category", "type", "description", "active", "position"]}),
        ("Price and limits", {"fields": ["rate", "min", "max"]}),
        ("Options", {"fields": ["refill", "refill_days", "cancel", "dripfeed"]}),
        ("Fulfilment", {"fields": ["fulfilment", "sim_units_per_minute", "sim_partial_percent",
                                   "sim_post_every_seconds"]}),
    ]
