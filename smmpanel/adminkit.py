"""What several admin pages share: a read-only page for history tables, a link to an order by its id,
and the page an action shows before it applies (admin/action_form.html)."""

from django.contrib import admin
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _


class HistoryAdmin(admin.ModelAdmin):
    """A table of history (ledger rows, order events): listed and read, never added, changed or deleted here.

    Big tables: no full COUNT per page and no counts per filter choice (each would scan the table).
    """

    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description=_("order"), ordering="order_id")
    def order_link(self, row):
        # By id: str(row.order) would read every row's order, one query each.
        if row.order_id is None:
            return ""
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:orders_order_change", args=[row.order_id]), row.order_id
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def action_page(model_admin, request, template: str, title: str, objects, **context) -> TemplateResponse:
    """The page an action shows before it applies: what it will do to `objects`, and a form to confirm.

    `template` extends admin/action_form.html, which posts the same action
    back with `apply=1` and every chosen row, so the action runs on exactly
    what was shown. `context` adds the template's own names (e.g. `form`).
    """
    return TemplateResponse(
        request,
        template,
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "opts": model_admin.model._meta,
            "objects": objects,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            **context,
        },
    )
