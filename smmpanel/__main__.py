"""``python -m smmpanel`` is the same as the ``smmpanel`` command."""

from smmpanel.cli import main

main()
