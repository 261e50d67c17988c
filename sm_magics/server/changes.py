"""The ledger's version: a short string that changes whenever any job or endpoint row does.

``GET /changes`` compares it with the version the panel last saw, every quarter second,
so it must cost nothing while nothing changes, however long the history. It asks SQLite
``PRAGMA data_version`` first: a number, kept in shared memory, that moves whenever
another connection (any kernel, job supervisor, endpoint router, or this server's
ledger) commits to the file. While it stands still the version is the one computed
before, and no row is read. When it moves, the generation counter moves with it; the only
rows read are one probe per table, to answer :data:`EMPTY` for a ledger with no rows.

The file itself is watched by its identity (device, inode, link count): a ledger
deleted, replaced or rebuilt under a running server is reopened, never followed as an
unlinked file that nobody else writes any more.

The version is opaque to clients, who only compare it for equality; each
:class:`LedgerVersion` starts its generations from a random prefix, so a restarted server
never hands out a version an old panel already holds for other contents.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from pathlib import Path

from sm_magics import storage
from sm_magics.storage import file_identity

#: The version of a ledger that has no rows yet (or no file).
EMPTY = "0"

_ANY_ROW = "SELECT EXISTS (SELECT 1 FROM jobs) OR EXISTS (SELECT 1 FROM endpoints)"


class LedgerVersion:
    """Read the version of one ledger file over a connection of its own.

    Its own connection keeps the quarter-second checks of idle panels off the ledger
    object's lock, which requests that refresh jobs from their backends also take, and
    makes every write of that ledger object visible in ``data_version``. It opens the
    file read-write but never creates it: a server with nothing to show must not make an
    empty ledger appear.

    Parameters
    ----------
    path
        The ledger's SQLite file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None
        self._prefix = secrets.token_hex(4)
        self._generation = 0
        self._seen: int | None = None  # data_version at the last answer
        self._answer = EMPTY

    def _reconnect(self, identity: tuple[int, int] | None) -> sqlite3.Connection | None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._identity = identity
        self._seen = None
        if identity is None:
            return None
        self._conn = sqlite3.connect(
            f"{self.path.as_uri()}?mode=rw", uri=True, timeout=30.0, check_same_thread=False
        )
        self._conn.execute("PRAGMA busy_timeout = 30000")
        return self._conn

    def read(self) -> str:
        """Return the current version (blocking: call it from a worker thread)."""
        with self._lock:
            identity = file_identity(self.path)
            conn = self._conn
            if identity != self._identity or conn is None:
                conn = self._reconnect(identity)
                if conn is None:
                    self._answer = EMPTY
                    return EMPTY
            try:
                data_version = conn.execute("PRAGMA data_version").fetchone()[0]
                if data_version == self._seen:
                    return self._answer
                empty = not conn.execute(_ANY_ROW).fetchone()[0]
            except sqlite3.Error as exc:
                if "no such table" in str(exc):  # created this instant, not migrated yet
                    return EMPTY
                error = storage.from_sqlite_error(exc, self.path)
                if error is None:
                    raise
                self._reconnect(None)  # a rebuilt file is picked up by the next read
                raise error from None
            self._seen = data_version
            self._generation += 1
            self._answer = EMPTY if empty else f"{self._prefix}.{self._generation}"
            return self._answer

    def close(self) -> None:
        """Close the connection; the next :meth:`read` opens it again."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._identity = None
