from django.apps import AppConfig


class DashboardConfig(AppConfig):
    # Listed before django.contrib.admin in INSTALLED_APPS: its admin/index.html replaces the admin's.
    name = "smmpanel.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"
