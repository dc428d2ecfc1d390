from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AverageTimeConfig(AppConfig):
    name = "smmpanel.averagetime"
    verbose_name = _("Average time")
