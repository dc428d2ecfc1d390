"""Django's SQLite backend, made safe for gevent (`smmpanel serve` runs gunicorn's gevent workers).

SQLite makes a writer wait for the write lock inside the C library: its busy
handler sleeps (up to the `timeout` option) without returning to Python. With
threads that blocks one thread; with gevent, where every request of a process
shares one thread, it blocks the whole process — every other request waits
for the lock too, reads included, and 16 concurrent `add` calls stretched a
`balance` call to ~2 s.

So, under gevent only, a statement that may wait for the lock runs on a
native thread of a gevent thread pool while the request's greenlet yields:
`BEGIN IMMEDIATE` (how every transaction starts here, see settings), any
write made outside a transaction (it takes the lock itself), and COMMIT
(with synchronous=FULL it waits for an fsync). Inside a
transaction the lock is already held and, in WAL mode, reads never wait, so
everything else runs as usual. Outside gevent (threads, commands, tests)
nothing changes.
"""

import sys

from django.db.backends.sqlite3 import base
from django.db.backends.utils import debug_transaction  # type: ignore[attr-defined]  # not in django-stubs

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


_pools = {}


def off_the_hub(pool: str, function, *args):
    """Run `function` on a native thread of the named pool; the calling greenlet yields meanwhile.

    Two pools, so that commits never queue behind lock waiters: a greenlet
    holding the write lock commits on "commit" while up to 8 others wait for
    that lock on "lock" (more queue, yielding). Were they one pool, its
    threads could all be waiting for a lock whose holder's commit cannot get
    a thread: a deadlock until SQLite's busy timeout.
    """
    if pool not in _pools:  # made in the worker process, after gunicorn forked it
        from gevent.threadpool import ThreadPool

        _pools[pool] = ThreadPool(8 if pool == "lock" else 2)
    return _pools[pool].apply(function, args)


class CursorWrapper(base.SQLiteCursorWrapper):
    def execute(self, query, params=None):
        if cooperative() and not self.connection.in_transaction and may_wait(query):
            return off_the_hub("lock", super().execute, query, params)
        return super().execute(query, params)

    def executemany(self, query, param_list):
        if cooperative() and not self.connection.in_transaction and may_wait(query):
            return off_the_hub("lock", super().executemany, query, param_list)
        return super().executemany(query, param_list)


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name=None):
        return self.connection.cursor(factory=CursorWrapper)

    def _commit(self):
        # With synchronous=FULL a commit waits for the disk (an fsync, milliseconds):
        # under gevent, on a native thread, or the whole process would wait with it.
        if self.connection is not None and cooperative():
            with debug_transaction(self, "COMMIT"), self.wrap_database_errors:
                return off_the_hub("commit", self.connection.commit)
        return super()._commit()  # type: ignore[misc]  # Django's, not in django-stubs
