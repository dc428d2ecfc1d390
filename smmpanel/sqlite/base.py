"""Django's SQLite backend, made safe for gevent (`smmpanel serve` runs gunicorn's gevent workers).

SQLite makes a writer wait for the write lock inside the C library: its busy
handler sleeps (up to the `timeout` option) without returning to Python. With
threads that blocks one thread; with gevent, where every request of a process
shares one thread, it blocks the whole process — every other request waits
for the lock too, reads included, and 16 concurrent `add` calls stretched a
`balance` call to ~2 s.

So, under gevent only, a statement that may wait for the lock waits on a
native thread of a gevent thread pool while the request's greenlet yields:
`BEGIN IMMEDIATE` (how every transaction starts here, see settings) when the
lock is taken, and any write made outside a transaction (it takes the lock
itself). Inside a transaction the lock is already held and, in WAL mode,
reads never wait, so everything else runs as usual, COMMIT included (see
`_commit`: its fsync is shorter than a hand-over to a thread and back,
during which the lock stayed held).

Writers also queue before they ask SQLite (`Writers`): SQLite's busy
handler polls, sleeping 1, 2, 5, 10 … up to 100 ms between tries, so with
many greenlets waiting on native threads a freed lock sat unused while each
waiter slept, and the order was a lottery: `add` ran at 71/s with FULL, its
p99 over a second. Now the writers of one process queue on a gevent lock
(a greenlet waiting there costs nothing and starts the moment the previous
one is done), and the one at its head takes an flock on a file next to the
database, which the kernel hands to the next process the moment it is
released (no polling); only then BEGIN IMMEDIATE. So the gunicorn workers
take turns promptly, and SQLite's busy handler is left to writers outside
them (the background worker, commands), one thread each. When the flock and
SQLite's lock are free (the usual case), both are taken right here, on the
hub: a hand-over to a native thread and back cost more than the wait.

Outside gevent (threads, commands, tests) nothing changes.

The overrides lean on private methods of Django's SQLite backend:
smmpanel.compat.SQLITE_BACKEND checks their shape at start-up, and where
Django differs this backend is Django's own (`wrapper_class`).
"""

import fcntl
import os
import sqlite3
import sys

from django.db.backends.sqlite3 import base

from smmpanel.compat import SQLITE_BACKEND

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


def starts_transaction(query: str) -> bool:
    return query.lstrip()[:5].upper() == "BEGIN"


_pool = None


def off_the_hub(function, *args):
    """Run `function` on a native thread of the process's pool; the calling greenlet yields meanwhile.

    The pool is for what waits for the write lock (up to 8 at once; more
    queue, yielding). Commits run on the hub (see `_commit`).
    """
    global _pool
    if _pool is None:  # made in the worker process, after gunicorn forked it
        from gevent.threadpool import ThreadPool

        _pool = ThreadPool(8)
    return _pool.apply(function, args)


_writers: dict = {}


class Writers:
    """The queue of writers to one database file: a gevent lock in the process, an flock across processes."""

    def __init__(self, database: str):
        from gevent.lock import BoundedSemaphore

        self.queue = BoundedSemaphore(1)
        # The lock file is the database's name + "-writers", private like the database (see settings).
        self.fd = os.open(f"{database}-writers", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def acquire(self) -> None:
        self.queue.acquire()  # the process's turn: other greenlets wait here, yielding
        try:
            try:
                # The database's turn among processes. Free: taken here, at once. Taken by
                # another process: waited for on a native thread, which costs a hand-over
                # both ways (most of the CPU an `add` spent on gevent's side).
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                off_the_hub(fcntl.flock, self.fd, fcntl.LOCK_EX)
        except BaseException:
            self.queue.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.queue.release()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


def writers(database: str) -> Writers:
    """The writers' queue of this database file in this process (made after gunicorn forked it)."""
    key = (os.getpid(), database)
    if key not in _writers:
        _writers[key] = Writers(database)
    return _writers[key]


class CursorWrapper(base.SQLiteCursorWrapper):
    writers: Writers  # set by DatabaseWrapper.create_cursor under gevent

    def execute(self, query, params=None):
        if cooperative() and not self.connection.in_transaction and may_wait(query):
            if starts_transaction(query):  # its connection took the writer lock already (DatabaseWrapper)
                return off_the_hub(super().execute, query, params)
            with self.writers:
                return off_the_hub(super().execute, query, params)
        return super().execute(query, params)

    def executemany(self, query, param_list):
        if cooperative() and not self.connection.in_transaction and may_wait(query):
            with self.writers:
                return off_the_hub(super().executemany, query, param_list)
        return super().executemany(query, param_list)


class GeventDatabaseWrapper(base.DatabaseWrapper):
    writing = False  # this connection holds its database's writers' queue (gevent only)

    def create_cursor(self, name=None):
        cursor = self.connection.cursor(factory=CursorWrapper)
        if cooperative():
            cursor.writers = writers(self.settings_dict["NAME"])
        return cursor

    def _start_transaction_under_autocommit(self):
        # Every transaction starts here (BEGIN IMMEDIATE, see settings): queue in the
        # process first, then wait for SQLite's lock (other processes) off the hub.
        if not cooperative():
            return super()._start_transaction_under_autocommit()  # type: ignore[misc]  # Django's, not in django-stubs
        if not self.writing:
            writers(self.settings_dict["NAME"]).acquire()
            self.writing = True
        try:
            if not self._begin_at_once():
                return super()._start_transaction_under_autocommit()  # type: ignore[misc]  # Django's, not in django-stubs
        except BaseException:
            self._done_writing()
            raise

    def _begin_at_once(self) -> bool:
        """BEGIN here, without waiting: True when it began, False when the lock is taken (wait for it off the hub).

        Holding the writers' flock, the lock is free unless a writer outside the
        queue holds it (the background worker, a command), so SQLite is asked
        with a busy timeout of 0 first: the usual case costs no hand-over to a
        native thread and back. Left to Django's cursor when someone watches the
        queries (the log shows the BEGIN then).
        """
        raw = self.connection
        if self.queries_logged or self.execute_wrappers:
            return False
        with self.wrap_database_errors:
            raw.execute("PRAGMA busy_timeout = 0")
            try:
                raw.execute(f"BEGIN {getattr(self, 'transaction_mode', None) or ''}")
            except sqlite3.OperationalError as e:
                if e.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
                return False
            finally:
                raw.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms()}")
        return True

    def _busy_timeout_ms(self) -> int:
        return int(float(self.settings_dict["OPTIONS"].get("timeout", 5)) * 1000)  # Django's connect() default: 5 s

    def _done_writing(self) -> None:
        if self.writing:
            self.writing = False
            writers(self.settings_dict["NAME"]).release()

    def _commit(self):
        # On the hub, not on a native thread: the writers' lock is held until the commit is
        # done, and a hand-over to a thread and back held it over other greenlets' turns too
        # (the thread waits for the GIL, the greenlet for its turn after the result), so each
        # add kept the lock far longer than its fsync. The process waits for the fsync (with
        # synchronous=FULL; a fraction of a millisecond on an SSD) while the other workers go
        # on: `add` 622 → 735 orders/s in one run each (docs/benchmarks-journal.md, issue 17).
        try:
            return super()._commit()  # type: ignore[misc]  # Django's, not in django-stubs
        finally:
            self._done_writing()

    def _rollback(self):
        try:
            return super()._rollback()  # type: ignore[misc]  # Django's, not in django-stubs
        finally:
            self._done_writing()

    def _close(self):
        try:
            return super()._close()  # type: ignore[misc]  # Django's, not in django-stubs
        finally:
            self._done_writing()


def wrapper_class() -> type[base.DatabaseWrapper]:
    """The backend's connection class: the gevent-safe one, or Django's own where its shape differs."""
    return GeventDatabaseWrapper if SQLITE_BACKEND.on else base.DatabaseWrapper


DatabaseWrapper = wrapper_class()  # what Django's connection handler loads from this backend
