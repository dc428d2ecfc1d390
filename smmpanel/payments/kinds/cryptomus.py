"""Cryptomus: placeholder until the kind is written (keys declared so the registry is complete)."""

from smmpanel.payments.kinds import base


class Cryptomus(base.Kind):
    name = "cryptomus"
    label = "Crypto (Cryptomus)"
    env = {"merchant_id": "CRYPTOMUS_MERCHANT_ID", "api_key": "CRYPTOMUS_PAYMENT_KEY"}
