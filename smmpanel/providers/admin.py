"""Admin for providers and the services and orders we have with them.

The provider's key is a secret (smmpanel.adminkit.SecretsAdmin): it is only
ever typed in, into a password box that never renders it back, and every page
shows its first characters at most, whatever the user's permissions.

What each action requires, beyond viewing providers:
- "Check balance": providers.check_balance (it sends a request with our key);
- "Import / sync services": providers.sync_services (it sets the price of
  every imported service; a markup of 0 sells at cost).
Linking the provider's id to an ambiguous upstream order: providers.change_upstreamorder.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.template.defaultfilters import linebreaksbr

from smmpanel.adminkit import SecretsAdmin, action_page, has_permission
from smmpanel.ledger.admincolumns import MoneyColumns
from smmpanel.providers import catalog
from smmpanel.providers.models import Provider, UpstreamOrder, UpstreamRefill


class ProviderForm(forms.ModelForm):
    api_url = forms.URLField(
        label="API URL",
        max_length=500,
        assume_scheme="https",
        help_text="The provider's API v2 endpoint, e.g. https://x.com/api/v2",
    )
    api_key = forms.CharField(label="API key", widget=forms.PasswordInput(render_value=False), required=False)

    class Meta:
        model = Provider
        fields = "__all__"  # noqa: DJ007 - the admin form: every field, as a ModelAdmin shows them

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.api_key:
            # Only a provider that has a key can keep it; a new one must be given one.
            self.fields["api_key"].help_text = "Leave empty to keep the current key."
        else:
            self.fields["api_key"].required = True

    def clean_api_key(self):
        key = self.cleaned_data.get("api_key", "").strip()
        if not key and self.instance.pk:
            return self.instance.api_key
        if not key:
            raise forms.ValidationError("The provider's API key is required.")
        return key


class SyncServicesForm(forms.Form):
    """The questions of the "Import / sync services" action (see smmpanel.providers.catalog.sync_services)."""

    markup = forms.DecimalField(
        required=False,
        min_value=0,
        max_value=catalog.MAX_MARKUP,
        decimal_places=2,
        label="Markup %",
        help_text="Percent over cost, e.g. 30. Empty: each service keeps its own markup.",
    )
    category_prefix = forms.CharField(
        required=False,
        strip=False,
        max_length=100,
        help_text='File the services under this prefix + the provider\'s category, e.g. "ProviderX: ". '
        "Empty: new services go under the provider's category names, existing ones stay where they are.",
    )


@admin.register(Provider)
class ProviderAdmin(MoneyColumns, SecretsAdmin):
    money_fields = ("balance",)
    form = ProviderForm
    secret_fields = {"api_key": "key_hint"}
    # What an owner scans first (is it on, is there money, how much it sells) before the long URL, at 1280 px.
    list_display = [
        "name",
        "enabled",
        "balance",
        "currency",
        "balance_checked_at",
        "services_count",
        "currency_rate",
        "key_hint",
        "api_url",
    ]
    list_filter = ["enabled"]
    search_fields = ["name", "api_url"]
    readonly_fields = ["currency", "balance", "balance_checked_at", "created"]
    actions = ["check_balance", "sync_services"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_services=Count("services"))

    @admin.display(description="services", ordering="n_services")
    def services_count(self, provider):
        return provider.n_services

    def has_check_balance_permission(self, request):
        return has_permission(self, request, "check_balance")

    def has_sync_services_permission(self, request):
        return has_permission(self, request, "sync_services")

    @admin.action(description="Check balance", permissions=["check_balance"])
    def check_balance(self, request, queryset):
        for provider in queryset:
            try:
                catalog.refresh_balance(provider)
            except catalog.ProviderError as e:
                self.message_user(request, str(e), messages.ERROR)
            else:
                self.message_user(
                    request, f"{provider.name}: {provider.balance} {provider.currency}".rstrip(), messages.SUCCESS
                )

    @admin.action(description="Import / sync services", permissions=["sync_services"])
    def sync_services(self, request, queryset):
        """First an intermediate page asking the markup and category prefix, then the sync, reported as messages."""
        form = SyncServicesForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for provider in queryset:
                try:
                    report = catalog.sync_services(
                        provider,
                        markup_percent=form.cleaned_data["markup"],
                        category_prefix=form.cleaned_data["category_prefix"] or None,
                    )
                except catalog.ProviderError as e:
                    self.message_user(request, str(e), messages.ERROR)
                else:
                    self.message_user(request, linebreaksbr(str(report), autoescape=True), messages.SUCCESS)
            return None  # back to the list, where the messages show
        return action_page(
            self, request, "admin/providers/provider/sync_services.html", "Import / sync services", queryset, form=form
        )


@admin.register(UpstreamOrder)
class UpstreamOrderAdmin(admin.ModelAdmin):
    """Read-only, but for one thing: the upstream id of an order whose placing was ambiguous."""

    list_display = ["id", "order", "run", "provider", "state", "upstream_id", "status", "remains", "submitted_at"]
    list_filter = ["state", "provider", "status"]
    search_fields = ["=upstream_id", "=order__id"]

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in UpstreamOrder._meta.fields]
        if obj is not None and obj.state == UpstreamOrder.State.AMBIGUOUS:
            names.remove("upstream_id")
        return names

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the row is what keeps placing at-most-once: without it, the order would be sent again

    def save_model(self, request, obj, form, change):
        from smmpanel.providers import engine

        if "upstream_id" in form.changed_data and obj.upstream_id.strip():
            engine.link_upstream_id(obj.pk, obj.upstream_id.strip(), user=request.user)


@admin.register(UpstreamRefill)
class UpstreamRefillAdmin(admin.ModelAdmin):
    list_display = ["refill", "provider", "upstream_id", "status", "sent_at", "checked_at"]
    list_filter = ["provider", "status"]
    readonly_fields = [f.name for f in UpstreamRefill._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # what was forwarded is history
