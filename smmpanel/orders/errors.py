"""OrderError: why an order, refill or cancel was refused, as a code plus values.

The words customers see for each code live with the interfaces
(smmpanel/api/errors.py), so the API keeps the strings resellers match on.
"""


class OrderError(Exception):
    def __init__(self, code: str, **values):
        super().__init__(code, values)
        self.code = code
        self.values = values
