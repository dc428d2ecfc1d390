"""WSGI entry point for gunicorn (``smmpanel.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smmpanel.settings")
application = get_wsgi_application()
