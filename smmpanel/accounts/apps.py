from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "smmpanel.accounts"

    def ready(self):
        from smmpanel import addresslimits, loginlimits  # noqa: F401 - connects the failed log-in counter

        addresslimits.check_settings()  # a malformed per-address limit stops the start
