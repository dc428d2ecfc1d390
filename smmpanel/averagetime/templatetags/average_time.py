"""`{{ service|average_time }}`: the service's average completion time in words, or "Not enough data".

Reads what the worker stored (smmpanel.worker.average_time); a list of services
should select_related("average_time"), or each service costs a query.
"""

from django import template
from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

register = template.Library()

UNITS = (
    (86400, lambda n: ngettext("%(n)d day", "%(n)d days", n) % {"n": n}),
    (3600, lambda n: ngettext("%(n)d hour", "%(n)d hours", n) % {"n": n}),
    (60, lambda n: ngettext("%(n)d minute", "%(n)d minutes", n) % {"n": n}),
)


def duration_text(seconds: int) -> str:
    """The two largest units of a duration, rounded to the minute: "1 hour 5 minutes", "2 days 3 hours"."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return _("less than a minute")
    rest, parts = minutes * 60, []
    for size, words in UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append(words(count))
        elif parts:
            break  # "1 day 5 minutes" says less than "1 day": stop at the first gap after a unit
        if len(parts) == 2:
            break
    return " ".join(parts)


@register.filter
def average_time(service) -> str:
    try:
        average = service.average_time
    except ObjectDoesNotExist:
        average = None
    if average is None or average.seconds is None:
        return _("Not enough data")
    return duration_text(average.seconds)
