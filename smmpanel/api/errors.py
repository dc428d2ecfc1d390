"""ApiError: ends an API request with {"error": ...}; the words are smmpanel/orders/messages.py's."""

from smmpanel.orders.messages import message

__all__ = ["ApiError", "message"]


class ApiError(Exception):
    """Ends the request with {"error": message}."""

    def __init__(self, code: str, **values):
        super().__init__(message(code, **values))
        self.text = message(code, **values)
