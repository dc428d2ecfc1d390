"""The one table of fulfilment kinds: how each service's orders get delivered (a service's choice).

Like healthchecks' TRANSPORTS, a kind is named here once, with its label and
the dotted path of its class, imported lazily on first use (so that models
can take their choices from this table without importing any kind's code:
it is the catalog's, and the kinds, in smmpanel.fulfilment and providers,
build on orders, which builds on the catalog).
`Service.fulfilment` takes its choices from CHOICES; the worker drives the
kinds whose class says `worker_driven`. Everything else about a kind is asked
of its class (smmpanel.fulfilment.base.Fulfilment): when the worker first
looks at its new work (`first_due`, None for a kind a person fulfils) and what
a customer's cancel or refill request changes (`cancel_requested`,
`refill_requested`: the worker looks now, or a person is asked to).
"""

from functools import cache

from django.utils.module_loading import import_string

KINDS = {
    "simulated": ("Simulated (demo and tests)", "smmpanel.fulfilment.simulated.Simulated"),
    "manual": ("Manual (the admin sets status and remains)", "smmpanel.fulfilment.manual.Manual"),
    "provider": ("Provider (forwarded to an upstream panel)", "smmpanel.providers.fulfilment.ProviderFulfilment"),
}

CHOICES = [(name, label) for name, (label, _) in KINDS.items()]
DEFAULT = "manual"


@cache
def get(name: str):
    """The kind's (single, stateless) instance; KeyError for a name not in KINDS."""
    return import_string(KINDS[name][1])()


def driven() -> list[str]:
    """The kinds the worker moves on by itself (the others wait for a person)."""
    return [name for name in KINDS if get(name).worker_driven]
