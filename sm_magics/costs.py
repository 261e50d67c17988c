"""What a job or an endpoint costs: its hourly rate and its billed time, one formula each.

The one owner of a rate and a cost: ``%sm_jobs``, ``%sm_cost``
(:mod:`sm_magics.cost_summary`), the widgets, the REST JSON and the budget guard all ask
here, from a ledger row or from a fresh description alike.

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
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sm_magics import pricing
from sm_magics.backends import kinds
from sm_magics.display import format_instance
from sm_magics.ledger_records import EndpointRecord, JobRecord, LiveVariantSummary

if TYPE_CHECKING:
    from sm_magics.backends.descriptions import EndpointDescription, ServedVariantDescription
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
        return cls(duration, rate, cost_of(rate.per_hour, duration or 0.0))


def job_cost(record: JobRecord, *, now: float | None = None, status: str | None = None) -> JobCost:
    """Return a job's cost from its ledger row (``status``: a fresher one, from a describe)."""
    moment = time.time() if now is None else now
    if status is not None and status != record.status:
        record = dataclasses.replace(record, status=status)
    interval = job_interval(record, moment)
    duration = interval[1] - interval[0] if interval else None
    return JobCost.of(job_rate(record), duration)


def described_job_cost(
    description: Mapping[str, object], region: str | None, *, now: float | None = None
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


def described_endpoint_rate(
    description: EndpointDescription, record: EndpointRecord | None
) -> Rate:
    """Return an endpoint's hourly rate from a fresh ``DescribeEndpoint``, by the same formula."""
    return variants_rate(description.get("ProductionVariants", ()), record)


def variants_rate(
    variants: Sequence[ServedVariantDescription | LiveVariantSummary], record: EndpointRecord | None
) -> Rate:
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
        name = variant.get("VariantName", "")
        instance_type = variant.get("InstanceType")
        count = variant.get("DesiredInstanceCount") or variant.get("CurrentInstanceCount") or 0
        if name in serverless or not instance_type:
            memory = _memory_of(record, name) if record is not None else None
            parts.append(f"serverless {memory} MB" if memory else "serverless")
            if SERVERLESS_NOTE not in notes:
                notes.append(SERVERLESS_NOTE)
            continue
        parts.append(format_instance(instance_type, count))
        price = pricing.hourly_cost(instance_type, count, region, usage="hosting")
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


def job_interval(record: JobRecord, now: float) -> tuple[float, float] | None:
    """Return when a job's instances billed, or ``None`` if they never started."""
    if not record.started_at:
        return None
    if record.status in BILLING_JOB_STATUSES:
        end = now
    else:
        end = record.ended_at or record.updated_at or record.started_at
    return record.started_at, max(record.started_at, min(end, now))


def endpoint_interval(record: EndpointRecord, now: float) -> tuple[float, float]:
    """Return when an endpoint's instances billed."""
    start = record.created_at
    if record.status == "Deleted":
        end = record.deleted_at or record.updated_at or start
    elif record.status in BILLING_ENDPOINT_STATUSES:
        end = now
    else:  # Failed (or a status this module does not know): until its row last changed
        end = record.updated_at or start
    return start, max(start, min(end, now))


def cost_of(per_hour: float | None, seconds: float) -> float | None:
    """Return the USD of ``seconds`` at ``per_hour``; ``None`` without a price."""
    return None if per_hour is None else per_hour * seconds / 3600.0
