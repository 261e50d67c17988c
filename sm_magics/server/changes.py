"""The ledger's version: a short string that changes whenever any job or endpoint row does.

``GET /changes`` compares it with the version the panel last saw, every quarter second,
so it has to be cheap and must not need the ledger's help: every writer (kernels, job
supervisors, endpoint routers, this server) stamps ``updated_at`` on each insert and
update, so the row count and the sum and maximum of ``updated_at`` of both tables move
on every write, including a rolled-back creation's delete. The version is a hash of those
six numbers: opaque to clients, who only compare it for equality.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

_QUERY = """
SELECT count(*), max(updated_at), total(updated_at) FROM jobs
UNION ALL
SELECT count(*), max(updated_at), total(updated_at) FROM endpoints
"""

#: The version of a ledger that has no rows yet (or no file).
EMPTY = "0"


class LedgerVersion:
    """Read the version of one ledger file over a connection of its own.

    Its own connection keeps the quarter-second checks of idle panels off the ledger
    object's lock, which requests that refresh jobs from their backends also take. It
    opens the file read-write but never creates it: a server with nothing to show must
    not make an empty ledger appear.

    Parameters
    ----------
    path
        The ledger's SQLite file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is None:
            if not self.path.is_file():
                return None
            self._conn = sqlite3.connect(
                f"{self.path.as_uri()}?mode=rw", uri=True, timeout=30.0, check_same_thread=False
            )
            self._conn.execute("PRAGMA busy_timeout = 30000")
        return self._conn

    def read(self) -> str:
        """Return the current version (blocking: call it from a worker thread)."""
        with self._lock:
            conn = self._connect()
            if conn is None:
                return EMPTY
            try:
                rows = conn.execute(_QUERY).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):  # created this instant, not migrated yet
                    return EMPTY
                raise
        if all(count == 0 for count, _, _ in rows):
            return EMPTY
        digest = hashlib.sha1(repr(rows).encode(), usedforsecurity=False)
        return digest.hexdigest()[:16]

    def close(self) -> None:
        """Close the connection; the next :meth:`read` opens it again."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
