"""Jobs and endpoints as the REST API's JSON objects (``docs/rest-api.md``, "Objects").

Built from ledger rows, the index every process shares, with the status of a fresh
describe laid over them where the handler has one (a local job the user just stopped says
``Stopping`` before its row does). Rates come from :mod:`sm_magics.costs`, so a row of the
panel and the panel's cost summary never disagree.
"""

from __future__ import annotations

import json
from typing import TypedDict

from sm_magics import costs
from sm_magics.api.registry import PACKAGE_TAG
from sm_magics.backends import statuses
from sm_magics.backends.specs import DEFAULT_VARIANT
from sm_magics.ledger_records import EndpointRecord, JobRecord
from sm_magics.model_registry import PackageRecord

#: What the panel's "copy invoke snippet" sends when nothing better is known: one row of
#: numbers as a JSON list of rows, which the toolkit's default ``input_fn`` (and the
#: local backend's) turns into a 2-D array. Users edit the numbers.
EXAMPLE_PAYLOAD = [[0.0, 0.0, 0.0, 0.0]]


class JobJSON(TypedDict):
    """A training or transform job."""

    name: str
    kind: str
    backend: str
    region: str | None
    status: str
    secondary_status: str | None
    instance_type: str | None
    instance_count: int
    spot: bool
    created_at: float
    started_at: float | None
    ended_at: float | None
    duration: float | None
    cost: float | None
    cost_per_hour: float | None
    billing: bool
    failure_reason: str | None
    model_data: str | None
    notebook: str | None


class VariantJSON(TypedDict):
    """One production variant of an endpoint."""

    name: str
    instance_type: str | None
    instance_count: int
    weight: float
    serverless_memory_mb: int | None


class EndpointJSON(TypedDict):
    """An endpoint, live or (with ``deleted=1``) history."""

    name: str
    backend: str
    region: str | None
    status: str
    url: str | None
    variants: list[VariantJSON]
    created_at: float
    deleted_at: float | None
    ttl_at: float | None
    age: float
    last_invoked_at: float | None
    cost: float | None
    cost_per_hour: float | None
    billing: bool
    failure_reason: str | None
    notebook: str | None
    snippet: str
    model_package: str | None


def _money(value: float | None) -> float | None:
    # Six significant digits, as the cost summary rounds: no float noise in the JSON, and
    # the two significant digits format_usd shows of a tiny amount survive.
    return None if value is None else float(f"{value:.6g}")


def job_json(
    record: JobRecord, *, now: float, status: str | None = None, secondary: str | None = None
) -> JobJSON:
    """Return one job; ``status``/``secondary`` (from a fresh describe) win over the row's."""
    status = status or record.status
    billing = status in costs.BILLING_JOB_STATUSES
    priced = costs.job_cost(record, now=now, status=status)
    return {
        "name": record.name,
        "kind": record.kind,
        "backend": record.backend,
        "region": record.region,
        "status": status,
        "secondary_status": secondary or record.secondary_status,
        "instance_type": record.instance_type,
        "instance_count": record.instance_count,
        "spot": record.spot,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "duration": priced.duration,
        "cost": _money(priced.cost),
        "cost_per_hour": _money(priced.rate.per_hour),
        "billing": billing,
        "failure_reason": record.failure_reason,
        "model_data": record.model_data,
        "notebook": record.notebook,
    }


def _serverless_memory(record: EndpointRecord) -> dict[str, int]:
    """Return ``{variant: memory MB}`` of the serverless variants the spec asked for."""
    found: dict[str, int] = {}
    for variant in record.spec.get("variants", []):
        memory = variant.get("serverless_memory_mb")
        if memory:
            found[str(variant.get("name"))] = int(memory)
    return found


def variants_json(record: EndpointRecord) -> list[VariantJSON]:
    """Return the variants of the ledger's summary (the router's, or SageMaker's)."""
    memory = _serverless_memory(record)
    result: list[VariantJSON] = []
    for variant in record.variants:
        name = str(variant.get("VariantName") or DEFAULT_VARIANT)
        count = variant.get("DesiredInstanceCount") or variant.get("CurrentInstanceCount") or 0
        weight = variant.get("CurrentWeight", variant.get("DesiredWeight", 1.0))
        result.append(
            {
                "name": name,
                "instance_type": variant.get("InstanceType") or None,
                "instance_count": int(count),
                "weight": float(weight if weight is not None else 1.0),
                "serverless_memory_mb": memory.get(name),
            }
        )
    return result


def invoke_snippet(name: str) -> str:
    """Return the ``%sm_invoke`` line the panel copies: the endpoint and an example row."""
    return f"%sm_invoke {name} '{json.dumps(EXAMPLE_PAYLOAD)}'"


def served_package(record: EndpointRecord) -> str | None:
    """Return ``group/version`` of the registry version an endpoint serves, or ``None``.

    Read from the endpoint's package tag (the version's ARN ends ``model-package/GROUP/N``
    on both backends), so listing endpoints costs no registry query.
    """
    arn = (record.tags or {}).get(PACKAGE_TAG) or ""
    _, found, reference = arn.partition(":model-package/")
    return reference if found and "/" in reference else None


def endpoint_json(
    record: EndpointRecord,
    *,
    now: float,
    status: str | None = None,
    last_invoked_at: float | None = None,
) -> EndpointJSON:
    """Return one endpoint; ``status`` (from a fresh describe) wins over the row's."""
    status = status or record.status
    billing = status in costs.BILLING_ENDPOINT_STATUSES
    if status == statuses.DELETED:
        end = record.deleted_at or record.updated_at or record.created_at
    elif billing:
        end = now
    else:  # Failed: it stopped billing when its row last changed
        end = record.updated_at or record.created_at
    age = max(0.0, (record.deleted_at or now) - record.created_at)
    per_hour = costs.endpoint_rate(record).per_hour
    billed = max(0.0, end - record.created_at)
    return {
        "name": record.name,
        "backend": record.backend,
        "region": record.region,
        "status": status,
        "url": record.url,
        "variants": variants_json(record),
        "created_at": record.created_at,
        "deleted_at": record.deleted_at,
        "ttl_at": record.ttl_at,
        "age": age,
        "last_invoked_at": last_invoked_at,
        "cost": _money(None if per_hour is None else per_hour * billed / 3600),
        "cost_per_hour": _money(per_hour),
        "billing": billing,
        "failure_reason": record.failure_reason,
        "notebook": record.notebook,
        "snippet": invoke_snippet(record.name),
        "model_package": served_package(record),
    }


class PackageJSON(TypedDict):
    """A model package version as ``GET /models`` lists it."""

    group: str
    version: int
    arn: str
    backend: str
    status: str
    model_data: str
    source_job: str | None
    description: str | None
    metrics: dict[str, float]
    created_at: float
    changed_by: str | None
    changed_at: float | None


def package_json(record: PackageRecord) -> PackageJSON:
    """Return one registry version as the REST API shows it."""
    last = record.history[-1] if record.history else None
    return {
        "group": record.group_name,
        "version": record.version,
        "arn": record.arn,
        "backend": record.backend,
        "status": record.status,
        "model_data": record.model_data,
        "source_job": record.source_job,
        "description": record.description,
        "metrics": dict(record.metrics),
        "created_at": record.created_at,
        "changed_by": last.get("by") if last else None,
        "changed_at": last.get("at") if last else None,
    }
