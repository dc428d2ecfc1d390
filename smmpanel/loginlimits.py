"""Which address a log-in attempt came from, for the lockout (django-axes, see settings).

Directly exposed, it is the socket's peer (REMOTE_ADDR). Behind the
TLS-terminating proxy the settings trust (SECURE_PROXY_SSL_HEADER, on with an
https SITE_URL) every peer is the proxy, so the client is the last address in
X-Forwarded-For: the one the proxy appended (nginx `$proxy_add_x_forwarded_for`,
Caddy by default). Earlier entries come from the client and prove nothing.
"""

from django.conf import settings


def client_ip(request) -> str | None:
    meta = request.META
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = [a.strip() for a in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-1]
    return meta.get("REMOTE_ADDR")
