"""PaymentError: why adding funds (or an owner's decision on a payment) was refused, as a code plus values.

The words for each code are in smmpanel/payments/messages.py.
"""


class PaymentError(Exception):
    def __init__(self, code: str, **values):
        super().__init__(code, values)
        self.code = code
        self.values = values
