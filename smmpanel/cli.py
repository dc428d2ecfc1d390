"""The ``smmpanel`` console command: a thin front to Django's management commands.

``smmpanel migrate``, ``smmpanel serve``, ``smmpanel worker``, ``smmpanel demo``,
``smmpanel user create …`` and every other management command work the same as
``django-admin`` with our settings. ``smmpanel client …`` is the API v2 client
(smmpanel.client.cli), which runs without Django.
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    if argv[1:2] == ["client"]:
        # The API client is standalone (resellers run it without a panel): hand over before Django.
        from smmpanel.client.cli import main as client_main

        sys.exit(client_main(argv[2:]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smmpanel.settings")
    from django.core.management import execute_from_command_line

    argv[0] = "smmpanel"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
