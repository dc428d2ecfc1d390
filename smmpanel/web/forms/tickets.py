"""Forms of support tickets: a new ticket (what it is about, the first message) and a reply."""

from django import forms
from django.utils.translation import gettext_lazy as _

from smmpanel.tickets.models import BODY_MAX, PAYMENT_REF_MAX, Kind, Request


class NewTicketForm(forms.Form):
    kind = forms.ChoiceField(label=_("Subject"), choices=Kind.choices)
    order_ids = forms.CharField(
        label=_("Order ids"),
        required=False,
        max_length=400,
        help_text=_("One or more of your orders, e.g. 1234, 1235."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    request = forms.ChoiceField(label=_("Request"), required=False, choices=[("", "—"), *Request.choices])
    payment_ref = forms.CharField(label=_("Payment id or transaction"), required=False, max_length=PAYMENT_REF_MAX)
    body = forms.CharField(
        label=_("Message"), max_length=BODY_MAX, widget=forms.Textarea(attrs={"rows": 6, "maxlength": BODY_MAX})
    )


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Your reply"), max_length=BODY_MAX, widget=forms.Textarea(attrs={"rows": 4, "maxlength": BODY_MAX})
    )
