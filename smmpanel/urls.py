"""URL routes: the API v2 endpoint (with and without trailing slash), the admin and the customer panel."""

from django.contrib import admin
from django.urls import include, path

from smmpanel.api.views import api_v2

admin.site.site_header = "smmpanel administration"
admin.site.site_title = "smmpanel"

urlpatterns = [
    path("api/v2", api_v2, name="api-v2"),
    path("api/v2/", api_v2),
    path("admin/", admin.site.urls),
    path("", include("smmpanel.web.urls")),
]
