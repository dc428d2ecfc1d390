from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "smmpanel.ledger"
