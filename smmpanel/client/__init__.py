"""A typed client for the API v2 protocol of SMM panels, usable on its own.

It imports nothing else of smmpanel and nothing of Django: resellers install
it to script their orders, and our provider engine uses it to talk to
upstream panels. See docs/client.md.

    from smmpanel.client import Client
    with Client("https://panel.example/api/v2", key) as panel:
        order = panel.add(1, link="https://instagram.com/p/x", quantity=1000)
        print(panel.status(order).status)
"""

from .api import MAX_IDS, Client, parse_id
from .errors import ApiError, BadResponse, ClientError, TransportError
from .types import Balance, OrderStatus, Service, normalize_status

__all__ = [
    "MAX_IDS",
    "ApiError",
    "BadResponse",
    "Balance",
    "Client",
    "ClientError",
    "OrderStatus",
    "Service",
    "TransportError",
    "normalize_status",
    "parse_id",
]
