"""What runs and bills now, what it cost today and this month: ``%sm_cost`` and ``GET /cost``.

Everything here is computed from the ledger and the price table alone, with no backend
call, so the summary is cheap enough for the side panel to poll and for the budget guard
to consult before every ``%%sm_train`` and ``%sm_deploy``. The price of that: the ledger is
an index, so a job that ended while nobody described it still shows as running until the
next ``%sm_jobs`` (or widget, or panel refresh) syncs its row.

How costs are counted
---------------------
- A training job bills from ``started_at`` (SageMaker's ``TrainingStartTime``) to
  ``ended_at``, or to now while it runs, at the training price of its instance type times
  its instance count (the spot *estimate* for spot jobs, see :mod:`sm_magics.pricing`).
- A batch transform job bills the same way at the hosting price: SageMaker charges batch
  transform at its real-time inference rates.
- An endpoint bills from ``created_at`` to ``deleted_at`` (or now), at the hosting price of
  each variant's instance type times its instance count, summed. A serverless variant is
  billed per request and per GB-second of compute, which the ledger does not know, so it
  counts as 0 USD/h idle and the summary says so. An endpoint that ``Failed`` bills until
  its row last changed (when it failed).
- Local jobs and endpoints are priced as on SageMaker: they show what the same notebook
  *would* cost there. The text and HTML views mark them; the JSON keeps the REST shape.
- Days and months are UTC, as on the AWS bill and in Cost Explorer. Totals pro-rate each
  job and endpoint to the part of its life inside the window.

Only instance time is counted: storage, data transfer and requests are not.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from typing import TYPE_CHECKING, Any

from sm_magics import cost_totals, pricing
from sm_magics.backends import kinds
from sm_magics.display import StatusTable, format_instance, no_math
from sm_magics.durations import format_duration
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointRecord, JobRecord

if TYPE_CHECKING:
    from sm_magics.backends.specs import VariantSpec

#: Endpoint statuses during which SageMaker bills the endpoint's instances.
BILLING_ENDPOINT_STATUSES = frozenset(
    {"Creating", "InService", "Updating", "SystemUpdating", "RollingBack", "Deleting"}
)
#: Job statuses during which a job's instances bill.
BILLING_JOB_STATUSES = frozenset({"InProgress", "Stopping"})

SERVERLESS_NOTE = "serverless: billed per request, 0 USD/h while idle"


@dataclass(frozen=True)
class Rate:
    """What a job or endpoint costs per hour, and how it runs, as tables show it."""

    per_hour: float | None  # None: an instance type without a price
    instance: str  # display.format_instance's text, "serverless 2048 MB", "a + b" for several
    notes: tuple[str, ...] = ()


def rate_for(
    kind: str, instance_type: str | None, count: int, region: str | None, *, spot: bool = False
) -> Rate:
    """Return what ``count`` instances of a job of ``kind`` cost per hour: the one formula.

    The kind picks the price list (:attr:`~sm_magics.backends.kinds.JobKind.usage`):
    training and processing bill at training prices, batch transform at hosting prices,
    so an ``ml.t3`` transform has a price wherever it is shown. Spot is an estimate.
    """
    instance_type = instance_type or ""
    count = max(0, int(count or 0))
    instance = format_instance(instance_type, count)
    if kind == "tuning":
        # Its trials are training jobs with rows and rates of their own: counting the
        # tuning job too would bill every trial twice.
        return Rate(0.0, f"trials on {instance}", ("billed as its trials",))
    usage = kinds.KINDS[kind].usage if kind in kinds.KINDS else "training"
    per_hour = pricing.hourly_cost(
        instance_type, count, region, usage=usage, spot=spot and usage == "training"
    )
    notes: list[str] = []
    if per_hour is None:
        notes.append(f"no price for {instance_type or 'its instance type'}")
    elif spot:
        notes.append("spot: an estimate")
    return Rate(per_hour, instance, tuple(notes))


def job_rate(record: JobRecord) -> Rate:
    """Return a job's hourly rate (on-demand, or the spot estimate); see :func:`rate_for`."""
    return rate_for(
        record.kind, record.instance_type, record.instance_count, record.region, spot=record.spot
    )


@dataclass(frozen=True)
class JobCost:
    """A job's billed time so far, its rate and its cost: what every view of a job shows."""

    duration: float | None  # seconds its instances billed; None: they never started
    rate: Rate
    cost: float | None  # USD; None when the price is unknown

    @classmethod
    def of(cls, rate: Rate, duration: float | None) -> JobCost:
        """Return the cost of ``duration`` seconds at ``rate``."""
        return cls(duration, rate, _cost(rate.per_hour, duration or 0.0))


def job_cost(record: JobRecord, *, now: float | None = None, status: str | None = None) -> JobCost:
    """Return a job's cost from its ledger row (``status``: a fresher one, from a describe)."""
    moment = time.time() if now is None else now
    if status is not None and status != record.status:
        record = dataclasses.replace(record, status=status)
    interval = _job_interval(record, moment)
    duration = interval[1] - interval[0] if interval else None
    return JobCost.of(job_rate(record), duration)


def described_job_cost(
    description: Mapping[str, Any], region: str | None, *, now: float | None = None
) -> JobCost:
    """Return a job's cost from a fresh ``Describe*Job`` response, by the same formula."""
    kind = kinds.of_description(description)
    instance_type, count = kinds.resources_of(description)
    rate = rate_for(
        kind.name,
        instance_type,
        count,
        region,
        spot=bool(description.get("EnableManagedSpotTraining")),
    )
    start, end = description.get(kind.start_key), description.get(kind.end_key)
    if not isinstance(start, datetime):
        return JobCost.of(rate, None)
    moment = time.time() if now is None else now
    stop = end.timestamp() if isinstance(end, datetime) else moment
    return JobCost.of(rate, max(0.0, min(stop, moment) - start.timestamp()))


def _serverless_variants(record: EndpointRecord) -> set[str]:
    """Names of the variants the endpoint's spec says are serverless.

    The sagemaker backend records serverless variants with no instance type in the
    ledger's variant summary; the local backend keeps the instance type there, so the spec
    (what was asked) is read too.
    """
    names = set()
    for variant in record.spec.get("variants", []) if isinstance(record.spec, dict) else []:
        if isinstance(variant, dict) and variant.get("serverless_memory_mb"):
            names.add(str(variant.get("name")))
    return names


def _memory_of(record: EndpointRecord, variant_name: str) -> object:
    for variant in record.spec.get("variants", []) if isinstance(record.spec, dict) else []:
        if isinstance(variant, dict) and variant.get("name") == variant_name:
            return variant.get("serverless_memory_mb")
    return None


def endpoint_rate(record: EndpointRecord) -> Rate:
    """Return an endpoint's hourly rate: every instance-backed variant, summed."""
    return variants_rate(record.variants, record)


def described_endpoint_rate(description: Mapping[str, Any], record: EndpointRecord | None) -> Rate:
    """Return an endpoint's hourly rate from a fresh ``DescribeEndpoint``, by the same formula."""
    return variants_rate(list(description.get("ProductionVariants") or []), record)


def variants_rate(variants: list[dict[str, Any]], record: EndpointRecord | None) -> Rate:
    """Return the hourly rate of ``ProductionVariants``-shaped variants of an endpoint.

    ``record`` gives the region and says which variants are serverless (its spec).
    """
    serverless = _serverless_variants(record) if record is not None else set()
    region = record.region if record is not None else None
    total = 0.0
    known = True
    parts: list[str] = []
    notes: list[str] = []
    for variant in variants:
        name = str(variant.get("VariantName") or "")
        instance_type = variant.get("InstanceType")
        count = int(variant.get("DesiredInstanceCount") or variant.get("CurrentInstanceCount") or 0)
        if name in serverless or not instance_type:
            memory = _memory_of(record, name) if record is not None else None
            parts.append(f"serverless {memory} MB" if memory else "serverless")
            if SERVERLESS_NOTE not in notes:
                notes.append(SERVERLESS_NOTE)
            continue
        parts.append(format_instance(str(instance_type), count))
        price = pricing.hourly_cost(str(instance_type), count, region, usage="hosting")
        if price is None:
            known = False
            notes.append(f"no price for {instance_type}")
        else:
            total += price
    instance = " + ".join(parts) if parts else "?"
    return Rate(total if known else None, instance, tuple(notes))


def requested_hourly_cost(variants: list[VariantSpec], region: str | None) -> float | None:
    """Return what the variants of a deploy request cost per hour (the budget guard's input).

    Serverless variants count 0: they bill per request, never while idle. ``None`` when an
    instance type has no price.
    """
    total = 0.0
    for variant in variants:
        if variant.serverless_memory_mb:
            continue
        price = pricing.hourly_cost(
            variant.instance_type, variant.instance_count, region, usage="hosting"
        )
        if price is None:
            return None
        total += price
    return total


def _job_interval(record: JobRecord, now: float) -> tuple[float, float] | None:
    """Return when a job's instances billed, or ``None`` if they never started."""
    if not record.started_at:
        return None
    if record.status in BILLING_JOB_STATUSES:
        end = now
    else:
        end = record.ended_at or record.updated_at or record.started_at
    return record.started_at, max(record.started_at, min(end, now))


def _endpoint_interval(record: EndpointRecord, now: float) -> tuple[float, float]:
    """Return when an endpoint's instances billed."""
    start = record.created_at
    if record.status == "Deleted":
        end = record.deleted_at or record.updated_at or start
    elif record.status in BILLING_ENDPOINT_STATUSES:
        end = now
    else:  # Failed (or a status this module does not know): until its row last changed
        end = record.updated_at or start
    return start, max(start, min(end, now))


def _cost(per_hour: float | None, seconds: float) -> float | None:
    return None if per_hour is None else per_hour * seconds / 3600.0


def day_start(now: float) -> float:
    """Return the Unix time of the UTC midnight that began the day of ``now``."""
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def month_start(now: float) -> float:
    """Return the Unix time of the UTC start of the month of ``now``."""
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


@dataclass(frozen=True)
class RunningItem:
    """One job or endpoint that runs (and bills, or would on SageMaker) now."""

    kind: str  # "training", "transform" or "endpoint"
    name: str
    backend: str
    region: str | None
    status: str
    instance: str
    cost: float | None  # USD so far; None when the price is unknown
    cost_per_hour: float | None
    since: float
    notebook: str | None
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the item as ``GET /cost`` has it (``docs/rest-api.md``)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "backend": self.backend,
            "region": self.region,
            "instance": self.instance,
            "cost": _rounded(self.cost),
            "cost_per_hour": _rounded(self.cost_per_hour),
            "since": self.since,
            "notebook": self.notebook,
        }


def _rounded(value: float | None) -> float | None:
    # Six significant digits, without float noise in the JSON: what format_usd shows of a
    # tiny amount (two significant digits) survives, so the panel and the widget agree.
    return None if value is None or not math.isfinite(value) else float(f"{value:.6g}")


class RunningTable(StatusTable[RunningItem]):
    """The running part of a :class:`CostSummary`, as an HTML or a text table."""

    columns = ("kind", "name", "backend", "status", "instance", "age", "cost/hour", "cost", "note")
    empty_text = "Nothing running or billing."
    css_class = "sm-magics-cost"

    def __init__(self, rows: list[RunningItem], now: float) -> None:
        super().__init__(rows)
        self.now = now

    def cells(self, row: RunningItem) -> list[str]:
        """Return one item's cells; the note says when a figure is not a plain bill."""
        notes = list(row.notes)
        if row.backend == "local":
            notes.insert(0, "local: what SageMaker would charge")
        return [
            row.kind,
            row.name,
            row.backend,
            row.status,
            row.instance,
            format_duration(self.now - row.since),
            pricing.format_usd(row.cost_per_hour),
            pricing.format_usd(row.cost),
            "; ".join(notes),
        ]


@dataclass
class CostSummary:
    """The answer of ``%sm_cost`` and ``GET /cost``: what runs now, and what it all cost.

    Attributes
    ----------
    generated_at
        The ``now`` the figures were computed for (Unix seconds).
    running
        Every job and endpoint the ledger has as running or billing, newest first.
    today, month
        USD spent since UTC midnight and since the first of the month (UTC), pro-rated.
    notebook, notebook_total
        The notebook asked about and everything it ever started, all time; ``None`` when
        no notebook was named.
    by_backend
        ``{backend: (USD per hour now, USD this month)}``: the views keep the real spend
        (sagemaker) apart from what local runs would have cost.
    unpriced
        Names of jobs and endpoints whose instance type has no price: they count as 0.
    """

    generated_at: float
    running: list[RunningItem]
    today: float
    month: float
    notebook: str | None = None
    notebook_total: float | None = None
    by_backend: dict[str, tuple[float, float]] = field(default_factory=dict)
    unpriced: list[str] = field(default_factory=list)
    currency: str = "USD"

    @property
    def billing_per_hour(self) -> float:
        """USD per hour of everything running now (items without a price count as 0)."""
        return sum(item.cost_per_hour or 0.0 for item in self.running)

    def billing_per_hour_on(self, backend: str) -> float:
        """USD per hour of what runs now on one backend."""
        return sum(i.cost_per_hour or 0.0 for i in self.running if i.backend == backend)

    def to_json(self) -> dict[str, Any]:
        """Return the "cost summary" of ``docs/rest-api.md``, exactly (what ``GET /cost`` sends)."""
        return {
            "currency": self.currency,
            "generated_at": self.generated_at,
            "billing_per_hour": _rounded(self.billing_per_hour),
            "running": [item.to_json() for item in self.running],
            "totals": {
                "today": _rounded(self.today),
                "month": _rounded(self.month),
                "notebook": _rounded(self.notebook_total),
            },
        }

    # -- display ----------------------------------------------------------------------------

    def _headline(self) -> str:
        count = len(self.running)
        if not count:
            return "Nothing running or billing."
        parts = []
        for backend, (per_hour, _month) in sorted(self.by_backend.items()):
            if any(i.backend == backend for i in self.running):
                would = " would-be" if backend == "local" else ""
                parts.append(f"{backend} {pricing.format_usd(per_hour)}/h{would}")
        detail = f" ({', '.join(parts)})" if len(parts) > 1 or "local" in self.by_backend else ""
        noun = "item" if count == 1 else "items"
        return (
            f"Billing now: {pricing.format_usd(self.billing_per_hour)}/hour, "
            f"{count} {noun} running{detail}."
        )

    def _totals_line(self) -> str:
        parts = [
            f"today {pricing.format_usd(self.today)}",
            f"this month {pricing.format_usd(self.month)}",
        ]
        if self.notebook is not None:
            parts.append(f"this notebook {pricing.format_usd(self.notebook_total)}")
        local = self.by_backend.get("local")
        note = ""
        if local is not None and local[1] > 0:
            note = f"; of the month, {pricing.format_usd(local[1])} is local (would-be)"
        return f"Totals (UTC): {', '.join(parts)}{note}."

    def _footnotes(self) -> list[str]:
        notes = []
        if self.unpriced:
            shown = ", ".join(self.unpriced[:5]) + (" ..." if len(self.unpriced) > 5 else "")
            notes.append(f"No price known for: {shown} (counted as $0).")
        notes.append(
            "Instance time only (no storage, transfer or serverless requests); "
            f"prices as of {pricing.PRICES_AS_OF}, estimates."
        )
        return notes

    def __repr__(self) -> str:
        lines = [self._headline()]
        if self.running:
            lines.append(repr(RunningTable(self.running, self.generated_at)))
        lines.append(self._totals_line())
        lines += self._footnotes()
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        table = RunningTable(self.running, self.generated_at)
        body = [f"<p><b>{escape(self._headline())}</b></p>"]
        if self.running:
            body.append(table._html_body())
        body.append(f"<p>{escape(self._totals_line())}</p>")
        body += [f"<p style='opacity:0.7;font-size:90%'>{escape(n)}</p>" for n in self._footnotes()]
        return no_math("".join(body), "sm-magics-cost-summary")


def _running_job(record: JobRecord, rate: Rate, now: float) -> RunningItem:
    interval = _job_interval(record, now)
    seconds = interval[1] - interval[0] if interval else 0.0
    return RunningItem(
        kind=record.kind,
        name=record.name,
        backend=record.backend,
        region=record.region,
        status=record.status,
        instance=rate.instance,
        cost=_cost(rate.per_hour, seconds),
        cost_per_hour=rate.per_hour,
        since=record.started_at or record.created_at,
        notebook=record.notebook,
        notes=rate.notes,
    )


def _running_endpoint(record: EndpointRecord, rate: Rate, now: float) -> RunningItem:
    start, end = _endpoint_interval(record, now)
    return RunningItem(
        kind="endpoint",
        name=record.name,
        backend=record.backend,
        region=record.region,
        status=record.status,
        instance=rate.instance,
        cost=_cost(rate.per_hour, end - start),
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
        return job_rate(JobRecord(name="", status="", created_at=0.0, **group.job_fields()))
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
