"""The ledger: one SQLite file recording every job launched from this machine.

Why SQLite: the kernel, each detached job supervisor and the Jupyter server extension read
and write it at the same time, from different processes, and any of them may be killed at
any moment. SQLite in WAL mode gives readers that never block the writer, atomic
transactions that survive a ``kill -9``, and a busy timeout instead of "database is
locked" errors; no server to run.

The ledger is an index, not the truth: a backend (the job folder on the local backend, the
SageMaker API on AWS) owns status. The ledger mirrors it so that listing jobs, the side
panel, cleanup and cost totals are one cheap query, even after a kernel restart.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypedDict

from sm_magics import config, storage
from sm_magics.errors import AlreadyExists
from sm_magics.storage import file_identity, secure_file

#: Every kind of job the ledger's ``kind`` column holds; the column and the filters on it
#: are plain text, so a new kind (processing, tuning, ...) is one more name here.
JOB_KINDS = ("training", "transform", "processing", "tuning")

#: The status of a row whose resource its backend no longer has (deleted, or removed out
#: of band); only the ledger keeps it, as history for cost totals.
DELETED = "Deleted"
#: Job statuses after which nothing changes any more.
TERMINAL_JOB_STATUSES = frozenset({"Completed", "Failed", "Stopped", DELETED})

# Each entry upgrades the schema by one version; ``PRAGMA user_version`` records how far a
# file got, so an old ledger is upgraded in place and never recreated (rows are history).
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL DEFAULT 'training',
        backend TEXT NOT NULL,
        region TEXT,
        status TEXT NOT NULL,
        secondary_status TEXT,
        instance_type TEXT,
        instance_count INTEGER NOT NULL DEFAULT 1,
        spot INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        failure_reason TEXT,
        model_data TEXT,
        source_hash TEXT,
        notebook TEXT,
        tags TEXT NOT NULL DEFAULT '{}',
        spec TEXT NOT NULL DEFAULT '{}',
        updated_at REAL NOT NULL
    );
    CREATE INDEX jobs_by_status ON jobs (status);
    CREATE INDEX jobs_by_created ON jobs (created_at);
    """,
    # 2: endpoints. A name is unique among endpoints not deleted (SageMaker frees the name
    # on delete); deleted rows stay as history for cost totals.
    """
    CREATE TABLE endpoints (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        backend TEXT NOT NULL,
        region TEXT,
        status TEXT NOT NULL,
        url TEXT,
        variants TEXT NOT NULL DEFAULT '[]',
        failure_reason TEXT,
        created_at REAL NOT NULL,
        deleted_at REAL,
        ttl_at REAL,
        notebook TEXT,
        tags TEXT NOT NULL DEFAULT '{}',
        spec TEXT NOT NULL DEFAULT '{}',
        updated_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX endpoints_live_name ON endpoints (name) WHERE status != 'Deleted';
    CREATE INDEX endpoints_by_status ON endpoints (status)
    """,
    # 3: indexes that keep every query the panel, %sm_jobs and %sm_cost make proportional
    # to what runs or ended lately, not to the history: a partial index of the running
    # jobs, the end of billing of the others (what cost totals look up by window), the
    # notebook (its all-time total) and each list filter paired with the listing order.
    """
    CREATE INDEX jobs_active ON jobs (created_at)
        WHERE status NOT IN ('Completed', 'Failed', 'Stopped');
    CREATE INDEX jobs_by_end ON jobs (coalesce(ended_at, updated_at, started_at));
    CREATE INDEX jobs_by_notebook ON jobs (notebook, created_at);
    CREATE INDEX jobs_by_kind ON jobs (kind, created_at);
    CREATE INDEX jobs_by_backend ON jobs (backend, created_at);
    DROP INDEX jobs_by_status;
    CREATE INDEX jobs_by_status ON jobs (status, created_at);
    CREATE INDEX endpoints_by_end ON endpoints (coalesce(deleted_at, updated_at, created_at));
    CREATE INDEX endpoints_by_notebook ON endpoints (notebook);
    CREATE INDEX endpoints_live ON endpoints (created_at) WHERE status != 'Deleted'
    """,
    # 4: a job its backend no longer has is marked Deleted, and when it was seen gone;
    # Deleted is terminal, so the partial index of running jobs leaves it out too.
    """
    ALTER TABLE jobs ADD COLUMN deleted_at REAL;
    DROP INDEX jobs_active;
    CREATE INDEX jobs_active ON jobs (created_at)
        WHERE status NOT IN ('Completed', 'Deleted', 'Failed', 'Stopped')
    """,
    # 5: a job's final metrics (what %sm_runs sorts and filters by), and the model registry:
    # versioned model packages per group, with their approval history. On the local
    # backend these rows are the registry; on SageMaker they mirror what was registered.
    """
    ALTER TABLE jobs ADD COLUMN metrics TEXT NOT NULL DEFAULT '{}';
    CREATE TABLE model_packages (
        arn TEXT PRIMARY KEY,
        group_name TEXT NOT NULL,
        version INTEGER NOT NULL,
        backend TEXT NOT NULL,
        region TEXT,
        status TEXT NOT NULL,
        model_data TEXT NOT NULL,
        source_job TEXT,
        description TEXT,
        metrics TEXT NOT NULL DEFAULT '{}',
        spec TEXT NOT NULL DEFAULT '{}',
        history TEXT NOT NULL DEFAULT '[]',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (backend, group_name, version)
    );
    CREATE INDEX model_packages_by_job ON model_packages (source_job)
    """,
)

#: The statuses ``jobs_active`` leaves out, spelled as the index's predicate spells them
#: (SQLite uses a partial index only for a query that repeats its ``WHERE`` term).
_ACTIVE_JOBS = "status NOT IN ('Completed', 'Deleted', 'Failed', 'Stopped')"
#: SQLite's integers are 64-bit: a larger LIMIT (``--limit 10**300``) means "all of them".
_MAX_LIMIT = 2**62

#: The same list, for queries that read the ended jobs (cost totals).
TERMINAL_JOBS_SQL = "('Completed', 'Deleted', 'Failed', 'Stopped')"
ACTIVE_JOBS_SQL = _ACTIVE_JOBS


# -- the JSON columns, typed: each backend writes them (sm_magics.backends.rows) ------------


class VariantJson(TypedDict):
    """One variant as an endpoint's ``spec`` keeps it (``VariantSpec.to_json()``)."""

    name: str
    model_data: str | None
    job: str | None
    entry_point: str | None
    instance_type: str
    instance_count: int
    weight: float
    serverless_memory_mb: int | None
    max_concurrency: int | None
    environment: dict[str, str]


class AsyncJson(TypedDict):
    """An asynchronous endpoint's configuration (``AsyncInferenceSpec.to_json()``)."""

    output_uri: str
    failure_uri: str | None
    max_concurrency: int | None


#: The ``spec`` column of an endpoint row. ``ttl`` is in seconds; ``async`` is present
#: only for an asynchronous endpoint (a keyword, hence the functional form).
EndpointRowSpec = TypedDict(
    "EndpointRowSpec",
    {"variants": list[VariantJson], "ttl": "int | None", "async": AsyncJson},
    total=False,
)


class VariantSummary(TypedDict):
    """One entry of an endpoint row's ``variants`` column: what costs and lists read."""

    VariantName: str
    CurrentWeight: float
    InstanceType: str | None
    DesiredInstanceCount: int


class TrainingRowSpec(TypedDict, total=False):
    """The ``spec`` column of a training job row (``TrainingSpec.to_json()``)."""

    name: str
    entry_point: str
    script: str | None
    source_dir: str | None
    hyperparameters: dict[str, Any]
    inputs: dict[str, str]
    instance_type: str
    instance_count: int
    requirements: str | None
    image: str | None
    framework: str | None
    framework_version: str | None
    py_version: str | None
    metric_definitions: dict[str, str]
    environment: dict[str, str]
    spot: bool
    max_wait: int | None
    keep_alive: int | None
    max_run: int | None
    checkpoint_uri: str | None
    tags: dict[str, str]
    region: str | None
    notebook: str | None
    resolved_image: str  # sagemaker: the image the job runs


class TransformRowSpec(TypedDict, total=False):
    """The ``spec`` column of a transform job row."""

    input: str
    output: str
    content_type: str
    split_type: str
    model_name: str  # sagemaker: the model made for the job, deleted once it ends
    input_s3: str  # sagemaker: the input as uploaded
    model_deleted: bool


class JobRowSpec(TrainingRowSpec, TransformRowSpec, total=False):
    """The ``spec`` column of a job row: a training or a transform job's (see ``kind``)."""


class LedgerWarning(UserWarning):
    """The ledger file changed under a running process (deleted, replaced, rebuilt)."""


@dataclass
class JobRecord:
    """One row of the ``jobs`` table: what the ledger knows of a training or transform job."""

    name: str
    backend: str
    status: str
    created_at: float
    kind: str = "training"
    region: str | None = None
    secondary_status: str | None = None
    instance_type: str | None = None
    instance_count: int = 1
    spot: bool = False
    started_at: float | None = None
    ended_at: float | None = None
    failure_reason: str | None = None
    model_data: str | None = None
    source_hash: str | None = None
    notebook: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0
    deleted_at: float | None = None
    #: Final value of each ``--metric`` (``FinalMetricDataList``), written when it ends.
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        """Whether the job reached a status that never changes again."""
        return self.status in TERMINAL_JOB_STATUSES


@dataclass
class EndpointRecord:
    """One row of the ``endpoints`` table."""

    name: str
    backend: str
    status: str
    created_at: float
    region: str | None = None
    url: str | None = None
    variants: list[dict[str, Any]] = field(default_factory=list)
    failure_reason: str | None = None
    deleted_at: float | None = None
    ttl_at: float | None = None
    notebook: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0
    id: int | None = None

    @property
    def is_live(self) -> bool:
        """Whether the endpoint may still be running or billing."""
        return self.status != DELETED


_JSON_COLUMNS = {"tags", "spec", "variants", "metrics"}
_JOB_COLUMNS = tuple(f.name for f in fields(JobRecord))
_ENDPOINT_COLUMNS = tuple(f.name for f in fields(EndpointRecord))


def without_secrets(spec: Any) -> Any:
    """Return a job spec with its ``environment`` values replaced by their names only.

    ``--env`` values may be credentials; the ledger is read by every process and the side
    panel, so it keeps which variables were set and the job folder (``spec.json``, mode
    0600) keeps their values.
    """
    if isinstance(spec, dict) and isinstance(spec.get("environment"), dict):
        return {**spec, "environment": dict.fromkeys(sorted(spec["environment"]), REDACTED)}
    return spec


#: What the ledger stores in place of an ``--env`` value.
REDACTED = "(set)"


def _to_row(record: JobRecord | EndpointRecord) -> dict[str, Any]:
    row = asdict(record)
    if isinstance(record, JobRecord):
        row["spec"] = without_secrets(row["spec"])
    for column in _JSON_COLUMNS & row.keys():
        row[column] = json.dumps(row[column], sort_keys=True)
    if isinstance(record, JobRecord):
        row["spot"] = int(record.spot)
    else:
        row.pop("id")
    return row


def _values(row: sqlite3.Row) -> dict[str, Any]:
    values = {key: row[key] for key in row.keys()}  # noqa: SIM118 - Row is not a Mapping
    for column in _JSON_COLUMNS & values.keys():
        values[column] = json.loads(values[column] or "null")
    return values


def _from_row(row: sqlite3.Row) -> JobRecord:
    values = _values(row)
    values["spot"] = bool(values["spot"])
    return JobRecord(**values)


def job_taken_message(name: str) -> str:
    """Return what a user is told when a job name is already in the ledger."""
    return (
        f"A training job named {name!r} already exists; pick another name "
        "or leave the name out to get a generated one."
    )


def endpoint_taken_message(name: str) -> str:
    """Return what a user is told when a live endpoint already has the name."""
    return (
        f"An endpoint named {name!r} already exists; delete it first "
        "(%sm_delete), pick another name, or add a variant to it with --variant."
    )


def _enable_wal(conn: sqlite3.Connection, timeout: float = 30.0) -> None:
    """Switch a connection's file to WAL, retrying while another process holds it.

    On a brand-new file, processes that open it together all try to switch it; SQLite then
    answers ``database is locked`` at once, without its busy handler (upgrading a shared
    lock could deadlock), so the busy timeout alone does not help here.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


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
                _enable_wal(conn)
                conn.execute("PRAGMA synchronous = NORMAL")
                self._migrate(conn)
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

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= len(_MIGRATIONS):
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

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
        self, sql: str, params: Mapping[str, Any] | tuple[Any, ...] = ()
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
        self, sql: str, params: Mapping[str, Any] | tuple[Any, ...] = ()
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
        row = _to_row(record)
        columns = ", ".join(row)
        marks = ", ".join(f":{key}" for key in row)
        try:
            with self._write() as conn:
                conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", row)  # noqa: S608
        except sqlite3.IntegrityError:
            raise AlreadyExists(taken) from None

    def _update(
        self, table: str, allowed: tuple[str, ...], where: str, name: str, changes: dict[str, Any]
    ) -> None:
        """Set columns of the row ``where`` selects for ``name`` (bound as ``:_name``)."""
        unknown = set(changes) - set(allowed)
        if unknown:
            raise TypeError(f"unknown ledger columns: {sorted(unknown)}")
        changes["updated_at"] = time.time()
        for column in _JSON_COLUMNS & changes.keys():
            changes[column] = json.dumps(changes[column], sort_keys=True)
        if "spot" in changes:
            changes["spot"] = int(changes["spot"])
        assignments = ", ".join(f"{key} = :{key}" for key in changes)
        with self._write() as conn:
            conn.execute(
                f"UPDATE {table} SET {assignments} WHERE {where}",  # noqa: S608
                {**changes, "_name": name},
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

    def update_job(self, name: str, **changes: Any) -> None:
        """Set some columns of one job row; unknown column names are a programming error."""
        if "spec" in changes:
            changes["spec"] = without_secrets(changes["spec"])
        self._update("jobs", _JOB_COLUMNS, "name = :_name", name, changes)

    def delete_job(self, name: str) -> None:
        """Remove a job row: only to roll back a creation that failed half-way."""
        with self._write() as conn:
            conn.execute("DELETE FROM jobs WHERE name = ?", (name,))

    def get_job(self, name: str) -> JobRecord | None:
        """Return the row of one job, or ``None``."""
        rows = self._read("SELECT * FROM jobs WHERE name = ?", (name,))
        return _from_row(rows[0]) if rows else None

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
        params: dict[str, Any] = {}
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
            clauses.append(_ACTIVE_JOBS)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM jobs {where} ORDER BY created_at DESC, name"  # noqa: S608
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = min(int(limit), _MAX_LIMIT)
        return [_from_row(row) for row in self._read(sql, params)]

    # -- endpoints --------------------------------------------------------------------------

    def insert_endpoint(self, record: EndpointRecord) -> None:
        """Add an endpoint row; the partial unique index reserves the name while live.

        Raises
        ------
        AlreadyExists
            A live endpoint of that name is in the ledger.
        """
        self._insert("endpoints", record, endpoint_taken_message(record.name))

    def update_endpoint(self, name: str, **changes: Any) -> None:
        """Set columns of the live (not deleted) endpoint row called ``name``."""
        # The newest row of that name: the live one, or the one just marked Deleted.
        newest = "id = (SELECT id FROM endpoints WHERE name = :_name ORDER BY id DESC LIMIT 1)"
        self._update("endpoints", _ENDPOINT_COLUMNS, newest, name, changes)

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
        return EndpointRecord(**_values(rows[0])) if rows else None

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
        params: dict[str, Any] = {}
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
            params["limit"] = min(int(limit), _MAX_LIMIT)
        return [EndpointRecord(**_values(row)) for row in self._read(sql, params)]


if __name__ == "__main__":  # python -m sm_magics.ledger rebuild
    # The command line lives in ledger_rebuild, which builds on this module; running it by
    # name keeps the layering one way (ledger_rebuild -> ledger), as for any entry point.
    import runpy

    runpy.run_module("sm_magics.ledger_rebuild", run_name="__main__", alter_sys=True)
