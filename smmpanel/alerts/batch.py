"""Many alerts, one message: grouped by kind, counted, the first few listed, the rest "and N more".

500 orders flagged at once when a provider goes down are one line "500 orders need attention"
and ten examples, not 500 mails.
"""

from collections import defaultdict

from django.conf import settings

from smmpanel.alerts.models import Alert

SHOWN = 10  # alerts of one kind listed by name in a message; the rest are counted

HEADLINES = {
    Alert.Kind.ORDER_ATTENTION: ("1 order needs attention", "{n} orders need attention"),
    Alert.Kind.ORDER_STUCK: ("1 order stuck", "{n} orders stuck"),
    Alert.Kind.PROVIDER_BALANCE: ("1 provider low on balance", "{n} providers low on balance"),
    Alert.Kind.PROVIDER_FAILING: ("1 provider failing", "{n} providers failing"),
    Alert.Kind.TICKET: ("1 new ticket", "{n} new tickets"),
    Alert.Kind.PAYMENT: ("1 payment needs attention", "{n} payments need attention"),
}


def headline(kind: str, n: int) -> str:
    one, many = HEADLINES.get(kind, ("1 alert", "{n} alerts"))  # type: ignore[call-overload]
    return one if n == 1 else many.format(n=n)


def link(url: str) -> str:
    """An alert's link as the owner can follow it: absolute with SITE_URL set."""
    if url.startswith("/") and settings.SITE_ORIGIN:
        return settings.SITE_ORIGIN + url
    return url


def compose(alerts: list) -> tuple[str, str]:
    """(subject, body) of one message telling all of `alerts`, oldest first."""
    groups: dict[str, list] = defaultdict(list)
    for alert in alerts:
        groups[alert.kind].append(alert)
    headlines = [headline(kind, len(group)) for kind, group in groups.items()]
    subject = f"[{settings.SITE_NAME}] " + "; ".join(headlines)
    sections = []
    for group, title in zip(groups.values(), headlines, strict=True):
        lines = [f"{title}:"]
        for alert in group[:SHOWN]:
            lines.append(f"- {alert.text}" + (f" {link(alert.url)}" if alert.url else ""))
        if len(group) > SHOWN:
            lines.append(f"… and {len(group) - SHOWN} more")
        sections.append("\n".join(lines))
    return subject, "\n\n".join(sections)
