"""The ledger's SQLite schema: its migrations, and how a connection is set up for them.

Kept apart from :class:`~sm_magics.ledger.Ledger` (which reads and writes rows) so that
the schema's history reads in one place: each migration upgrades the file by one
``PRAGMA user_version``, and the status lists here are spelled as the partial indexes
spell them, so that SQLite uses those indexes.
"""

from __future__ import annotations

import sqlite3
import time

# Each entry upgrades the schema by one version; ``PRAGMA user_version`` records how far a
# file got, so an old ledger is upgraded in place and never recreated (rows are history).
MIGRATIONS: tuple[str, ...] = (
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
ACTIVE_JOBS_SQL = "status NOT IN ('Completed', 'Deleted', 'Failed', 'Stopped')"
#: SQLite's integers are 64-bit: a larger LIMIT (``--limit 10**300``) means "all of them".
MAX_LIMIT = 2**62

#: The same list, for queries that read the ended jobs (cost totals).
TERMINAL_JOBS_SQL = "('Completed', 'Deleted', 'Failed', 'Stopped')"


def enable_wal(conn: sqlite3.Connection, timeout: float = 30.0) -> None:
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


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a connection's file to the latest schema version, once, under the write lock."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= len(MIGRATIONS):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
