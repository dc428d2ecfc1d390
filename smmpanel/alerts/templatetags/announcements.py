"""`{% announcements %}`: the owner's current announcements, where a page includes the tag (New order)."""

from django import template

from smmpanel.alerts.announcements import current

register = template.Library()


@register.inclusion_tag("alerts/announcements.html")
def announcements() -> dict:
    return {"announcements": current()}
