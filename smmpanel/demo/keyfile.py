"""Where the demo customer's API key is kept: one file per database, readable by its owner only.

The file is named by a digest of the database's identity (engine, host, port,
name), so seeding a second database (another DATABASE_URL, the same data
directory) keeps the first one's file, and its key stays the one printed.
"""

import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import connection


def key_file() -> Path:
    db = connection.settings_dict
    identity = "|".join(str(db.get(part) or "") for part in ("ENGINE", "HOST", "PORT", "NAME"))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return settings.DATA_DIR / f"demo-api-key-{digest}"


def read_key() -> str:
    path = key_file()
    return path.read_text().strip() if path.exists() else ""


def write_key(key: str) -> None:
    """Replace the file atomically, created 0600 (mkstemp), so no reader sees half a key."""
    path = key_file()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(key)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
