"""The Python client (smmpanel.client) as one zip a customer downloads from the API docs page.

The client is not published on PyPI; it is stdlib plus httpx, so a zip of its package on
the path is all a script needs (Python imports from a zip: `PYTHONPATH=smmpanel-client.zip`).
The zip holds `smmpanel/client/*.py` under a bare `smmpanel/__init__.py` (none of the panel
itself), built once per process from the files this panel runs, so it matches its API.
"""

import io
import zipfile
from functools import cache
from pathlib import Path

import smmpanel.client

FILENAME = "smmpanel-client.zip"
PACKAGE_INIT = '"""The standalone Python client of an smmpanel panel: see smmpanel.client."""\n'


@cache
def client_zip() -> bytes:
    source = Path(smmpanel.client.__file__).parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("smmpanel/__init__.py", PACKAGE_INIT)
        for module in sorted(source.glob("*.py")):
            archive.write(module, f"smmpanel/client/{module.name}")
    return buffer.getvalue()
