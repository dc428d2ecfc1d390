"""{% dashboard_panel %}: the owner's figures on the admin index (see smmpanel.dashboard.stats)."""

from django import template

from smmpanel.dashboard import deposits, stats

register = template.Library()


@register.inclusion_tag("dashboard/panel.html", takes_context=True)
def dashboard_panel(context):
    request = context.get("request")
    if request is None or not request.user.is_staff:  # the admin index is staff-only; this says so twice
        return {"shown": False}
    figures = stats.cached()
    return {
        "shown": True,
        "figures": figures,
        "chart": figures.chart(),
        "providers": stats.providers(),
        "attention": stats.needing_attention(),
        "deposits": deposits.cached(),  # the payments' figures (smmpanel/dashboard/deposits.py)
        "payments_attention": deposits.needing_attention(),
    }
