"""The dashboard's page of its own, /admin/dashboard/: the figures of the admin index, alone, to link to."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext

from smmpanel.dashboard.permissions import may_see_dashboard


def dashboard(request):
    """Staff only (wrapped in admin_view by the URL), and of those only who hold dashboard.view_dashboard."""
    if not may_see_dashboard(request.user):
        raise PermissionDenied
    context = {**admin.site.each_context(request), "title": gettext("Dashboard")}
    return TemplateResponse(request, "dashboard/page.html", context)
