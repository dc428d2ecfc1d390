"""The one table of gateway kinds: how each gateway takes money and tells us it did.

Shaped like smmpanel/fulfilment/registry.py: a kind is named here once, with
its label and the dotted path of its class, imported lazily on first use (so
that models take their choices from this table without importing the `stripe`
library or httpx). `Gateway.kind` takes its choices from CHOICES; everything
the rest of the panel asks of a kind goes through smmpanel.payments.kinds.base.Kind.
"""

from functools import cache

from django.utils.module_loading import import_string

KINDS = {
    "stripe": ("Stripe Checkout", "smmpanel.payments.kinds.stripe.Stripe"),
    "cryptomus": ("Cryptomus (crypto)", "smmpanel.payments.kinds.cryptomus.Cryptomus"),
    "nowpayments": ("NOWPayments (crypto)", "smmpanel.payments.kinds.nowpayments.NOWPayments"),
    "manual": ("Manual transfer (the owner approves)", "smmpanel.payments.kinds.manual.Manual"),
}

CHOICES = [(name, label) for name, (label, _) in KINDS.items()]


@cache
def get(name: str):
    """The kind's (single, stateless) instance; KeyError for a name not in KINDS."""
    return import_string(KINDS[name][1])()
