"""Admin for customer accounts: balance (read-only: it moves only through the ledger) and funds."""

from django import forms
from django.contrib import admin, messages

from smmpanel.accounts.models import Account
from smmpanel.ledger import services as ledger
from smmpanel.ledger.models import LedgerEntry


class AccountForm(forms.ModelForm):
    funds = forms.DecimalField(
        required=False,
        max_digits=18,
        decimal_places=5,
        help_text="Add (or, negative, take) this amount in USD; written to the ledger.",
    )
    memo = forms.CharField(required=False, max_length=500, help_text="Why: shown in the ledger.")

    class Meta:
        model = Account
        fields: list[str] = []

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("funds") and not data.get("memo"):
            self.add_error("memo", "Say why the balance changes.")
        return data


class LedgerInline(admin.TabularInline):
    model = LedgerEntry
    readonly_fields = ("created", "kind", "amount", "balance_after", "order", "reason", "memo")
    fields = readonly_fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-id"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = ["user", "balance", "api_key_hint", "created"]
    search_fields = ["user__username", "user__email"]
    readonly_fields = ["user", "balance", "api_key_hint", "created"]
    inlines = [LedgerInline]

    def has_add_permission(self, request):
        return False  # accounts come with users (`smmpanel user create`, the web sign-up)

    def save_model(self, request, obj, form, change):
        amount = form.cleaned_data.get("funds")
        if not amount:
            return
        memo = f"{form.cleaned_data['memo']} (by {request.user.username})"
        try:
            if amount > 0:
                ledger.deposit(obj, amount, memo)
            else:
                ledger.adjust(obj, amount, memo)
        except ledger.NotEnoughFunds:
            messages.error(request, "Not enough funds on balance for that adjustment; nothing changed.")
