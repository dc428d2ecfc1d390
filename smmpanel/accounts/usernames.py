"""What a new account's username may be: ASCII letters, digits and . _ - only.

Django's own rule admits any Unicode letter, so `аdmin` (a Cyrillic а) could
pass for `admin`. Accounts made before this rule keep their names; sign-up and
`smmpanel user create` apply it to new ones.
"""

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

validate_new_username = RegexValidator(
    r"\A[A-Za-z0-9._-]+\Z",
    message=_("Use only letters a–z, digits and . _ - in a username."),
    code="invalid",
)
