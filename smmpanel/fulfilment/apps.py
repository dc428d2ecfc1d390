from django.apps import AppConfig


class FulfilmentConfig(AppConfig):
    name = "smmpanel.fulfilment"
