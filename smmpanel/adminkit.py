"""What several admin pages share: a read-only page for history tables, a link to an order by its id,
fields that hold a secret, permissions of one's own, and the page an action shows before it applies
(admin/action_form.html).

The rules every admin here keeps (tests/test_admin_permissions.py walks the whole admin for them):
- every action declares `permissions` (Django offers an action without them to anyone who may view
  the list); "change" where the action only does what the change form could, a permission of its own
  (`has_permission`) where it does more: sends money or requests to a provider, sets prices;
- a secret (a provider's key, a gateway's key) never renders, for anyone: `SecretsAdmin`;
- money in a list reads as on the panel's pages: smmpanel.ledger.admincolumns.MoneyColumns.
"""

from django import forms
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


def has_permission(model_admin, request, codename: str) -> bool:
    """The user holds `codename` of the admin's own app (e.g. "resend_order" → orders.resend_order).

    For an action's `permissions=["x"]`: Django asks the admin's `has_x_permission(request)`.
    """
    return request.user.has_perm(f"{model_admin.opts.app_label}.{codename}")


class SecretsAdmin(admin.ModelAdmin):
    """An admin whose model holds secrets: `secret_fields` maps each to what is shown instead (a hint).

    A secret is only ever typed in (a password box that never renders its value);
    wherever it would be shown read-only (a view-only user's page, a read-only
    field) its hint is shown instead, whatever the user's permissions.
    """

    secret_fields: dict[str, str] = {}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in self.secret_fields:
            kwargs["widget"] = forms.PasswordInput(render_value=False)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        shown = super().get_readonly_fields(request, obj)
        hints = [hint for hint in self.secret_fields.values() if hint not in shown]
        return [name for name in shown if name not in self.secret_fields] + hints

    def get_fieldsets(self, request, obj=None):
        view_only = obj is not None and not self.has_change_permission(request, obj)
        return [
            (name, {**options, "fields": self._safe(options["fields"], view_only, obj)})
            for name, options in super().get_fieldsets(request, obj)
        ]

    def _safe(self, fields, view_only: bool, obj) -> list:
        """The fields with each secret's hint in its place where it would show read-only (once each)."""
        hints = set(self.secret_fields.values())
        safe: list = []
        for field in fields:
            if isinstance(field, (list, tuple)):  # several fields on one line
                safe.append(tuple(self._safe(field, view_only, obj)))
                continue
            if view_only:
                field = self.secret_fields.get(field, field)
            if field in safe or (obj is None and field in hints):  # a new row has no secret to hint at
                continue
            safe.append(field)
        return safe


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
