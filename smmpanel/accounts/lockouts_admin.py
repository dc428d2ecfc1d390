"""The log-in lockout's admin pages (django-axes), with the permission its action lacks.

django-axes registers "Clean up expired attempts" without `permissions`, so
Django would offer it to anyone who may view the attempts; it deletes rows,
so here it requires axes.delete_accessattempt. Re-registered from
AccountsConfig.ready(), after the admin has loaded django-axes' own admin module.
"""

from axes.admin import AccessAttemptAdmin  # type: ignore[import-untyped]  # django-axes ships no types
from axes.models import AccessAttempt  # type: ignore[import-untyped]
from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class GuardedAccessAttemptAdmin(AccessAttemptAdmin):
    @admin.action(description=_("Clean up expired attempts"), permissions=["delete"])
    def cleanup_expired_attempts(self, request, queryset):
        return super().cleanup_expired_attempts(request, queryset)


def register(site: admin.AdminSite) -> None:
    if site.is_registered(AccessAttempt):
        site.unregister(AccessAttempt)
        site.register(AccessAttempt, GuardedAccessAttemptAdmin)
