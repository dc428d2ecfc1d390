"""OrderError: why an order, refill or cancel was refused, as a code plus values.

The words customers see for each code are in smmpanel/orders/messages.py,
shared by the API (verbatim) and the web panel (translated).
"""


class OrderError(Exception):
    def __init__(self, code: str, **values):
        super().__init__(code, values)
        self.code = code
        self.values = values
