from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "smmpanel.tickets"
    verbose_name = "Support tickets"

    def ready(self) -> None:
        from smmpanel.tickets import limits

        limits.check_settings()  # a malformed TICKET_MESSAGES_PER_CUSTOMER stops the start
