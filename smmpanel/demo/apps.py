from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "smmpanel.demo"
