"""NOWPayments: placeholder until the kind is written (keys declared so the registry is complete)."""

from smmpanel.payments.kinds import base


class NOWPayments(base.Kind):
    name = "nowpayments"
    label = "Crypto (NOWPayments)"
    env = {"api_key": "NOWPAYMENTS_API_KEY", "webhook_secret": "NOWPAYMENTS_IPN_SECRET"}
