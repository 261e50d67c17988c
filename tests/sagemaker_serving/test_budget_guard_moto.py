"""The budget guard on the sagemaker backend, against moto: a refused request calls nothing.

Every SageMaker and S3 operation the backend's clients make is recorded through botocore's
``before-call`` event, so "nothing created" is checked twice: no Create* call was made,
and moto holds no model, endpoint config, endpoint, training job or S3 object.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sm_magics import pricing
from sm_magics.api import Session
from sm_magics.errors import BudgetExceeded

from .conftest import BUCKET

BIG = "ml.p4d.24xlarge"


@pytest.fixture
def calls(moto_backend: Any) -> list[str]:
    """The operation names the backend's sagemaker and s3 clients send, in order."""
    seen: list[str] = []

    def record(model: Any, **_: Any) -> None:
        seen.append(model.name)

    for service in ("sagemaker", "s3"):
        moto_backend.aws.client(service).meta.events.register("before-call.*.*", record)
    return seen


@pytest.fixture
def session(moto_backend: Any) -> Iterator[Session]:
    """A sagemaker session on the moto backend, with a 10 USD/h limit."""
    session = Session("sagemaker", ledger=moto_backend.ledger, max_hourly_cost=10.0)
    session._backends["sagemaker"] = moto_backend
    yield session


def holdings(backend: Any) -> dict[str, list[Any]]:
    """What moto holds that a deploy or a training job would create."""
    sm = backend.aws.client("sagemaker")
    objects = backend.aws.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {
        "models": sm.list_models()["Models"],
        "configs": sm.list_endpoint_configs()["EndpointConfigs"],
        "endpoints": sm.list_endpoints()["Endpoints"],
        "training": sm.list_training_jobs()["TrainingJobSummaries"],
        "objects": [o["Key"] for o in objects],
    }


EMPTY: dict[str, list[Any]] = {
    "models": [],
    "configs": [],
    "endpoints": [],
    "training": [],
    "objects": [],
}


def test_p4d_deploy_is_refused_before_any_aws_call(
    session: Session, moto_backend: Any, calls: list[str]
) -> None:
    big = pricing.hourly_cost(BIG, 1, "us-east-1", usage="hosting")
    assert big is not None and big > 10
    with pytest.raises(BudgetExceeded, match=rf"sagemaker billing to {big:.2f} USD/h"):
        session.deploy(f"s3://{BUCKET}/model.tar.gz", endpoint="big", instance_type=BIG)
    assert not [c for c in calls if c.startswith(("Create", "Put", "Upload"))], calls
    assert holdings(moto_backend) == EMPTY
    assert "ListModels" in calls  # the recorder sees what the clients send
    assert session.ledger.list_endpoints(live_only=False) == []


def test_p4d_training_is_refused_before_any_upload(
    session: Session, moto_backend: Any, calls: list[str]
) -> None:
    with pytest.raises(BudgetExceeded, match="training job"):
        session.train("print('hi')", instance_type=BIG, framework="sklearn")
    assert calls == []
    assert holdings(moto_backend) == EMPTY
    assert session.ledger.list_jobs() == []


def test_local_runs_do_not_count_against_sagemaker(
    session: Session, moto_backend: Any, calls: list[str]
) -> None:
    import time

    from sm_magics.ledger_records import EndpointRecord

    session.ledger.insert_endpoint(
        EndpointRecord(
            name="local-big",
            backend="local",
            status="InService",
            created_at=time.time(),
            region="us-east-1",
            variants=[{"VariantName": "a", "InstanceType": BIG, "DesiredInstanceCount": 1}],
        )
    )
    small = pricing.hourly_cost("ml.m5.large", 1, "us-east-1", usage="hosting")
    assert small is not None
    session.check_budget("endpoint x", small, "sagemaker")  # no raise
    with pytest.raises(BudgetExceeded, match=r"running 0\.00"):
        session.check_budget("endpoint y", 10.5, "sagemaker")
