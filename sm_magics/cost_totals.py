"""Cost totals computed by SQLite: billed seconds summed per price, not per row.

A job's cost is its billed seconds times the hourly rate of what it ran on, and the rate
depends on a handful of columns only (kind, backend, region, instance type and count,
spot; an endpoint's variants). So the totals of ``%sm_cost`` and ``GET /cost`` are one
``GROUP BY`` over those columns, summing the seconds inside each window, and one price
lookup per group: the work grows with the number of distinct prices, not with history.

The rows read are bounded by indexes as well: the running ones (a partial index), the
ones whose billing ended inside the month (an index on that end), and the rows of the
one notebook asked about. The interval rules are those of :mod:`sm_magics.costs`,
written once more in SQL; ``tests/test_cost_totals.py`` holds the two to the same
answers on random ledgers.
"""

# ruff: noqa: S608 - every statement is assembled from this module's constants, and
# every value is bound as a parameter.
from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sm_magics.ledger import Ledger
from sm_magics.ledger_records import JobRecord, SqlValue
from sm_magics.ledger_schema import ACTIVE_JOBS_SQL, TERMINAL_JOBS_SQL

_JOB_BILLING = "('InProgress', 'Stopping')"
_ENDPOINT_BILLING = (
    "('Creating', 'InService', 'Updating', 'SystemUpdating', 'RollingBack', 'Deleting')"
)
_JOB_KEY = "kind, backend, region, instance_type, instance_count, spot"
# Which variants are serverless, from the spec (what was asked): the only part of an
# endpoint's spec its price depends on; grouping by the whole spec would group nothing.
_SERVERLESS = """(SELECT json_group_array(json_array(json_extract(v.value, '$.name'),
        json_extract(v.value, '$.serverless_memory_mb')))
    FROM json_each(CASE WHEN json_valid(spec) THEN spec ELSE '{}' END, '$.variants') AS v
    WHERE json_type(v.value) = 'object' AND json_extract(v.value, '$.serverless_memory_mb'))"""
_ENDPOINT_KEY = "backend, region, variants, serverless"

# One row per job that billed, with the end of its billing clamped as _job_interval does.
_JOB_ROWS = f"""
    SELECT {_JOB_KEY}, name, notebook, started_at AS s,
        max(started_at, min(:now, CASE WHEN status IN {_JOB_BILLING} THEN :now
            ELSE coalesce(ended_at, updated_at, started_at) END)) AS e
    FROM jobs"""
_ENDPOINT_ROWS = f"""
    SELECT {_ENDPOINT_KEY.replace("serverless", _SERVERLESS + " AS serverless")},
        name, notebook, created_at AS s,
        max(created_at, min(:now, CASE WHEN status IN {_ENDPOINT_BILLING} THEN :now
            ELSE coalesce(deleted_at, updated_at, created_at) END)) AS e
    FROM endpoints"""

# The rows that may overlap the month: the running ones over the partial index, the
# ended ones over the index on the end of their billing (``+status`` keeps SQLite off the
# status index there, which would read every ended row). Each row is in one branch.
# INDEXED BY: alone, SQLite may prefer walking an index in GROUP BY order over all rows.
_JOBS_RUNNING = f"{_JOB_ROWS} INDEXED BY jobs_active WHERE {ACTIVE_JOBS_SQL} AND started_at > 0"
_JOBS_ENDED = f"""{_JOB_ROWS} WHERE +status IN {TERMINAL_JOBS_SQL} AND started_at > 0
        AND coalesce(ended_at, updated_at, started_at) >= :month"""
_JOBS_IN_MONTH = f"{_JOBS_RUNNING} UNION ALL {_JOBS_ENDED}"
_ENDPOINTS_RUNNING = f"{_ENDPOINT_ROWS} INDEXED BY endpoints_live WHERE status != 'Deleted'"
_ENDPOINTS_ENDED = f"""{_ENDPOINT_ROWS} WHERE +status = 'Deleted'
        AND coalesce(deleted_at, updated_at, created_at) >= :month"""
_ENDPOINTS_IN_MONTH = f"{_ENDPOINTS_RUNNING} UNION ALL {_ENDPOINTS_ENDED}"

_WINDOWS = """total(max(0.0, min(e, :now) - max(s, :day))) AS today,
    total(max(0.0, min(e, :now) - max(s, :month))) AS month,
    count(*) AS rows"""

# Equality on the price columns is written ``+column`` and the order ``name || ''`` in the
# name lookups: either one left plain lets SQLite walk a whole index (backend, or the
# primary key in name order) instead of the running and month branches.
_SQL = {
    "jobs_running": f"SELECT {_JOB_KEY}, {_WINDOWS} FROM ({_JOBS_RUNNING}) GROUP BY {_JOB_KEY}",
    "jobs_ended": f"SELECT {_JOB_KEY}, {_WINDOWS} FROM ({_JOBS_ENDED}) GROUP BY {_JOB_KEY}",
    "endpoints_running": (
        f"SELECT {_ENDPOINT_KEY}, {_WINDOWS} FROM ({_ENDPOINTS_RUNNING}) GROUP BY {_ENDPOINT_KEY}"
    ),
    "endpoints_ended": (
        f"SELECT {_ENDPOINT_KEY}, {_WINDOWS} FROM ({_ENDPOINTS_ENDED}) GROUP BY {_ENDPOINT_KEY}"
    ),
    "jobs_notebook_running": (
        f"SELECT {_JOB_KEY}, total(e - s) AS seconds FROM ({_JOB_ROWS} INDEXED BY jobs_active "
        f"WHERE notebook = :notebook AND {ACTIVE_JOBS_SQL} AND started_at > 0) "
        f"GROUP BY {_JOB_KEY}"
    ),
    "jobs_notebook_ended": (
        f"SELECT {_JOB_KEY}, total(e - s) AS seconds FROM ({_JOB_ROWS} WHERE notebook = "
        f":notebook AND +status IN {TERMINAL_JOBS_SQL} AND started_at > 0) GROUP BY {_JOB_KEY}"
    ),
    "endpoints_notebook_running": (
        f"SELECT {_ENDPOINT_KEY}, total(e - s) AS seconds FROM ({_ENDPOINT_ROWS} INDEXED BY "
        f"endpoints_live WHERE notebook = :notebook AND status != 'Deleted') "
        f"GROUP BY {_ENDPOINT_KEY}"
    ),
    "endpoints_notebook_ended": (
        f"SELECT {_ENDPOINT_KEY}, total(e - s) AS seconds FROM ({_ENDPOINT_ROWS} "
        f"WHERE notebook = :notebook AND +status = 'Deleted') GROUP BY {_ENDPOINT_KEY}"
    ),
    "jobs_names": f"SELECT name FROM ({_JOBS_IN_MONTH}) WHERE e >= :month AND "
    + " AND ".join(f"+{c.strip()} IS :{c.strip()}" for c in _JOB_KEY.split(","))
    + " ORDER BY name || '' LIMIT :limit",
    "endpoints_names": f"SELECT name FROM ({_ENDPOINTS_IN_MONTH}) WHERE e >= :month AND "
    + " AND ".join(f"+{c.strip()} IS :{c.strip()}" for c in _ENDPOINT_KEY.split(","))
    + " ORDER BY name || '' LIMIT :limit",
}


@dataclass(frozen=True)
class Group:
    """Jobs (or endpoints) that share everything their price depends on.

    Attributes
    ----------
    table
        ``"jobs"`` or ``"endpoints"``.
    key
        The price-setting columns, by name, as the ledger stores them.
    today, month
        Billed seconds inside today's and this month's windows (UTC), summed.
    rows
        How many rows the group sums.
    """

    table: str
    key: dict[str, SqlValue]
    today: float = 0.0
    month: float = 0.0
    rows: int = 0

    @property
    def backend(self) -> str:
        """The backend the group's rows ran on."""
        return str(self.key["backend"])

    def job_record(self) -> JobRecord:
        """Return a job record with the key's columns: what its rate is computed from."""
        key = self.key
        return JobRecord(
            name="",
            status="",
            created_at=0.0,
            kind=str(key["kind"]),
            backend=str(key["backend"]),
            region=_text(key["region"]),
            instance_type=_text(key["instance_type"]),
            instance_count=int(key["instance_count"] or 0),
            spot=bool(key["spot"]),
        )

    def endpoint_fields(self) -> dict[str, Any]:
        """Return the key as :class:`~sm_magics.ledger.EndpointRecord` keyword arguments."""
        serverless = json.loads(_text(self.key["serverless"]) or "[]")
        return {
            "backend": self.key["backend"],
            "region": self.key["region"],
            "variants": json.loads(_text(self.key["variants"]) or "[]"),
            "spec": {"variants": [{"name": n, "serverless_memory_mb": m} for n, m in serverless]},
        }


def _text(value: SqlValue) -> str | None:
    return None if value is None else str(value)


def _keys(table: str) -> list[str]:
    return [c.strip() for c in (_JOB_KEY if table == "jobs" else _ENDPOINT_KEY).split(",")]


def running_groups(ledger: Ledger, now: float, day: float, month: float) -> list[Group]:
    """Return the price groups of the running rows, seconds billed today and this month.

    ``day`` and ``month`` are the starts of the windows; both end at ``now``.
    """
    params: dict[str, SqlValue] = {"now": now, "day": day, "month": month}
    return [g for t in ("jobs", "endpoints") for g in _query_groups(ledger, t, "running", params)]


def ended_groups(ledger: Ledger, now: float, day: float, month: float) -> list[Group]:
    """Return the price groups of the rows whose billing ended this month.

    An ended row's interval no longer moves with ``now``: what these sum to changes only
    with a write to the ledger or a new day or month, so callers :func:`remember` it.
    """
    params: dict[str, SqlValue] = {"now": now, "day": day, "month": month}
    return [g for t in ("jobs", "endpoints") for g in _query_groups(ledger, t, "ended", params)]


def _query_groups(
    ledger: Ledger, table: str, part: str, params: dict[str, SqlValue]
) -> list[Group]:
    keys = _keys(table)
    return [
        Group(table, {k: row[k] for k in keys}, row["today"], row["month"], row["rows"])
        for row in ledger.query(_SQL[f"{table}_{part}"], params)
    ]


T = TypeVar("T")

#: ``ledger -> {key: (ledger generation, value)}``: what only a write can change.
_MEMO: weakref.WeakKeyDictionary[Ledger, dict[Hashable, tuple[object, object]]] = (
    weakref.WeakKeyDictionary()
)


def remember(ledger: Ledger, key: Hashable, compute: Callable[[], T]) -> T:
    """Return ``compute()``, computed again only after the ledger changed.

    For what depends on the ledger's rows and on ``key`` alone (the ended rows' totals
    for one day and month, the names of unpriced jobs): ``%sm_cost`` and ``GET /cost``
    asked again and again then read the running rows only. Any process's write moves
    :meth:`Ledger.generation <sm_magics.ledger.Ledger.generation>`.
    """
    generation = ledger.generation()
    memo = _MEMO.setdefault(ledger, {})
    cached = memo.get(key)
    if cached is not None and cached[0] == generation:
        return cast(T, cached[1])
    value = compute()
    if len(memo) > 256:  # windows of days gone by
        memo.clear()
    memo[key] = (generation, value)
    return value


def notebook_groups(ledger: Ledger, notebook: str, now: float, part: str) -> list[Group]:
    """Return the price groups of what ``notebook`` started, seconds summed all time.

    ``part`` is ``"running"`` or ``"ended"`` (the latter worth :func:`remember`-ing); the
    seconds are in :attr:`Group.month` (a window that is all of history).
    """
    params: dict[str, SqlValue] = {"now": now, "notebook": notebook}
    groups = []
    for table in ("jobs", "endpoints"):
        keys = _keys(table)
        for row in ledger.query(_SQL[f"{table}_notebook_{part}"], params):
            groups.append(Group(table, {k: row[k] for k in keys}, 0.0, row["seconds"]))
    return groups


def names_in(ledger: Ledger, group: Group, now: float, month: float, limit: int) -> list[str]:
    """Return up to ``limit`` names, sorted, of the group's rows that billed this month.

    Only asked for the groups without a price, to name them in a footnote; remembered
    until the ledger changes or a month starts, like the ended rows' seconds.
    """
    params: dict[str, SqlValue] = {"now": now, "month": month, "limit": limit, **group.key}
    return remember(
        ledger,
        ("names", group.table, tuple(sorted(group.key.items())), month, limit),
        lambda: [row["name"] for row in ledger.query(_SQL[f"{group.table}_names"], params)],
    )
