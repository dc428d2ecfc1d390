"""The settings the API reads on every call, as plain attributes: `hot.DEBUG`, `hot.ALLOWED_HOSTS` …

Each read of django.conf.settings runs LazyObject.__getattribute__ (Python
code), and an API call read nine of them: about 7 % of a `balance` call's
own work. Here each is read from Django once and kept, and all are forgotten
whenever Django says a setting changed (`setting_changed`: sent by
override_settings and by pytest-django's `settings`), so a test that changes
one is seen at the next call. A running panel never changes its settings.
"""

from django.conf import settings
from django.core.signals import setting_changed


class HotSettings:
    def __getattr__(self, name: str):
        # Only for a name not kept yet: from then on it is a plain attribute of the instance.
        value = getattr(settings, name)
        self.__dict__[name] = value
        return value

    def forget(self, **kwargs) -> None:
        self.__dict__.clear()


hot = HotSettings()
setting_changed.connect(hot.forget, weak=False)
