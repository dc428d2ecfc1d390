"""Django's SQLite backend, made safe for gevent (`smmpanel serve` runs gunicorn's gevent workers).

SQLite makes a writer wait for the write lock inside the C library: its busy
handler sleeps (up to the `timeout` option) without returning to Python. With
threads that blocks one thread; with gevent, where every request of a process
shares one thread, it blocks the whole process — every other request waits
for the lock too, reads included, and 16 concurrent `add` calls stretched a
`balance` call to ~2 s.

So, under gevent only, a statement that may wait for the lock runs on one of
gevent's native threads (gevent.get_hub().threadpool) while the request's
greenlet yields: `BEGIN IMMEDIATE` (how every transaction starts here, see
settings) and any write made outside a transaction (it takes the lock itself).
Inside a transaction the lock is already held and, in WAL mode, reads never
wait, so everything else runs as usual. Outside gevent (threads, commands,
tests) nothing changes.
"""

import sys

from django.db.backends.sqlite3 import base

# Statements that never wait for SQLite's write lock outside a transaction (in WAL mode).
READS = ("SELECT", "PRAGMA", "EXPLAIN")
_cooperative = None


def cooperative() -> bool:
    """Is this process a gevent one (threading monkey-patched)? Decided at the first statement."""
    global _cooperative
    if _cooperative is None:
        monkey = sys.modules.get("gevent.monkey")
        _cooperative = bool(monkey and monkey.is_module_patched("threading"))
    return _cooperative


def may_wait(query: str) -> bool:
    """Could this statement wait for the write lock? (A WITH … SELECT is counted in: harmless.)"""
    return not query.lstrip()[:7].upper().startswith(READS)


def off_the_hub(function, *args):
    import gevent

    return gevent.get_hub().threadpool.apply(function, args)


class CursorWrapper(base.SQLiteCursorWrapper):
    def execute(self, query, params=None):
        if cooperative() and not self.connection.in_transaction and may_wait(query):
            return off_the_hub(super().execute, query, params)
        return super().execute(query, params)

    def executemany(self, query, param_list):
        if cooperative() and not self.connection.in_transaction and may_wait(query):
            return off_the_hub(super().executemany, query, param_list)
        return super().executemany(query, param_list)


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name=None):
        return self.connection.cursor(factory=CursorWrapper)
