from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "smmpanel.accounts"

    def ready(self) -> None:
        # After django.contrib.admin's ready(), which loaded every app's admin module (django-axes' too).
        from django.contrib import admin

        from smmpanel import addresslimits, loginlimits  # noqa: F401 - connects the failed log-in counter
        from smmpanel.accounts import lockouts_admin

        lockouts_admin.register(admin.site)
        addresslimits.check_settings()  # a malformed per-address limit stops the start
