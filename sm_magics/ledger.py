"""The ledger: one SQLite file recording every job launched from this machine.

Why SQLite: the kernel, each detached job supervisor and the Jupyter server extension read
and write it at the same time, from different processes, and any of them may be killed at
any moment. SQLite in WAL mode gives readers that never block the writer, atomic
transactions that survive a ``kill -9``, and a busy timeout instead of "database is
locked" errors; no server to run.

The ledger is an index, not the truth: a backend (the job folder on the local backend, the
SageMaker API on AWS) owns status. The ledger mirrors it so that listing jobs, the side
panel, cleanup and cost totals are one cheap query, even after a kernel restart.

This module is the connection and its reads and writes; what a row holds is in
:mod:`sm_magics.ledger_records`, the schema and its migrations in
:mod:`sm_magics.ledger_schema`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sm_magics import config, storage
from sm_magics.errors import AlreadyExists
from sm_magics.ledger_records import (
    ENDPOINT_COLUMNS,
    JOB_COLUMNS,
    EndpointRecord,
    JobRecord,
    SqlValue,
    endpoint_taken_message,
    job_from_row,
    job_taken_message,
    row_values,
    sql_value,
    to_row,
)
from sm_magics.ledger_schema import ACTIVE_JOBS_SQL, MAX_LIMIT, enable_wal, migrate
from sm_magics.storage import file_identity, secure_file

if TYPE_CHECKING:
    from typing import Unpack

    from sm_magics.ledger_records import EndpointChanges, JobChanges


class LedgerWarning(UserWarning):
    """The ledger file changed under a running process (deleted, replaced, rebuilt)."""


class Ledger:
    """Access to the ledger file, safe across threads and processes.

    Parameters
    ----------
    path
        The SQLite file; default ``SM_MAGICS_HOME/ledger.sqlite``.

    Notes
    -----
    One connection per ``Ledger`` object, serialised by a lock: statements take
    microseconds, and a lock is cheaper and simpler than a connection per thread. Writes use
    ``BEGIN IMMEDIATE`` so two processes never both read-then-write the same row.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config.home_dir() / "ledger.sqlite"
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None
        self._writes = 0  # commits through this object (data_version counts the others')
        self._opens = 0  # connections opened: a reopened file starts data_version anew

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None and file_identity(self.path) != self._identity:
            # Deleted, replaced or rebuilt under us: writing on would go to a file nobody
            # else reads any more. Reopen by name, so every process shares one ledger.
            self._conn.close()
            self._conn = None
            warnings.warn(
                f"The ledger {self.path} was deleted or replaced while in use; it was "
                "reopened. If it was deleted, the rows of earlier jobs are missing from it: "
                f"{storage.REBUILD} brings them back from the job and endpoint folders.",
                LedgerWarning,
                stacklevel=4,
            )
        if self._conn is None:
            storage.secure_dir(self.path.parent)
            secure_file(self.path)
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            try:
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA busy_timeout = 30000")
                enable_wal(conn)
                conn.execute("PRAGMA synchronous = NORMAL")
                migrate(conn)
            except BaseException:
                conn.close()
                raise
            self._identity = file_identity(self.path)
            self._opens += 1
            self._conn = conn
        return self._conn

    @contextmanager
    def _storage_errors(self) -> Iterator[None]:
        """Turn a failing file (damaged, full disk, no permission) into a StorageError."""
        try:
            yield
        except sqlite3.Error as exc:
            error = storage.from_sqlite_error(exc, self.path)
            if error is None:
                raise
            raise error from None
        except OSError as exc:
            error = storage.from_os_error(exc, self.path)
            if error is None:
                raise
            raise error from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._storage_errors():
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            self._writes += 1

    def _read(
        self, sql: str, params: Mapping[str, SqlValue] | tuple[SqlValue, ...] = ()
    ) -> list[sqlite3.Row]:
        with self._lock, self._storage_errors():
            return self._connect().execute(sql, params).fetchall()

    def generation(self) -> tuple[int, int, int]:
        """Return a value that changes whenever any process writes to the ledger.

        ``PRAGMA data_version`` moves on other connections' commits; this object's own
        writes are counted apart; the connection's identity covers a reopened file. For
        caches of what only a write can change (the ended rows' cost totals).
        """
        with self._lock, self._storage_errors():
            conn = self._connect()
            return self._opens, conn.execute("PRAGMA data_version").fetchone()[0], self._writes

    def query(
        self, sql: str, params: Mapping[str, SqlValue] | tuple[SqlValue, ...] = ()
    ) -> list[sqlite3.Row]:
        """Run one read-only statement (aggregates that live next to their users)."""
        return self._read(sql, params)

    def close(self) -> None:
        """Close the connection; the object reconnects on next use."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _insert(self, table: str, record: JobRecord | EndpointRecord, taken: str) -> None:
        """Insert one record; a uniqueness conflict raises ``AlreadyExists(taken)``."""
        record.updated_at = time.time()
        row = to_row(record)
        columns = ", ".join(row)
        marks = ", ".join(f":{key}" for key in row)
        try:
            with self._write() as conn:
                conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", row)  # noqa: S608
        except sqlite3.IntegrityError:
            raise AlreadyExists(taken) from None

    def _update(
        self,
        table: str,
        allowed: tuple[str, ...],
        where: str,
        name: str,
        changes: Mapping[str, object],
    ) -> None:
        """Set columns of the row ``where`` selects for ``name`` (bound as ``:_name``)."""
        unknown = set(changes) - set(allowed)
        if unknown:
            raise TypeError(f"unknown ledger columns: {sorted(unknown)}")
        values = {key: sql_value(key, value) for key, value in changes.items()}
        values["updated_at"] = time.time()
        assignments = ", ".join(f"{key} = :{key}" for key in values)
        with self._write() as conn:
            conn.execute(
                f"UPDATE {table} SET {assignments} WHERE {where}",  # noqa: S608
                {**values, "_name": name},
            )

    # -- jobs -----------------------------------------------------------------------------

    def insert_job(self, record: JobRecord) -> None:
        """Add a job row; the primary key makes this the atomic reservation of its name.

        Raises
        ------
        AlreadyExists
            A job of that name is already in the ledger (on any backend).
        """
        self._insert("jobs", record, job_taken_message(record.name))

    def update_job(self, name: str, **changes: Unpack[JobChanges]) -> None:
        """Set some columns of one job row; unknown column names are a programming error."""
        self._update("jobs", JOB_COLUMNS, "name = :_name", name, changes)

    def delete_job(self, name: str) -> None:
        """Remove a job row: only to roll back a creation that failed half-way."""
        with self._write() as conn:
            conn.execute("DELETE FROM jobs WHERE name = ?", (name,))

    def get_job(self, name: str) -> JobRecord | None:
        """Return the row of one job, or ``None``."""
        rows = self._read("SELECT * FROM jobs WHERE name = ?", (name,))
        return job_from_row(rows[0]) if rows else None

    def list_jobs(
        self,
        *,
        status: str | None = None,
        backend: str | None = None,
        kind: str | None = None,
        active_only: bool = False,
        notebook: str | None = None,
        limit: int | None = None,
    ) -> list[JobRecord]:
        """Return job rows, newest first, filtered by the given columns.

        Every filter and the limit are applied by SQLite, over an index that pairs the
        filter with the order, so a page costs the same with 10 rows as with 10,000.
        ``kind`` is any job kind the backends record (``training``, ``transform``, ...).
        """
        clauses: list[str] = []
        params: dict[str, SqlValue] = {}
        if status is not None:
            clauses.append("status = :status")
            params["status"] = status
        if backend is not None:
            clauses.append("backend = :backend")
            params["backend"] = backend
        if notebook is not None:
            clauses.append("notebook = :notebook")
            params["notebook"] = notebook
        if kind is not None:
            clauses.append("kind = :kind")
            params["kind"] = kind
        if active_only:
            clauses.append(ACTIVE_JOBS_SQL)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM jobs {where} ORDER BY created_at DESC, name"  # noqa: S608
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = min(int(limit), MAX_LIMIT)
        return [job_from_row(row) for row in self._read(sql, params)]

    # -- endpoints --------------------------------------------------------------------------

    def insert_endpoint(self, record: EndpointRecord) -> None:
        """Add an endpoint row; the partial unique index reserves the name while live.

        Raises
        ------
        AlreadyExists
            A live endpoint of that name is in the ledger.
        """
        self._insert("endpoints", record, endpoint_taken_message(record.name))

    def update_endpoint(self, name: str, **changes: Unpack[EndpointChanges]) -> None:
        """Set columns of the live (not deleted) endpoint row called ``name``."""
        # The newest row of that name: the live one, or the one just marked Deleted.
        newest = "id = (SELECT id FROM endpoints WHERE name = :_name ORDER BY id DESC LIMIT 1)"
        self._update("endpoints", ENDPOINT_COLUMNS, newest, name, changes)

    def delete_endpoint_row(self, name: str) -> None:
        """Remove the newest row of ``name``: only to roll back a failed creation."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM endpoints WHERE id = ("
                "SELECT id FROM endpoints WHERE name = ? ORDER BY id DESC LIMIT 1)",
                (name,),
            )

    def get_endpoint(self, name: str) -> EndpointRecord | None:
        """Return the newest row of endpoint ``name`` (live or deleted), or ``None``."""
        rows = self._read(
            "SELECT * FROM endpoints WHERE name = ? ORDER BY id DESC LIMIT 1", (name,)
        )
        return EndpointRecord(**row_values(rows[0])) if rows else None

    def list_endpoints(
        self,
        *,
        live_only: bool = True,
        backend: str | None = None,
        notebook: str | None = None,
        limit: int | None = None,
    ) -> list[EndpointRecord]:
        """Return endpoint rows, newest first."""
        clauses: list[str] = []
        params: dict[str, SqlValue] = {}
        if live_only:
            clauses.append("status != 'Deleted'")
        if backend is not None:
            clauses.append("backend = :backend")
            params["backend"] = backend
        if notebook is not None:
            clauses.append("notebook = :notebook")
            params["notebook"] = notebook
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM endpoints {where} ORDER BY created_at DESC, id DESC"  # noqa: S608
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = min(int(limit), MAX_LIMIT)
        return [EndpointRecord(**row_values(row)) for row in self._read(sql, params)]


if __name__ == "__main__":  # python -m sm_magics.ledger rebuild
    # The command line lives in ledger_rebuild, which builds on this module; running it by
    # name keeps the layering one way (ledger_rebuild -> ledger), as for any entry point.
    import runpy

    runpy.run_module("sm_magics.ledger_rebuild", run_name="__main__", alter_sys=True)
