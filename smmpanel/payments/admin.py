"""Admin for payments: the gateways (keys masked, bonus rules inline), the payments with every notification
received for them, and the owner's decisions: approve or reject a manual transfer, settle a payment that
needs attention.

A gateway's keys are secrets: their boxes are password fields that never
render a value back (not even to a superuser), left empty they keep the
current key, and nothing else shows more than whether a key is set.

Every decision goes through smmpanel.payments.services, which make it at
most once: a second click (or a second admin) changes nothing, and the page
says so. Each action declares the permission it needs: approving, rejecting
and settling move money, so they have permissions of their own
(payments.approve_payment, payments.settle_payment) rather than the broad
"change"; a view-only staff user sees the payments and cannot act on them.
"""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from smmpanel.adminkit import HistoryAdmin, SecretsAdmin, action_page
from smmpanel.ledger.admincolumns import MoneyColumns
from smmpanel.ledger.money import MAX_AMOUNT
from smmpanel.orders.admin import CustomerFilter
from smmpanel.payments import registry, services
from smmpanel.payments.kinds.base import GatewayDown
from smmpanel.payments.models import Gateway, GatewayBonus, Notification, Payment

APPROVE = "payments.approve_payment"
BODY_SHOWN = 4000  # characters of a notification's raw body shown on a payment's page
SETTLE = "payments.settle_payment"


def _words(error) -> str:
    from smmpanel.payments.messages import localized

    return localized(error)


# --- gateways -------------------------------------------------------------------------------------


# The Gateway fields holding a secret (see the model: the API or payment key, the webhook signing secret).
SECRETS = ("api_key", "webhook_secret")


def secret_fields() -> list[str]:
    return [name for name in SECRETS if any(f.name == name for f in Gateway._meta.fields)]


class GatewayForm(forms.ModelForm):
    """A gateway's settings; each secret as a password box that keeps the current value when left empty."""

    class Meta:
        model = Gateway
        fields = "__all__"  # noqa: DJ007 - the admin form: every field, as a ModelAdmin shows them

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in secret_fields():
            if name not in self.fields:
                continue
            old = self.fields[name]
            is_set = bool(self.instance.pk and getattr(self.instance, name, ""))
            self.fields[name] = forms.CharField(
                label=old.label,
                required=False,
                strip=True,
                max_length=getattr(old, "max_length", None),
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                help_text=_("A key is set. Leave empty to keep the current key.")
                if is_set
                else _("Not set. The environment's value, if any, is used instead."),
            )

    def _clean_secret(self, name: str) -> str:
        value = self.cleaned_data.get(name, "")
        if not value and self.instance.pk:
            return getattr(self.instance, name, "") or ""
        return value

    def clean(self):
        super().clean()
        for name in secret_fields():
            if name in self.fields:
                self.cleaned_data[name] = self._clean_secret(name)
        return self.cleaned_data


class GatewayBonusInline(admin.TabularInline):
    model = GatewayBonus
    extra = 0
    verbose_name = _("bonus rule")
    verbose_name_plural = _("bonus rules (the highest rule the amount reaches applies)")


@admin.register(Gateway)
class GatewayAdmin(MoneyColumns, SecretsAdmin):
    form = GatewayForm
    # Where a key would show read-only (a view-only page), where the keys come from is shown instead.
    secret_fields = dict.fromkeys(SECRETS, "keys")
    inlines = [GatewayBonusInline]
    list_display = ["name", "display_name", "kind", "enabled", "position", "min_amount", "max_amount", "keys"]
    list_editable = ["enabled", "position"]
    list_filter = ["enabled", "kind"]
    ordering = ["position", "pk"]

    @admin.display(description=_("keys"))
    def keys(self, gateway):
        """Where the keys come from (never a key itself): the environment wins over what is stored here."""
        kind = registry.get(gateway.kind)
        if not kind.env:
            return "—"  # a manual transfer has none
        if kind.configured_by_env():
            return gettext("from the environment")
        if all(getattr(gateway, field, "") for field in kind.env):
            return gettext("set here")
        return gettext("missing")

    def has_delete_permission(self, request, obj=None):
        return False  # payments point at their gateway: disable it instead


# --- payments -------------------------------------------------------------------------------------


class NeedsAttention(admin.SimpleListFilter):
    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(needs_attention=True)
        if self.value() == "no":
            return queryset.filter(needs_attention=False)
        return queryset


class NotificationInline(admin.TabularInline):
    """Every message a gateway sent about this payment: what it said, whether it was genuine, what was done."""

    model = Notification
    extra = 0
    can_delete = False
    fields = ["received", "verified", "needs_attention", "result", "headers", "body_start"]
    readonly_fields = ["received", "verified", "needs_attention", "result", "headers", "body_start"]
    ordering = ["received", "pk"]
    show_change_link = False

    @admin.display(description=_("body"))
    def body_start(self, row):
        # The raw body as received (escaped), cut short: a payment page stays readable.
        text = row.body if len(row.body) <= BODY_SHOWN else row.body[:BODY_SHOWN] + " …"
        return format_html('<pre style="white-space: pre-wrap; max-width: 60em">{}</pre>', text)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RejectForm(forms.Form):
    reason = forms.CharField(
        max_length=400,
        label=_("Reason"),
        help_text=_("Why the transfer is rejected (kept with the payment)."),
    )


class SettleForm(forms.Form):
    credit = forms.DecimalField(
        required=False,
        min_value=0,
        max_value=MAX_AMOUNT,
        max_digits=18,
        decimal_places=5,
        label=_("Credit (USD)"),
        help_text=_(
            "What reaches the balance of each payment's customer (its bonus rules apply to it). "
            "Empty: nothing is credited, the payment is only set aside as seen."
        ),
    )

    def clean_credit(self):
        credit = self.cleaned_data.get("credit")
        if credit is not None and credit <= 0:
            raise forms.ValidationError(gettext("Credit more than 0 USD, or leave it empty to credit nothing."))
        return credit


class Tally:
    """What a bulk decision did, payment by payment, said back in one message each way."""

    def __init__(self):
        self.done: list[int] = []
        self.already: list[int] = []
        self.refused: list[str] = []

    def report(self, modeladmin, request, done: str) -> None:
        if self.done:
            modeladmin.message_user(request, f"{done}: {_ids(self.done)}", messages.SUCCESS)
        if self.already:
            modeladmin.message_user(
                request,
                gettext("Already decided, nothing changed: %(ids)s") % {"ids": _ids(self.already)},
                messages.WARNING,
            )
        for words in self.refused:
            modeladmin.message_user(request, words, messages.ERROR)


def _ids(ids: list[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)


@admin.register(Payment)
class PaymentAdmin(MoneyColumns, admin.ModelAdmin):
    list_display = [
        "id",
        "created",
        "customer",
        "gateway",
        "amount",
        "fee",
        "bonus",
        "received",
        "credited",
        "state",
        "needs_attention",
        "attention_reason",
        "reference",
    ]
    list_filter = [NeedsAttention, "state", "gateway", CustomerFilter]
    search_fields = ["=id", "=external_id", "reference", "=account__user__username"]
    list_select_related = ["account__user", "gateway"]
    inlines = [NotificationInline]
    actions = ["approve_transfers", "reject_transfers", "settle", "ask_gateway"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    ordering = ["-id"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Payment._meta.fields if f.name != "claim_token"] + ["checkout"]

    def get_exclude(self, request, obj=None):
        return [f.name for f in Payment._meta.fields if f.name == "claim_token"]

    @admin.display(description=_("customer"), ordering="account__user__username")
    def customer(self, payment):
        # The username alone: the account's own text carries its balance, which is not this list's business.
        url = reverse("admin:accounts_account_change", args=[payment.account_id])
        return format_html('<a href="{}">{}</a>', url, payment.account.user.get_username())

    @admin.display(description=_("received"), ordering="amount_received")
    def received(self, payment):
        if payment.amount_received is None:
            return "—"
        return f"{payment.amount_received} {payment.currency}"

    @admin.display(description=_("checkout page"))
    def checkout(self, payment):
        if not payment.checkout_url:
            return ""
        return format_html('<a href="{0}" rel="noreferrer">{0}</a>', payment.checkout_url)

    def has_add_permission(self, request):
        return False  # a payment is made by a customer, never by hand

    def has_change_permission(self, request, obj=None):
        return False  # every change is one of the actions below, through the services

    def has_delete_permission(self, request, obj=None):
        return False  # money history

    def has_approve_permission(self, request):
        return request.user.has_perm(APPROVE)

    def has_settle_permission(self, request):
        return request.user.has_perm(SETTLE)

    # --- the owner's decisions ---------------------------------------------------------------------

    def _decide(self, request, queryset, decide) -> Tally:
        tally = Tally()
        for payment in queryset.order_by("id"):
            try:
                changed = decide(payment)
            except services.PaymentError as e:
                if e.code == "already_settled":
                    tally.already.append(payment.pk)
                else:
                    tally.refused.append(f"#{payment.pk}: {_words(e)}")
                continue
            (tally.done if changed is not False else tally.already).append(payment.pk)
        return tally

    def _confirmed(self, request, queryset, template: str, title: str, done: str, decide, form=None):
        """The action's confirmation page until the owner applies it (with its form valid, where it has one);
        then each chosen payment decided by `decide(payment, cleaned form data)` and the outcome reported."""
        if "apply" not in request.POST or (form is not None and not form.is_valid()):
            context = {} if form is None else {"form": form}
            objects = queryset.select_related("account__user", "gateway")
            return action_page(self, request, template, title, objects, **context)
        data = {} if form is None else form.cleaned_data
        self._decide(request, queryset, lambda payment: decide(payment, data)).report(self, request, done)
        return None

    @admin.action(description=_("Approve manual transfers (credit the balance)"), permissions=["approve"])
    def approve_transfers(self, request, queryset):
        return self._confirmed(
            request,
            queryset,
            "admin/payments/payment/approve.html",
            gettext("Approve manual transfers"),
            gettext("Approved and credited"),
            lambda payment, _data: services.approve_manual(payment.pk, request.user),
        )

    @admin.action(description=_("Reject manual transfers"), permissions=["approve"])
    def reject_transfers(self, request, queryset):
        return self._confirmed(
            request,
            queryset,
            "admin/payments/payment/reject.html",
            gettext("Reject manual transfers"),
            gettext("Rejected"),
            lambda payment, data: services.reject_manual(payment.pk, request.user, data["reason"]),
            form=RejectForm(request.POST if "apply" in request.POST else None),
        )

    @admin.action(description=_("Ask the gateway again (applies its verified answer)"), permissions=["settle"])
    def ask_gateway(self, request, queryset):
        """What the worker's poll does, now: a payment whose notification was lost is settled by its gateway's word."""
        moved: list[int] = []
        same: list[int] = []
        for payment in queryset.select_related("gateway").order_by("id"):
            try:
                after = services.refresh(payment.pk)
            except GatewayDown as e:
                self.message_user(request, f"#{payment.pk}: {payment.gateway.label}: {e}", messages.ERROR)
                continue
            (moved if after.state != payment.state else same).append(payment.pk)
        if moved:
            self.message_user(request, gettext("Changed by the gateway's answer: %(ids)s") % {"ids": _ids(moved)})
        if same:
            self.message_user(
                request, gettext("Nothing new from the gateway: %(ids)s") % {"ids": _ids(same)}, messages.WARNING
            )

    @admin.action(description=_("Settle payments needing attention…"), permissions=["settle"])
    def settle(self, request, queryset):
        return self._confirmed(
            request,
            queryset,
            "admin/payments/payment/settle.html",
            gettext("Settle payments needing attention"),
            gettext("Settled"),
            lambda payment, data: services.settle_attention(payment.pk, request.user, data["credit"]),
            form=SettleForm(request.POST if "apply" in request.POST else None),
        )


@admin.register(Notification)
class NotificationAdmin(HistoryAdmin):
    """Every message any gateway sent, newest first, genuine or refused, with or without a payment of ours
    (an unknown payment id needs a person): read-only history."""

    list_display = ["id", "received", "gateway", "payment_link", "verified", "needs_attention", "result"]
    list_filter = ["verified", "needs_attention", "gateway"]
    search_fields = ["=payment__id"]
    list_select_related = ["gateway"]
    ordering = ["-id"]

    @admin.display(description=_("payment"), ordering="payment_id")
    def payment_link(self, row):
        if row.payment_id is None:
            return ""
        url = reverse("admin:payments_payment_change", args=[row.payment_id])
        return format_html('<a href="{}">#{}</a>', url, row.payment_id)
