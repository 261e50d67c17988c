"""Issue 11: one formula for a job's cost, whatever shows it.

``%sm_jobs`` (``JobRow``), the job widget (``JobRow`` from a describe), ``%sm_cost`` (the
running items of the summary) and the REST JSON (``serialize.job_json``) all ask
:mod:`sm_magics.costs`. Before, a batch transform was priced as training by ``JobRow`` and
as hosting by the summary, so an ``ml.t3`` transform (a hosting-only type) showed n/a in
``%sm_jobs`` and a price in ``%sm_cost``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from sm_magics import cost_summary, costs, pricing
from sm_magics.display.endpoints import EndpointRow
from sm_magics.display.jobs import JobRow
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointRecord, JobRecord
from sm_magics.server.serialize import endpoint_json, job_json

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
HOUR = 3600.0


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def record(kind: str, instance_type: str, *, status: str, spot: bool = False) -> JobRecord:
    return JobRecord(
        name=f"{kind}-job",
        kind=kind,
        backend="sagemaker",
        region="us-east-1",
        status=status,
        created_at=NOW - 2 * HOUR,
        started_at=NOW - HOUR,
        ended_at=None if status == "InProgress" else NOW,
        instance_type=instance_type,
        instance_count=2,
        spot=spot,
    )


def description(job: JobRecord) -> dict[str, Any]:
    """What ``Describe<Kind>Job`` answers for the same job."""
    start, end = at(job.started_at or NOW), at(job.ended_at) if job.ended_at else None
    resources = {"InstanceType": job.instance_type, "InstanceCount": job.instance_count}
    if job.kind == "transform":
        return {
            "TransformJobName": job.name,
            "TransformJobStatus": job.status,
            "TransformResources": resources,
            "TransformStartTime": start,
            **({"TransformEndTime": end} if end else {}),
        }
    return {
        "TrainingJobName": job.name,
        "TrainingJobStatus": job.status,
        "SecondaryStatus": job.status,
        "ResourceConfig": resources,
        "EnableManagedSpotTraining": job.spot,
        "TrainingStartTime": start,
        **({"TrainingEndTime": end} if end else {}),
    }


CASES = [
    ("transform", "ml.t3.medium", False),  # hosting-only type: priced as hosting everywhere
    ("transform", "ml.m5.xlarge", False),  # a type with both prices: the hosting one
    ("training", "ml.m5.xlarge", False),
    ("training", "ml.m5.xlarge", True),
]


@pytest.mark.parametrize(("kind", "instance_type", "spot"), CASES)
def test_a_finished_job_costs_the_same_in_every_view(kind: str, instance_type: str, spot: bool):
    job = record(kind, instance_type, status="Completed", spot=spot)
    usage = "hosting" if kind == "transform" else "training"
    expected = pricing.cost_for(HOUR, instance_type, 2, "us-east-1", usage=usage, spot=spot)
    assert expected is not None and expected > 0
    from_row = JobRow.from_record(job, now=NOW + 5 * HOUR).cost
    from_describe = JobRow.from_description(description(job), "sagemaker", job, now=NOW).cost
    from_rest = job_json(job, now=NOW + 5 * HOUR)["cost"]
    assert from_row == pytest.approx(expected)
    assert from_describe == pytest.approx(expected)
    assert from_rest == pytest.approx(expected)


@pytest.mark.parametrize(("kind", "instance_type", "spot"), CASES)
def test_a_running_job_costs_the_same_in_every_view(
    kind: str, instance_type: str, spot: bool, tmp_path: Any
):
    job = record(kind, instance_type, status="InProgress", spot=spot)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    try:
        ledger.insert_job(job)
        (item,) = cost_summary.summarize(ledger, now=NOW).running
    finally:
        ledger.close()
    from_row = JobRow.from_record(job, now=NOW).cost
    from_describe = JobRow.from_description(description(job), "sagemaker", job, now=NOW).cost
    from_rest = job_json(job, now=NOW)
    assert item.cost is not None
    assert from_row == pytest.approx(item.cost)
    assert from_describe == pytest.approx(item.cost)
    assert from_rest["cost"] == pytest.approx(item.cost)
    assert from_rest["cost_per_hour"] == pytest.approx(item.cost_per_hour)


def test_an_endpoint_costs_the_same_per_hour_in_every_view():
    variants = [
        {
            "VariantName": "AllTraffic",
            "CurrentWeight": 1.0,
            "InstanceType": "ml.t3.medium",
            "DesiredInstanceCount": 2,
        },
        {"VariantName": "sl", "CurrentWeight": 1.0},
    ]
    endpoint = EndpointRecord(
        name="ep",
        backend="sagemaker",
        region="us-east-1",
        status="InService",
        created_at=NOW - HOUR,
        variants=variants,
        spec={"variants": [{"name": "sl", "serverless_memory_mb": 2048}]},
    )
    expected = pricing.hourly_cost("ml.t3.medium", 2, "us-east-1", usage="hosting")
    described = {
        "EndpointName": "ep",
        "EndpointStatus": "InService",
        "ProductionVariants": variants,
    }
    assert expected is not None
    assert costs.endpoint_rate(endpoint).per_hour == pytest.approx(expected)
    assert EndpointRow.from_record(endpoint).cost_per_hour == pytest.approx(expected)
    from_describe = EndpointRow.from_description(described, "sagemaker", endpoint).cost_per_hour
    assert from_describe == pytest.approx(expected)
    assert endpoint_json(endpoint, now=NOW)["cost_per_hour"] == pytest.approx(expected)
