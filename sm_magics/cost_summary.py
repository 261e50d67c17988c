"""What runs and bills now, what it cost today and this month: ``%sm_cost`` and ``GET /cost``.

Everything here is computed from the ledger and the price table alone, with no backend
call, so the summary is cheap enough for the side panel to poll and for the budget guard
to consult before every ``%%sm_train`` and ``%sm_deploy``. The price of that: the ledger is
an index, so a job that ended while nobody described it still shows as running until the
next ``%sm_jobs`` (or widget, or panel refresh) syncs its row.

Each row's rate and cost come from :mod:`sm_magics.costs`; the totals are summed by SQLite
per price group (:mod:`sm_magics.cost_totals`); the answer, and how it looks, is
:class:`~sm_magics.display.costs.CostSummary`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from sm_magics import cost_totals
from sm_magics.costs import (
    BILLING_ENDPOINT_STATUSES,
    BILLING_JOB_STATUSES,
    Rate,
    cost_of,
    endpoint_interval,
    endpoint_rate,
    job_interval,
    job_rate,
)
from sm_magics.display.costs import CostSummary, RunningItem
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointRecord, JobRecord


def day_start(now: float) -> float:
    """Return the Unix time of the UTC midnight that began the day of ``now``."""
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def month_start(now: float) -> float:
    """Return the Unix time of the UTC start of the month of ``now``."""
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def _running_job(record: JobRecord, rate: Rate, now: float) -> RunningItem:
    interval = job_interval(record, now)
    seconds = interval[1] - interval[0] if interval else 0.0
    return RunningItem(
        kind=record.kind,
        name=record.name,
        backend=record.backend,
        region=record.region,
        status=record.status,
        instance=rate.instance,
        cost=cost_of(rate.per_hour, seconds),
        cost_per_hour=rate.per_hour,
        since=record.started_at or record.created_at,
        notebook=record.notebook,
        notes=rate.notes,
    )


def _running_endpoint(record: EndpointRecord, rate: Rate, now: float) -> RunningItem:
    start, end = endpoint_interval(record, now)
    return RunningItem(
        kind="endpoint",
        name=record.name,
        backend=record.backend,
        region=record.region,
        status=record.status,
        instance=rate.instance,
        cost=cost_of(rate.per_hour, end - start),
        cost_per_hour=rate.per_hour,
        since=record.created_at,
        notebook=record.notebook,
        notes=rate.notes,
    )


def summarize(
    ledger: Ledger, *, notebook: str | None = None, now: float | None = None
) -> CostSummary:
    """Return what runs and bills now and the totals of today, this month and ``notebook``.

    Parameters
    ----------
    ledger
        The ledger to read (a few aggregate queries over indexes; no backend is asked).
    notebook
        A notebook path as the ledger records it; fills ``totals.notebook`` with the cost
        of everything that notebook ever started.
    now
        The moment to compute for (Unix seconds); tests pin it.
    """
    moment = time.time() if now is None else float(now)
    day, month_began = day_start(moment), month_start(moment)
    # What ended is priced once per ledger change (and day); what runs, on every call.
    ended = cost_totals.remember(
        ledger,
        ("ended", day, month_began),
        lambda: _priced(
            ledger, cost_totals.ended_groups(ledger, moment, day, month_began), moment, month_began
        ),
    )
    live = _priced(
        ledger, cost_totals.running_groups(ledger, moment, day, month_began), moment, month_began
    )
    totals = {k: ended.totals[k] + live.totals[k] for k in ("today", "month")}
    by_backend: dict[str, list[float]] = {}
    for backend in {*ended.month_by_backend, *live.month_by_backend}:
        month_cost = ended.month_by_backend.get(backend, 0.0)
        by_backend[backend] = [0.0, month_cost + live.month_by_backend.get(backend, 0.0)]
    unpriced = ended.unpriced + live.unpriced
    notebook_total = None
    if notebook is not None:
        notebook_total = cost_totals.remember(
            ledger,
            ("notebook", notebook),
            lambda: _notebook_cost(cost_totals.notebook_groups(ledger, notebook, moment, "ended")),
        ) + _notebook_cost(cost_totals.notebook_groups(ledger, notebook, moment, "running"))
    running = running_items(ledger, moment)
    for item in running:
        by_backend.setdefault(item.backend, [0.0, 0.0])[0] += item.cost_per_hour or 0.0
    return CostSummary(
        generated_at=moment,
        running=running,
        today=totals["today"],
        month=totals["month"],
        notebook=notebook,
        notebook_total=notebook_total,
        by_backend={k: (v[0], v[1]) for k, v in by_backend.items()},
        unpriced=sorted(set(unpriced)),
    )


@dataclass(frozen=True)
class _Priced:
    """Price groups turned into USD: totals, this month per backend, unpriced names."""

    totals: dict[str, float]
    month_by_backend: dict[str, float]
    unpriced: list[str]


def _priced(ledger: Ledger, groups: list[cost_totals.Group], now: float, month: float) -> _Priced:
    """Price each group once; name the rows of groups without a price."""
    totals = {"today": 0.0, "month": 0.0}
    by_backend: dict[str, float] = {}
    unpriced: list[str] = []
    for group in groups:
        per_hour = _group_rate(group).per_hour
        if per_hour is None:
            unpriced += cost_totals.names_in(ledger, group, now, month, _UNPRICED_SHOWN)
            continue
        totals["today"] += per_hour * group.today / 3600.0
        totals["month"] += per_hour * group.month / 3600.0
        by_backend[group.backend] = (
            by_backend.get(group.backend, 0.0) + per_hour * group.month / 3600.0
        )
    return _Priced(totals, by_backend, unpriced)


def _notebook_cost(groups: list[cost_totals.Group]) -> float:
    return sum((_group_rate(g).per_hour or 0.0) * g.month / 3600.0 for g in groups)


#: Names of unpriced jobs fetched per price group: the footnote shows five and "...".
_UNPRICED_SHOWN = 6


def _group_rate(group: cost_totals.Group) -> Rate:
    """Return the hourly rate of every row of ``group`` (one price lookup)."""
    if group.table == "jobs":
        return job_rate(group.job_record())
    return endpoint_rate(
        EndpointRecord(name="", status="", created_at=0.0, **group.endpoint_fields())
    )


def running_items(ledger: Ledger, now: float | None = None) -> list[RunningItem]:
    """Return every job and endpoint that bills now, newest first.

    Reads the running rows only (the ledger's partial indexes), so the budget guard and
    the summary cost the same however long the history is.
    """
    moment = time.time() if now is None else float(now)
    running: list[RunningItem] = []
    for job in ledger.list_jobs(active_only=True):
        if job.status in BILLING_JOB_STATUSES:
            running.append(_running_job(job, job_rate(job), moment))
    for endpoint in ledger.list_endpoints(live_only=True):
        if endpoint.status in BILLING_ENDPOINT_STATUSES:
            running.append(_running_endpoint(endpoint, endpoint_rate(endpoint), moment))
    running.sort(key=lambda item: (-item.since, item.name))
    return running


def billing_per_hour_on(ledger: Ledger, backend: str) -> float:
    """USD per hour of what runs now on ``backend``: what the budget guard adds to."""
    return sum(i.cost_per_hour or 0.0 for i in running_items(ledger) if i.backend == backend)
