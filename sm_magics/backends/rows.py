"""The ledger rows a backend writes, built in one place for both backends.

The backend owns its rows (see :mod:`sm_magics.backends.base`): ``create_*`` inserts the
whole row, ``describe_*`` syncs it, and a resource the service no longer has is marked
``Deleted``. What a row holds at creation is decided here, once, so that the local and
the sagemaker backend record the same fields in the same units (``ttl`` in seconds) and
nobody above the backend needs to write to the row afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from sm_magics.backends import statuses
from sm_magics.backends.specs import EndpointSpec, TransformSpec, VariantSpec
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import (
    DELETED,
    EndpointChanges,
    EndpointRecord,
    EndpointRowSpec,
    JobRecord,
    LiveVariantSummary,
    TransformRowSpec,
    job_row_spec,
)


def variant_summaries(variants: Iterable[VariantSpec]) -> list[LiveVariantSummary]:
    """Return the ledger's per-variant summary (the shape cost totals read)."""
    return [
        {
            "VariantName": v.name,
            "CurrentWeight": float(v.weight),
            "InstanceType": None if v.serverless_memory_mb else v.instance_type,
            "DesiredInstanceCount": 0 if v.serverless_memory_mb else v.instance_count,
        }
        for v in variants
    ]


def endpoint_row_spec(spec: EndpointSpec) -> EndpointRowSpec:
    """Return the ``spec`` column of a new endpoint: its variants, TTL (seconds) and async."""
    row: EndpointRowSpec = {
        "variants": [v.to_json() for v in spec.variants],
        "ttl": spec.ttl,
    }
    if spec.async_inference is not None:
        row["async"] = spec.async_inference.to_json()
    return row


def endpoint_record(
    spec: EndpointSpec, *, backend: str, region: str | None, now: float
) -> EndpointRecord:
    """Return the whole row of an endpoint being created, status ``Creating``."""
    return EndpointRecord(
        name=spec.name,
        backend=backend,
        region=region,
        status=statuses.CREATING,
        created_at=now,
        ttl_at=now + spec.ttl if spec.ttl else None,
        notebook=spec.notebook,
        tags=dict(spec.tags),
        variants=variant_summaries(spec.variants),
        spec=endpoint_row_spec(spec),
    )


def record_update(
    ledger: Ledger, name: str, variants: list[VariantSpec], *, status: str | None
) -> None:
    """Record an accepted update: the desired variants, their summaries, and ``status``.

    ``status`` is ``Updating`` where the service answers that only later (SageMaker);
    ``None`` leaves it to whoever applies the update (the local router) to write.
    """
    record = ledger.get_endpoint(name)
    if record is None or not record.is_live:
        return
    spec: EndpointRowSpec = {**record.spec, "variants": [v.to_json() for v in variants]}
    changes: EndpointChanges = {"spec": spec, "variants": variant_summaries(variants)}
    if status is not None:
        changes["status"] = status
    ledger.update_endpoint(name, **changes)


def transform_row_spec(spec: TransformSpec) -> TransformRowSpec:
    """Return the ``spec`` column of a new transform job."""
    return {
        "input": spec.input_uri,
        "output": spec.output_uri,
        "content_type": spec.content_type,
        "split_type": spec.split_type,
    }


def transform_record(
    spec: TransformSpec, *, backend: str, region: str | None, now: float
) -> JobRecord:
    """Return the whole row of a transform job being created, status ``InProgress``."""
    return JobRecord(
        name=spec.name,
        backend=backend,
        kind="transform",
        region=region,
        status=statuses.IN_PROGRESS,
        secondary_status=statuses.IN_PROGRESS,
        instance_type=spec.model.instance_type,
        instance_count=spec.model.instance_count,
        created_at=now,
        notebook=spec.notebook,
        tags=dict(spec.tags),
        model_data=spec.model.model_data,
        spec=job_row_spec(transform_row_spec(spec)),
    )


def _ours(record: JobRecord | EndpointRecord, backend: str, region: str | None) -> bool:
    """Whether a row is this backend's to judge: same backend, and same region if known.

    A job of that name in another region (or on another backend) is not gone because
    this backend, looking in its own region, does not see it.
    """
    return record.backend == backend and (
        region is None or record.region is None or record.region == region
    )


def _being_created(record: JobRecord | EndpointRecord, grace: float) -> bool:
    """Whether a row is still in its first status and younger than ``grace`` seconds."""
    first = statuses.CREATING if isinstance(record, EndpointRecord) else statuses.IN_PROGRESS
    return record.status == first and time.time() - record.created_at < grace


def mark_job_deleted(
    ledger: Ledger,
    name: str,
    *,
    backend: str,
    region: str | None,
    why: str,
    creation_grace: float = 0.0,
) -> None:
    """Mark a job row ``Deleted``: its backend no longer has the job (idempotent).

    ``ended_at`` is kept if known (costs stop there), else now; ``deleted_at`` is when the
    backend first saw it gone. The failure reason, if the job had none, says ``why``. A row
    that may be being created (``creation_grace``, see :mod:`.local.creation`) is left.
    """
    record = ledger.get_job(name)
    if record is None or record.status == DELETED or not _ours(record, backend, region):
        return
    if _being_created(record, creation_grace):
        return
    now = time.time()
    ledger.update_job(
        name,
        status=DELETED,
        secondary_status=DELETED,
        ended_at=record.ended_at or now,
        deleted_at=now,
        failure_reason=record.failure_reason or why,
    )


def mark_endpoint_deleted(
    ledger: Ledger,
    name: str,
    *,
    backend: str,
    region: str | None,
    reason: str | None = None,
    when: float | None = None,
    creation_grace: float = 0.0,
) -> None:
    """Mark the live row of endpoint ``name`` ``Deleted`` with ``deleted_at`` (idempotent)."""
    record = ledger.get_endpoint(name)
    if record is None or not record.is_live or not _ours(record, backend, region):
        return
    if _being_created(record, creation_grace):
        return
    changes: EndpointChanges = {"status": DELETED, "deleted_at": when or time.time()}
    if reason:
        changes["failure_reason"] = reason
    ledger.update_endpoint(name, **changes)
