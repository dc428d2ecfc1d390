"""The owner's side of alerts: what was raised (and where it went), the worker's duties, and announcements.

Alerts and duties are history and machinery: read here, never edited (HistoryAdmin). Announcements
are the owner's words: added, changed, turned off here; no actions beyond Django's delete, which
asks for the delete permission.
"""

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from smmpanel.adminkit import HistoryAdmin
from smmpanel.alerts.models import Alert, Announcement, Duty


@admin.register(Alert)
class AlertAdmin(HistoryAdmin):
    list_display = ["created", "kind", "text", "delivered"]
    list_filter = ["kind"]
    search_fields = ["text", "key"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("deliveries")

    @admin.display(description=_("delivered"))
    def delivered(self, alert) -> str:
        return ", ".join(
            f"{d.channel} {'✓' if d.delivered_at else '…'}" for d in sorted(alert.deliveries.all(), key=str)
        )


@admin.register(Duty)
class DutyAdmin(HistoryAdmin):
    list_display = ["name", "due_at", "attempts", "last_error"]


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    list_display = ["text", "active", "starts", "expires", "showing"]
    list_filter = ["active"]
    fields = ["text", "active", "starts", "expires"]

    @admin.display(description=_("shown now"), boolean=True)
    def showing(self, announcement) -> bool:
        now = timezone.now()
        return (
            announcement.active
            and (announcement.starts is None or announcement.starts <= now)
            and (announcement.expires is None or announcement.expires > now)
        )
