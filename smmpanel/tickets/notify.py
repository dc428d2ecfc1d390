"""The e-mail a customer gets when the staff answer their ticket (Django's mail, the configured backend).

Sent after the answer's commit; a customer without an e-mail address gets none. A mail that cannot
be sent is logged: the answer stays in the thread, where the customer sees it and the menu counts it.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

log = logging.getLogger(__name__)


def answered(ticket, message, link: str) -> None:
    user = ticket.account.user
    if not user.email:
        return
    context = {"user": user, "ticket": ticket, "message": message, "link": link, "site_name": settings.SITE_NAME}
    subject = "".join(render_to_string("tickets/answer_subject.txt", context).splitlines())
    body = render_to_string("tickets/answer_email.txt", context)
    try:
        send_mail(subject, body, None, [user.email])
    except Exception:  # a mail server's fault must not turn the saved answer into an error page
        log.exception("the answer to ticket #%s could not be mailed", ticket.pk)
