"""Issue 11, bug 1: an endpoint its ``--ttl`` deleted on SageMaker reads as Deleted everywhere.

The endpoint is deployed through the real ``Session.deploy`` (on moto) with ``ttl="2h"``;
then the schedule's work is done by hand (moto stores schedules but never runs them):
SageMaker's ``DeleteEndpoint``, and the clock moved past the TTL. Each path that shows what
bills (``%sm_endpoints``, ``%sm_cost``, the REST ``/cost`` and the budget guard) must then
see the endpoint as gone, and its ledger row as Deleted, saying why. Before the fix
``Session.deploy`` rewrote the row's ``ttl`` (seconds, the backend's) as ``"2h"``, and the
vanished path raised ``TypeError`` formatting it, which every caller swallowed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from sm_magics.api import Session

from .conftest import BUCKET, SKLEARN_IMAGE

REAL_TIME = time.time


def deploy_then_vanish(backend: Any, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Session:
    session = Session(
        "sagemaker",
        region=backend.aws.region,
        ledger=backend.ledger,
        aws=backend.aws,
        max_hourly_cost=0,
        **options,
    )
    session.deploy(
        f"s3://{BUCKET}/models/a/model.tar.gz",
        endpoint="ep",
        instance_type="ml.m5.large",
        environment={"SM_MAGICS_IMAGE": SKLEARN_IMAGE},
        ttl="2h",
    )
    assert session.ledger.get_endpoint("ep").is_live
    # What the EventBridge schedule does at the TTL: delete the endpoint (and nothing else).
    backend.aws.client("sagemaker").delete_endpoint(EndpointName="ep")
    started = REAL_TIME()
    monkeypatch.setattr(time, "time", lambda: REAL_TIME() - started + started + 3 * 3600)
    return session


def through_endpoints(session: Session, _ctx: Any) -> list[str]:
    return [row.name for row in session.endpoints()]


def through_cost(session: Session, _ctx: Any) -> list[str]:
    return [item.name for item in session.costs().running]


def through_rest_cost(session: Session, ctx: Any) -> list[str]:
    from sm_magics.server.handlers import cost_summary

    return [item["name"] for item in cost_summary(ctx, None)["running"]]


def through_budget_guard(session: Session, _ctx: Any) -> list[str]:
    session.max_hourly_cost = 0.2  # the endpoint (0.115/h) + this request would pass it
    session.check_budget("test request", 0.115, "sagemaker")  # raises if the endpoint counts
    return []


@pytest.mark.parametrize(
    "path", [through_endpoints, through_cost, through_rest_cost, through_budget_guard]
)
def test_an_endpoint_deleted_by_its_ttl_reads_deleted_through_every_path(
    moto_backend: Any, monkeypatch: pytest.MonkeyPatch, path: Callable[[Session, Any], list[str]]
) -> None:
    from sm_magics.server.context import ServerContext

    session = deploy_then_vanish(moto_backend, monkeypatch)
    ctx = ServerContext(max_workers=1)
    try:
        # The server's Session, with the moto backend of this test (as the kernel has it).
        ctx.session._backends["sagemaker"] = moto_backend
        assert "ep" not in path(session, ctx)
    finally:
        ctx.close()
    record = session.ledger.get_endpoint("ep")
    assert record.status == "Deleted"
    assert record.deleted_at is not None
    assert record.failure_reason == "TTL expired (2h 00m)"
    assert record.spec["ttl"] == 7200  # the backend's fact, in seconds, not the text typed
