"""The abuse limits of tickets: open tickets per customer (TICKETS_OPEN_MAX) and new messages per customer
(TICKET_MESSAGES_PER_CUSTOMER, in the API rate limit's syntax, e.g. "10/h"; empty: no limit).

Messages are counted in the store of the API rate limit and the per-address
limits (smmpanel.counters: Django's cache, shared by every process with
REDIS_URL), in fixed windows, under the customer's account id. A failing cache
leaves them uncounted, as it does the others.
"""

from django.conf import settings

from smmpanel import counters

SETTING = "TICKET_MESSAGES_PER_CUSTOMER"

_parsed: tuple[str | None, counters.Rule | None] = (None, None)


def message_rule() -> counters.Rule | None:
    """The rule in force (parsed once per value of the setting; a malformed one is an error)."""
    global _parsed
    text = getattr(settings, SETTING)
    if _parsed[0] != text:
        _parsed = (text, counters.parse_rule(text, SETTING))
    return _parsed[1]


def check_settings() -> None:
    message_rule()


def count_message(account_id: int) -> int | None:
    """Count one new message of this customer: None within the limit, else seconds until they may write."""
    rule = message_rule()
    if rule is None:
        return None
    return counters.count_event(f"ticket-message:{account_id}", rule)


def open_max() -> int:
    return settings.TICKETS_OPEN_MAX
