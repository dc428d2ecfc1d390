"""Admin of the service updates: the list of what customers are told, and hiding (or showing) entries.

Entries are written only where the catalog changes (smmpanel.updates.record):
never added here, and of a row only `hidden` may be changed. Hide / Show
require updates.change_serviceupdate, like the change form's box.
"""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from smmpanel.updates.models import ServiceUpdate
from smmpanel.updates.text import change_text


@admin.register(ServiceUpdate)
class ServiceUpdateAdmin(admin.ModelAdmin):
    list_display = ["created", "service", "kind", "details", "source", "hidden"]
    list_filter = ["kind", "source", "hidden"]
    list_select_related = ["service"]
    search_fields = ["service__name", "=service__id"]
    date_hierarchy = "created"
    actions = ["hide", "show"]
    fields = ["service", "kind", "details", "source", "created", "hidden"]
    readonly_fields = ["service", "kind", "details", "source", "created"]
    show_full_result_count = False  # a long history: no second COUNT per page

    @admin.display(description=_("details"))
    def details(self, update):
        return change_text(update)

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Hide from customers"), permissions=["change"])
    def hide(self, request, queryset):
        self._set_hidden(request, queryset, True)

    @admin.action(description=_("Show to customers again"), permissions=["change"])
    def show(self, request, queryset):
        self._set_hidden(request, queryset, False)

    def _set_hidden(self, request, queryset, hidden: bool) -> None:
        count = queryset.exclude(hidden=hidden).update(hidden=hidden)
        text = (
            ngettext("%(n)d update hidden.", "%(n)d updates hidden.", count)
            if hidden
            else ngettext("%(n)d update shown again.", "%(n)d updates shown again.", count)
        )
        self.message_user(request, text % {"n": count}, messages.SUCCESS)
