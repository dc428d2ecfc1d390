"""Who sees the dashboard: staff holding its own permission, dashboard.view_dashboard.

Revenue, profit and provider balances are the owner's business, not every
staff member's: viewing orders or providers does not include them, and a
staff user without any permission sees none of it.
"""

VIEW_DASHBOARD = "dashboard.view_dashboard"


def may_see_dashboard(user) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm(VIEW_DASHBOARD))
