"""The announcements customers see now: active, started, not expired (newest first)."""

from django.db.models import Q
from django.utils import timezone

from smmpanel.alerts.models import Announcement


def current(now=None) -> list[Announcement]:
    now = now or timezone.now()
    shown = Announcement.objects.filter(active=True).filter(Q(starts__isnull=True) | Q(starts__lte=now))
    return list(shown.filter(Q(expires__isnull=True) | Q(expires__gt=now)).order_by("-id")[:5])
