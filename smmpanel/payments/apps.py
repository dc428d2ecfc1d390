from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "smmpanel.payments"
