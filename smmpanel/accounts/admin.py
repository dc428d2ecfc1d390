"""Admin for customer accounts: create a customer, issue an API key, and move a balance through the ledger.

The balance is never a form field: it moves only through smmpanel.ledger
(a deposit, or an adjustment of either sign with a memo), one ledger row each,
and never below zero. The account page shows the latest ledger rows read-only
and links to the ledger's own list (paged, filtered to the account) for the
rest: a customer with 100,000 rows opens as fast as one with ten.

An API key is shown once, on the page that made it, and never again (only
its digest is stored); those pages are not cached by the browser.

"Issue a new API key" requires accounts.change_account.
"""

from urllib.parse import quote

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from smmpanel.accounts.models import Account
from smmpanel.accounts.services import account_for, create_customer
from smmpanel.adminkit import action_page
from smmpanel.ledger import services as ledger
from smmpanel.ledger.admincolumns import MoneyColumns
from smmpanel.ledger.models import Kind, LedgerEntry
from smmpanel.ledger.money import MAX_AMOUNT, ZERO, round5, shown_money

RECENT_LEDGER_ROWS = 50


def _amount_field(**kwargs) -> forms.DecimalField:
    return forms.DecimalField(max_digits=18, decimal_places=5, max_value=MAX_AMOUNT, **kwargs)


class BalanceForm(forms.ModelForm):
    """The account page's form: no model field at all, only a balance change to write to the ledger."""

    KINDS = [
        (Kind.DEPOSIT, _("Deposit: the customer paid (positive)")),
        (Kind.ADJUSTMENT, _("Adjustment: a correction (positive or negative)")),
    ]
    kind = forms.ChoiceField(choices=KINDS, initial=Kind.DEPOSIT, label=_("Balance change"))
    amount = _amount_field(
        required=False,
        min_value=-MAX_AMOUNT,
        label=_("Amount (USD)"),
        help_text=_("Written to the ledger as one row; a negative adjustment may not take the balance below zero."),
    )
    memo = forms.CharField(required=False, max_length=400, label=_("Memo"), help_text=_("Why: shown in the ledger."))

    class Meta:
        model = Account
        fields: list[str] = []

    def clean(self):
        super().clean()
        data = self.cleaned_data
        amount = data.get("amount")
        if amount is None or round5(amount) == ZERO:
            if data.get("memo"):
                self.add_error("amount", gettext("Say how much the balance changes."))
            return data
        if not data.get("memo", "").strip():
            self.add_error("memo", gettext("Say why the balance changes."))
        if data.get("kind") == Kind.DEPOSIT and amount < 0:
            self.add_error("amount", gettext("A deposit is positive; take money back with an adjustment."))
        # Checked again by the ledger's guarded UPDATE (a charge may land in between); here for a clear answer.
        balance = Account.objects.filter(pk=self.instance.pk).values_list("balance", flat=True).first() or ZERO
        if balance + amount < 0:
            self.add_error(
                "amount",
                gettext("The balance is %(balance)s USD: it cannot go below zero.") % {"balance": shown_money(balance)},
            )
        return data


class CustomerForm(forms.Form):
    """Accounts → Add: a customer is a user, an account, an API key and maybe an opening balance."""

    username = forms.CharField(max_length=150, label=_("Username"))
    email = forms.EmailField(required=False, label=_("E-mail"))
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label=_("Password"),
        help_text=_("Leave empty if the customer only uses the API (they can reset it by e-mail later)."),
    )
    balance = _amount_field(required=False, min_value=0, label=_("Opening balance (USD)"))

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        user_model = get_user_model()
        user_model.username_validator(username)
        if user_model.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(gettext("A user with that username already exists."))
        return username

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("password"):
            try:
                validate_password(data["password"], get_user_model()(username=data.get("username", "")))
            except forms.ValidationError as e:
                self.add_error("password", e)
        return data


def _ledger_table(account: Account) -> str:
    rows = list(
        LedgerEntry.objects.filter(account_id=account.pk).order_by("-id").select_related(None)[:RECENT_LEDGER_ROWS]
    )
    if not rows:
        return gettext("No ledger rows yet.")
    headers = [
        gettext("When"),
        gettext("Kind"),
        gettext("Amount"),
        gettext("Balance after"),
        gettext("Order"),
        gettext("Memo"),
    ]
    return format_html(
        "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>",
        format_html_join("", "<th>{}</th>", ((h,) for h in headers)),
        format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    localtime(e.created).strftime("%Y-%m-%d %H:%M"),
                    e.kind,
                    e.amount,
                    e.balance_after,
                    f"#{e.order_id}" if e.order_id else "",
                    e.memo or e.reason,
                )
                for e in rows
            ),
        ),
    )


@admin.register(Account)
class AccountAdmin(MoneyColumns, admin.ModelAdmin):
    form = BalanceForm
    list_display = ["user", "email", "balance", "api_key_hint", "created"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    list_filter = ["email_verified"]  # SIGNUP_EMAIL_VERIFICATION: who has not followed the mailed link
    readonly_fields = ["user", "balance", "api_key_hint", "created", "email_verified", "recent_ledger"]
    fieldsets = [
        (None, {"fields": ["user", "balance", "api_key_hint", "created", "email_verified"]}),
        (_("Change the balance"), {"fields": ["kind", "amount", "memo"]}),
        (_("Ledger"), {"fields": ["recent_ledger"]}),
    ]
    actions = ["issue_api_key"]
    show_full_result_count = False

    @admin.display(description=_("e-mail"), ordering="user__email")
    def email(self, account):
        return account.user.email

    @admin.display(description=_("latest ledger rows"))
    def recent_ledger(self, account):
        if account.pk is None:
            return ""
        url = reverse("admin:ledger_ledgerentry_changelist") + f"?account__id__exact={account.pk}"
        orders = reverse("admin:orders_order_changelist") + f"?customer={quote(account.user.get_username())}"
        link = format_html(
            '<p><a href="{}">{}</a> · <a href="{}">{}</a></p>',
            url,
            gettext("The whole ledger of this account (paged) →"),
            orders,
            gettext("This customer's orders →"),
        )
        return format_html("{}{}", _ledger_table(account), link)

    def save_model(self, request, obj, form, change):
        """Never obj.save(): the balance read with the page is stale once the ledger moved it."""
        amount = form.cleaned_data.get("amount")
        if amount is None or round5(amount) == ZERO:
            return
        memo = f"{form.cleaned_data['memo'].strip()} (by {request.user.get_username()})"
        try:
            with transaction.atomic():  # a savepoint: a refused move leaves the page's transaction usable
                if form.cleaned_data["kind"] == Kind.DEPOSIT:
                    entry = ledger.deposit(obj, amount, memo)
                else:
                    entry = ledger.adjust(obj, amount, memo)
        except ledger.NotEnoughFunds:
            messages.error(request, gettext("Not enough funds on balance for that adjustment; nothing changed."))
            return
        messages.success(
            request,
            gettext("%(kind)s of %(amount)s USD written to the ledger; the balance is %(balance)s USD.")
            % {
                "kind": entry.get_kind_display(),
                "amount": shown_money(entry.amount),
                "balance": shown_money(entry.balance_after),
            },
        )

    def save_related(self, request, form, formsets, change):
        pass  # nothing related is edited here

    def has_delete_permission(self, request, obj=None):
        return False  # an account has a ledger: history is not deleted

    # --- a new customer -------------------------------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        """Accounts → Add: the customer's user, account, key and opening balance; the key is shown here once."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = CustomerForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            account, key = create_customer(
                data["username"],
                email=data["email"],
                password=data["password"] or None,
                balance=data["balance"] or ZERO,
            )
            self.log_addition(request, account, [{"added": {}}])
            return self._key_page(request, [(account, key)], gettext("Customer created"))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Add customer"),
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/accounts/account/add_customer.html", context)

    def _key_page(self, request, pairs, title):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "pairs": pairs,
        }
        # The admin marks every page never_cache (no-store among others): the key stays in no cache.
        return TemplateResponse(request, "admin/accounts/account/api_keys.html", context)

    # --- a new API key --------------------------------------------------------------------

    @admin.action(description=_("Issue a new API key (the old one stops working)"), permissions=["change"])
    def issue_api_key(self, request, queryset):
        """First a confirmation page, then the new keys, shown once."""
        if "apply" not in request.POST:
            return action_page(
                self,
                request,
                "admin/accounts/account/issue_api_key.html",
                gettext("Issue a new API key"),
                queryset.select_related("user"),
            )
        pairs = []
        for account in queryset.select_related("user"):
            pairs.append((account, account.regenerate_api_key()))
            self.log_change(request, account, gettext("Issued a new API key."))
        return self._key_page(request, pairs, gettext("New API keys"))


# --- users added from Users → Add ----------------------------------------------------------


class UserWithAccountAdmin(UserAdmin):
    """Django's user admin, except that a user added there gets its account at once (balance 0, no key)."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            account_for(obj)


if admin.site.is_registered(get_user_model()):
    admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), UserWithAccountAdmin)
