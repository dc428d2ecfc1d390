"""The one table of gateway kinds: how each gateway takes money and tells us it did.

Shaped like smmpanel/fulfilment/registry.py: a kind is named here once, with
its label and the dotted path of its class, imported lazily on first use (so
that models take their choices from this table without importing the `stripe`
library or httpx). `Gateway.kind` takes its choices from CHOICES; everything
the rest of the panel asks of a kind goes through smmpanel.payments.kinds.base.Kind.

Why not django-payments (4.x, evaluated for issue 15): its providers write
the payment's status themselves (`change_status`, a read-modify-save), so
"credited exactly once" would rest on a signal handler's Python check, not on
a constraint; its Stripe provider confirms a session as paid without
comparing the amount or currency with what was asked, ignores refunds and
disputes, sets the library's process-global `stripe.api_key` per call (not
thread-safe under gevent), and keeps notifications nowhere; gateways are
configured in settings (PAYMENT_VARIANTS), not by the owner in the admin; and
it has no Cryptomus or NOWPayments. What we need of a base is small: a kind
turns the gateway's verified word into Verdicts, and services apply them.
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
