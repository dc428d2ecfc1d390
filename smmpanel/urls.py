"""URL routes: the API v2 endpoint (with and without trailing slash), the admin (and its dashboard page) and the
customer panel."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from smmpanel.api.views import api_v2
from smmpanel.dashboard.views import dashboard

admin.site.site_header = "smmpanel administration"
admin.site.site_title = "smmpanel"

urlpatterns = [
    path("api/v2", api_v2, name="api-v2"),
    path("api/v2/", api_v2),
    path("admin/dashboard/", admin.site.admin_view(dashboard), name="dashboard"),
    path("admin/", admin.site.urls),
    path("payments/", include("smmpanel.payments.urls")),
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's).
    path("favicon.ico", RedirectView.as_view(url=static("web/favicon.svg"), permanent=True)),
    path("", include("smmpanel.web.urls")),
]
