"""Forms of the customer's own account: signing up, preferences (time zone, e-mail), the API key's confirmation.

Log-in, password change and reset use Django's own forms (django.contrib.auth.forms).
"""

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import UsernameField
from django.utils.translation import gettext_lazy as _

from smmpanel.accounts.usernames import validate_new_username
from smmpanel.web import timezones


class SignupForm(forms.Form):
    username = UsernameField(
        label=_("Username"),
        max_length=150,
        help_text=_("Letters a–z, digits and . _ - only."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    email = forms.EmailField(label=_("E-mail"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_username(self):
        username = self.cleaned_data["username"]
        # ASCII only for new accounts: no look-alike of another name (a Cyrillic а in "аdmin").
        validate_new_username(username)
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("That username is taken."), code="taken")
        return username

    # A taken e-mail is not an error here: the view answers as for a free one and mails
    # the address's owner instead (smmpanel/web/signupmail.py), so the form tells no one
    # which addresses have accounts.

    def clean(self):
        super().clean()
        data = self.cleaned_data
        password1, password2 = data.get("password1"), data.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords differ."))
        elif password1:
            # The validators compare the password with the username and e-mail too.
            user = get_user_model()(username=data.get("username", ""), email=data.get("email", ""))
            try:
                password_validation.validate_password(password1, user)
            except forms.ValidationError as e:
                self.add_error("password1", e)
        return data


def _zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in timezones.choices()]


class SettingsForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=_zone_choices,
        help_text=_("Times on your pages are shown in this zone."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_email(self):
        email = self.cleaned_data["email"]
        taken = get_user_model().objects.filter(email__iexact=email).exclude(pk=self.user.pk).exists()
        if taken:
            raise forms.ValidationError(_("Another account uses that e-mail."))
        return email


class NewKeyForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand that my current key stops working at once."),
        error_messages={"required": _("Tick the box to confirm: the current key stops working.")},
    )
