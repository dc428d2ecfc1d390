"""The owner's tickets: listed with filters by state and kind, read as a thread, answered and closed.

A ticket's page shows what it is about (its orders link to their admin pages)
and its thread; below it, staff who may change tickets (tickets.change_ticket)
write an answer and may close the ticket, both through
smmpanel.tickets.services, which mails the customer the answer. "Close" on the
list needs the same permission. Tickets are opened by customers only: no add
page.
"""

from django import forms
from django.contrib import admin, messages
from django.template.defaultfilters import linebreaks_filter
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from smmpanel.tickets import services
from smmpanel.tickets.errors import TicketError
from smmpanel.tickets.models import BODY_MAX, Ticket


class AnswerForm(forms.ModelForm):
    answer = forms.CharField(
        label=_("Answer"),
        required=False,
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        help_text=_("Added to the thread and mailed to the customer."),
    )
    close_ticket = forms.BooleanField(label=_("Close the ticket"), required=False)

    class Meta:
        model = Ticket
        fields: list[str] = []


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = AnswerForm
    list_display = ("id", "customer", "kind", "request", "state", "unread", "updated")
    list_display_links = ("id",)
    list_filter = ("state", "kind")
    list_select_related = ("account__user",)
    search_fields = ("=id", "account__user__username")
    ordering = ("-updated",)
    show_facets = admin.ShowFacets.NEVER
    actions = ["close_tickets"]
    readonly_fields = ("customer", "kind", "request", "payment_ref", "order_links", "state", "created", "thread")

    def get_fieldsets(self, request, obj=None):
        about = (None, {"fields": ("customer", "kind", "request", "order_links", "payment_ref", "state", "created")})
        sets = [about, (_("Thread"), {"fields": ("thread",)})]
        if obj is not None and self.has_change_permission(request, obj):
            sets.append((_("Answer"), {"fields": ("answer", "close_ticket")}))
        return sets

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__user")

    @admin.display(description=_("customer"), ordering="account__user__username")
    def customer(self, ticket):
        return ticket.account.user.username

    @admin.display(description=_("orders"))
    def order_links(self, ticket):
        ids = sorted(ticket.orders.values_list("pk", flat=True))
        return format_html_join(
            ", ", '<a href="{}">#{}</a>', ((reverse("admin:orders_order_change", args=[pk]), pk) for pk in ids)
        )

    @admin.display(description=_("thread"))
    def thread(self, ticket):
        rows = ticket.messages.select_related("staff").order_by("id")
        return format_html(
            '<div class="ticket-thread">{}</div>',
            format_html_join(
                "",
                '<div class="ticket-message"><p><strong>{}</strong> · {}</p>{}</div>',
                (
                    (
                        self._author(message, ticket),
                        localtime(message.created).strftime("%Y-%m-%d %H:%M"),
                        linebreaks_filter(message.body, autoescape=True),
                    )
                    for message in rows
                ),
            ),
        )

    @staticmethod
    def _author(message, ticket) -> str:
        if not message.from_staff:
            return ticket.account.user.username
        name = message.staff.get_username() if message.staff else gettext("staff")
        return gettext("%(name)s (staff)") % {"name": name}

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        # Nothing of the ticket's own is edited here: the answer and the closing go through the services.
        text = form.cleaned_data.get("answer", "").strip()
        if text:
            link = request.build_absolute_uri(reverse("web:ticket", args=[obj.pk]))
            try:
                services.answer(obj.pk, request.user, text, link=link)
            except TicketError as error:
                messages.error(request, str(error))
        if form.cleaned_data.get("close_ticket"):
            services.close([obj.pk])

    def construct_change_message(self, request, form, formsets, add=False):
        done = []
        if form.cleaned_data.get("answer", "").strip():
            done.append("Answered.")
        if form.cleaned_data.get("close_ticket"):
            done.append("Closed.")
        return " ".join(done)

    @admin.action(description=_("Close the selected tickets"), permissions=["change"])
    def close_tickets(self, request, queryset):
        closed = services.close(queryset.values_list("pk", flat=True))
        words = ngettext("%(count)d ticket closed.", "%(count)d tickets closed.", closed)
        self.message_user(request, words % {"count": closed}, messages.SUCCESS)
