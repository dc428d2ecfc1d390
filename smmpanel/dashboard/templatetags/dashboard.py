"""{% dashboard_panel %}: the owner's figures on the admin index (see smmpanel.dashboard.stats), for staff
holding dashboard.view_dashboard (smmpanel.dashboard.permissions); nothing at all for anyone else."""

from django import template

from smmpanel.dashboard import deposits, stats
from smmpanel.dashboard.permissions import may_see_dashboard

register = template.Library()


@register.inclusion_tag("dashboard/panel.html", takes_context=True)
def dashboard_panel(context):
    request = context.get("request")
    if request is None or not may_see_dashboard(request.user):  # its own permission, not every staff member's
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
