"""The blocking work behind the ``/jobs`` routes, run on the extension's worker threads.

The ledger answers lists cheaply; a job that still runs is described by its backend first
(which syncs its row), so the panel never shows a job running that ended while no kernel
looked. A job the ledger does not know is ``NotFound``: the panel lists the ledger, and
the ledger records every job launched from this machine.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, TypedDict

from sm_magics.api import Job
from sm_magics.backends import kinds, statuses
from sm_magics.backends.results import LogBatch, LogCursor
from sm_magics.errors import InvalidRequest, NotFound
from sm_magics.ledger_records import JobRecord
from sm_magics.server import cursors
from sm_magics.server.context import ServerContext
from sm_magics.server.params import JobQuery
from sm_magics.server.serialize import JobJSON, job_json

if TYPE_CHECKING:
    from sm_magics.backends.descriptions import JobDescription

log = logging.getLogger(__name__)

#: Backend reads one page of logs may take, so one request stays short however far
#: behind the client is (it comes back with the cursor).
MAX_LOG_READS = 50


class JobList(TypedDict):
    """The answer of ``GET /jobs``."""

    jobs: list[JobJSON]
    version: str


class JobDetail(JobJSON):
    """The answer of ``GET /jobs/<name>``: the job and its metric series."""

    metrics: dict[str, list[list[float]]]


class EventJSON(TypedDict):
    """One log line."""

    timestamp: int
    host: str
    message: str


class LogPage(TypedDict):
    """The answer of ``GET /jobs/<name>/logs``."""

    events: list[EventJSON]
    cursor: str
    done: bool


def _handle(ctx: ServerContext, name: str) -> tuple[Job, JobRecord]:
    record = ctx.session.ledger.get_job(name)
    if record is None:
        raise NotFound(
            f"No job named {name!r} in the ledger; GET /jobs (or %sm_jobs) lists the known ones."
        )
    return Job.from_record(ctx.session, record), record


def refresh_running(ctx: ServerContext, backend: str | None = None) -> None:
    """Bring the rows of running jobs up to date (each at most once per refresh interval)."""
    session = ctx.session
    records = session.ledger.list_jobs(active_only=True, backend=backend)
    session.refresh([r for r in records if ctx.refresh_due("job", r.name)])


def list_jobs(ctx: ServerContext, query: JobQuery) -> JobList:
    """Return the jobs ``query`` selects, newest first, and the ledger version they reflect."""
    refresh_running(ctx, query.backend)
    # The version is read before the rows: a write in between makes /changes answer at
    # once (one extra refresh), where the other order could hide that write.
    version = ctx.version()
    key = ("jobs", query)
    records = ctx.page(
        key,
        version,
        lambda: ctx.session.ledger.list_jobs(
            status=query.status,
            backend=query.backend,
            kind=query.kind,
            active_only=query.active,
            limit=query.limit,
        ),
    )
    if all(record.is_terminal for record in records):  # nothing in it moves with the clock
        ctx.keep_page(key, version, records)
    now = time.time()
    return {"jobs": [job_json(r, now=now) for r in records], "version": version}


def _fresh_json(ctx: ServerContext, job: Job) -> tuple[JobJSON, JobDescription]:
    """Describe the job (syncing its row), then serialize the row with the live status."""
    description = job.describe()
    record = ctx.session.ledger.get_job(job.name)
    if record is None:  # removed meanwhile: only a rolled-back creation does that
        raise NotFound(f"Job {job.name!r} is no longer in the ledger.")
    status = kinds.status_of(description)
    secondary = description.get("SecondaryStatus")
    return (
        job_json(record, now=time.time(), status=status, secondary=str(secondary or "") or None),
        description,
    )


#: Points per metric series in a job's detail unless the full series is asked for: a chart
#: is a few hundred pixels wide, and a job logging every step would answer megabytes.
CHART_POINTS = 500


def downsample(points: list[list[float]], limit: int = CHART_POINTS) -> list[list[float]]:
    """Return at most ``limit`` points that keep the series' shape.

    Each bucket keeps its lowest and highest value in time order, so spikes survive; the
    first and last points are always kept.
    """
    if len(points) <= limit:
        return points
    buckets = max(1, (limit - 2) // 2)
    inner = points[1:-1]
    size = len(inner) / buckets
    kept: list[list[float]] = [points[0]]
    for index in range(buckets):
        bucket = inner[int(index * size) : int((index + 1) * size)]
        if not bucket:
            continue
        low = min(bucket, key=lambda point: point[1])
        high = max(bucket, key=lambda point: point[1])
        kept.extend(sorted({id(low): low, id(high): high}.values(), key=lambda p: p[0]))
    kept.append(points[-1])
    return kept


def get_job(ctx: ServerContext, name: str, full: bool = False) -> JobDetail:
    """Return one job, described afresh, with its ``--metric`` series parsed from the logs.

    Each series is downsampled to :data:`CHART_POINTS` (its extremes kept) unless ``full``
    (``GET /jobs/<name>?full=1``) asks for every point.
    """
    job, _ = _handle(ctx, name)
    data, _ = _fresh_json(ctx, job)
    series = job.metrics() if job.kind == "training" else {}
    metrics = {}
    for metric, points in series.items():
        values = [[point.timestamp / 1000, point.value] for point in points]
        metrics[metric] = values if full else downsample(values)
    return {**data, "metrics": metrics}


def stop_job(ctx: ServerContext, name: str) -> JobJSON:
    """Ask the job to stop; a job that already ended is returned as it is."""
    job, _ = _handle(ctx, name)
    job.stop()  # idempotent on an ended job, per the Backend contract
    data, _ = _fresh_json(ctx, job)
    return data


def _first_read(job: Job, position: LogCursor) -> LogBatch:
    """Read with a cursor the client sent: a cursor the backend cannot use is a 400.

    :func:`cursors.decode` refused what no backend hands out; what is left is a cursor of
    another backend or a forged one of the right shape (a text where an offset goes), on
    which the backend's reader raises a type or value error.
    """
    try:
        return job.read_logs(position)
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        raise InvalidRequest(
            f"Invalid log cursor ({type(exc).__name__}): pass back the 'cursor' of the last answer."
        ) from None


def read_logs(ctx: ServerContext, name: str, cursor: str | None, limit: int) -> LogPage:
    """Return the log lines after ``cursor``: about ``limit`` of them, each exactly once.

    The backend hands out lines in batches that cannot be split without losing its place,
    so a page ends after the batch that reached ``limit`` (it may hold more) or when the
    backend has nothing new. ``done`` is true once the job had ended *before* a read found
    nothing left, so the last lines a finishing job writes are never cut off.
    """
    job, _ = _handle(ctx, name)
    position: LogCursor | None = cursors.decode(cursor)
    ended = kinds.status_of(job.describe()) in statuses.TERMINAL_STATUSES
    events: list[EventJSON] = []
    exhausted = False
    for attempt in range(MAX_LOG_READS):
        if attempt == 0 and position is not None:
            batch = _first_read(job, position)
        else:
            batch = job.read_logs(position)
        position = batch.cursor
        if not batch.events:
            exhausted = True
            break
        events += [
            {"timestamp": e.timestamp, "host": e.host, "message": e.message} for e in batch.events
        ]
        if len(events) >= limit:
            break
    return {
        "events": events,
        "cursor": cursors.encode(position or {}),
        "done": ended and exhausted,
    }
