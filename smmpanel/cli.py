"""The ``smmpanel`` console command: a thin front to Django's management commands.

``smmpanel migrate``, ``smmpanel serve``, ``smmpanel worker``, ``smmpanel demo``,
``smmpanel user create …`` and every other management command work the same as
``django-admin`` with our settings.
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smmpanel.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv if argv is None else argv)
    argv[0] = "smmpanel"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
