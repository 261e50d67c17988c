"""SageMaker rows: ledger rows served by a stub backend put into the server's Session.

No moto here: what the extension does with a SageMaker row is describe it, stop it or
delete it through the backend, and map its errors; a stub that records calls and raises
the backend's own error classes shows that without a network. (The SageMaker backend
itself is tested against moto and botocore's Stubber in tests/sagemaker*/.)
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import pytest

from sm_magics.backends.base import Backend
from sm_magics.errors import AccessDenied, BackendUnavailable, NotFound
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointRecord, JobRecord
from sm_magics.server.context import ServerContext

from .conftest import Call


class StubSageMaker:
    """Answers describe/stop/delete for the rows the test wrote; records every call."""

    name = "sagemaker"
    status_poll_interval = 5.0

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.calls: list[tuple[str, str]] = []
        self.job_status: dict[str, str] = {}
        self.fail: dict[str, Exception] = {}

    refresh = Backend.refresh  # the contract's own: describe, then read the row again

    def _call(self, what: str, name: str) -> None:
        self.calls.append((what, name))
        if name in self.fail:
            raise self.fail[name]

    def describe_training_job(self, name: str) -> dict[str, Any]:
        self._call("describe_training_job", name)
        status = self.job_status.get(name, "InProgress")
        # As the real backend does: a describe syncs the ledger row.
        record = self.ledger.get_job(name)
        if record is not None and record.status != status:
            self.ledger.update_job(name, status=status, ended_at=time.time())
        return {
            "TrainingJobName": name,
            "TrainingJobStatus": status,
            "SecondaryStatus": "Training" if status == "InProgress" else status,
            "AlgorithmSpecification": {"MetricDefinitions": []},
            "CreationTime": datetime.now(tz=timezone.utc),
        }

    def stop_training_job(self, name: str) -> None:
        self._call("stop_training_job", name)
        self.job_status[name] = "Stopping"

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        try:
            self._call("describe_endpoint", name)
        except NotFound:
            # As the real backend does: what it no longer has, it marks Deleted.
            self.ledger.update_endpoint(name, status="Deleted", deleted_at=time.time())
            raise
        return {"EndpointName": name, "EndpointStatus": "InService", "ProductionVariants": []}

    def delete_endpoint(self, name: str) -> None:
        self._call("delete_endpoint", name)
        self.ledger.update_endpoint(name, status="Deleted", deleted_at=time.time())


@pytest.fixture
def stub(server_context: ServerContext) -> StubSageMaker:
    """The stub, installed as the server Session's ``sagemaker`` backend."""
    session = server_context.session
    backend = StubSageMaker(session.ledger)
    session._backends["sagemaker"] = backend  # type: ignore[assignment]
    return backend


def add_job(ledger: Ledger, name: str, status: str = "InProgress") -> None:
    now = time.time()
    ledger.insert_job(
        JobRecord(
            name=name,
            backend="sagemaker",
            region="us-east-1",
            status=status,
            created_at=now - 60,
            started_at=now - 50,
            instance_type="ml.m5.xlarge",
            instance_count=2,
            notebook="train.ipynb",
        )
    )


def add_endpoint(ledger: Ledger, name: str) -> None:
    ledger.insert_endpoint(
        EndpointRecord(
            name=name,
            backend="sagemaker",
            region="us-east-1",
            status="InService",
            created_at=time.time() - 3600,
            url="https://runtime.sagemaker.us-east-1.amazonaws.com",
            variants=[
                {
                    "VariantName": "AllTraffic",
                    "CurrentWeight": 1.0,
                    "InstanceType": "ml.m5.large",
                    "DesiredInstanceCount": 1,
                }
            ],
            notebook="serve.ipynb",
        )
    )


async def test_running_sagemaker_job_is_refreshed_before_listing(
    api: Call, stub: StubSageMaker
) -> None:
    add_job(stub.ledger, "sm-job-1")
    stub.job_status["sm-job-1"] = "Completed"
    reply = await api("GET", "jobs")
    assert reply.status == 200
    [row] = reply.body["jobs"]
    assert (row["name"], row["backend"], row["status"]) == ("sm-job-1", "sagemaker", "Completed")
    assert ("describe_training_job", "sm-job-1") in stub.calls
    assert row["instance_count"] == 2


async def test_stop_and_access_denied_on_sagemaker(api: Call, stub: StubSageMaker) -> None:
    add_job(stub.ledger, "sm-job-2")
    reply = await api("POST", "jobs", "sm-job-2", "stop")
    assert reply.status == 200
    assert reply.body["status"] == "Stopping"
    assert reply.body["billing"] is True  # SageMaker bills until the instances are gone
    stub.fail["sm-job-2"] = AccessDenied("sagemaker:DescribeTrainingJob is not allowed")
    denied = await api("GET", "jobs", "sm-job-2")
    assert denied.status == 403
    assert denied.body == {
        "code": "AccessDenied",
        "message": "sagemaker:DescribeTrainingJob is not allowed",
    }


async def test_a_backend_that_cannot_be_reached_is_503_and_the_list_still_shows(
    api: Call, stub: StubSageMaker
) -> None:
    add_endpoint(stub.ledger, "sm-ep-1")
    stub.fail["sm-ep-1"] = BackendUnavailable("No AWS credentials found.")
    one = await api("GET", "endpoints", "sm-ep-1")
    assert one.status == 503
    assert one.body["code"] == "BackendUnavailable"
    listed = await api("GET", "endpoints")
    assert [e["name"] for e in listed.body["endpoints"]] == ["sm-ep-1"]
    assert listed.body["endpoints"][0]["last_invoked_at"] is None  # unknown on SageMaker


async def test_an_unexpected_error_is_a_500_without_traceback(
    api: Call, stub: StubSageMaker
) -> None:
    add_job(stub.ledger, "sm-job-3")
    stub.fail["sm-job-3"] = RuntimeError("boom")
    reply = await api("GET", "jobs", "sm-job-3")
    assert reply.status == 500
    assert reply.body == {"code": "InternalError", "message": "RuntimeError: boom"}
    assert b"Traceback" not in reply.raw


async def test_an_endpoint_sagemaker_forgot_is_marked_deleted(
    api: Call, stub: StubSageMaker
) -> None:
    add_endpoint(stub.ledger, "sm-ep-2")
    stub.fail["sm-ep-2"] = NotFound("Could not find endpoint sm-ep-2.")
    reply = await api("GET", "endpoints", "sm-ep-2")
    assert reply.status == 200
    assert reply.body["status"] == "Deleted"
    assert (await api("GET", "endpoints")).body["endpoints"] == []


async def test_delete_a_sagemaker_endpoint(api: Call, stub: StubSageMaker) -> None:
    add_endpoint(stub.ledger, "sm-ep-3")
    reply = await api("DELETE", "endpoints", "sm-ep-3")
    assert reply.status == 200
    assert reply.body["status"] == "Deleted"
    assert ("delete_endpoint", "sm-ep-3") in stub.calls


async def test_cost_summary_lists_what_bills(api: Call, stub: StubSageMaker) -> None:
    add_endpoint(stub.ledger, "sm-ep-4")
    add_job(stub.ledger, "sm-job-4")
    reply = await api("GET", "cost")
    assert reply.status == 200
    body = reply.body
    assert body["currency"] == "USD"
    assert {(r["kind"], r["name"]) for r in body["running"]} == {
        ("endpoint", "sm-ep-4"),
        ("training", "sm-job-4"),
    }
    assert body["billing_per_hour"] > 0
    assert body["totals"]["notebook"] is None
    scoped = await api("GET", "cost", params={"notebook": "serve.ipynb"})
    assert scoped.body["totals"]["notebook"] > 0
