"""``python -m smmpanel.client`` is the same as ``smmpanel client``."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:], prog="python -m smmpanel.client"))
