"""Issue 11: cheap and consistent handles, and one refresh that writes nothing itself.

- ``repr()`` of a ``Job`` or ``Endpoint`` reads the ledger row: no backend call, no write
  (a variable inspector calls it on every refresh).
- ``Endpoint.wait`` polls at the backend's pace, as ``Job.wait`` does.
- A handle carries its region: a job the ledger has in another region is described and
  stopped there, not in the session's region.
- ``Session.refresh`` describes what may still run and returns the rows from the ledger;
  it never writes a row (the backend owns its rows).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from sm_magics.api import Job, Session
from sm_magics.backends import registry
from sm_magics.backends.base import Backend
from sm_magics.endpoint import Endpoint
from sm_magics.errors import NotFound
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointRecord, JobRecord


class Recorder:
    """A backend that records every call; the tests say what each describe answers."""

    name = "sagemaker"
    status_poll_interval = 5.0
    made: list[Recorder] = []

    def __init__(self, *, region: str | None = None, ledger: Ledger, **options: Any) -> None:
        self.region = region
        self.ledger = ledger
        self.calls: list[tuple[str, str]] = []
        self.endpoint_statuses = ["Creating", "Creating", "InService"]
        Recorder.made.append(self)

    def describe_training_job(self, name: str) -> dict[str, Any]:
        self.calls.append(("describe_training_job", name))
        raise NotFound(name)

    def stop_training_job(self, name: str) -> None:
        self.calls.append(("stop_training_job", name))

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        self.calls.append(("describe_endpoint", name))
        return {"EndpointName": name, "EndpointStatus": self.endpoint_statuses.pop(0)}

    refresh = Backend.refresh  # the contract's own: describe, then read the row again


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    opened = Ledger(tmp_path / "ledger.sqlite")
    yield opened
    opened.close()


@pytest.fixture
def session(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> Session:
    Recorder.made = []
    real = registry.get_backend_class
    monkeypatch.setattr(
        registry,
        "get_backend_class",
        lambda name: Recorder if name == "sagemaker" else real(name),
    )
    return Session("sagemaker", region="us-east-1", ledger=ledger, max_hourly_cost=0)


def add_job(ledger: Ledger, region: str = "us-east-1") -> JobRecord:
    ledger.insert_job(
        JobRecord(
            name="j",
            backend="sagemaker",
            region=region,
            status="InProgress",
            secondary_status="Training",
            created_at=time.time() - 60,
        )
    )
    record = ledger.get_job("j")
    assert record is not None
    return record


def add_endpoint(ledger: Ledger) -> EndpointRecord:
    ledger.insert_endpoint(
        EndpointRecord(
            name="ep",
            backend="sagemaker",
            region="us-east-1",
            status="Creating",
            created_at=time.time(),
        )
    )
    record = ledger.get_endpoint("ep")
    assert record is not None
    return record


def test_repr_reads_the_ledger_row_only(session: Session, ledger: Ledger) -> None:
    before = add_job(ledger)
    endpoint_before = add_endpoint(ledger)
    job = session.job("j")
    endpoint = session.endpoint("ep")
    assert repr(job) == "<Job j (sagemaker) InProgress/Training>"
    assert repr(endpoint) == "<Endpoint ep (sagemaker) Creating>"
    assert all(not backend.calls for backend in Recorder.made)  # not one backend call
    assert ledger.get_job("j") == before  # and nothing written
    assert ledger.get_endpoint("ep") == endpoint_before


def test_endpoint_wait_polls_at_the_backends_pace(
    session: Session, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_endpoint(ledger)
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    Endpoint.from_record(session, ledger.get_endpoint("ep")).wait()  # type: ignore[arg-type]
    assert slept == [2.5, 2.5]  # half the backend's status interval (5 s), not 0.25 s


def test_a_handle_carries_its_region(session: Session, ledger: Ledger) -> None:
    add_job(ledger, region="eu-west-1")
    job = session.job("j")
    assert job.region == "eu-west-1"
    job.stop()
    (backend,) = Recorder.made
    assert backend.region == "eu-west-1"  # not the session's us-east-1
    assert backend.calls == [("stop_training_job", "j")]


def test_refresh_describes_what_may_run_and_writes_nothing(
    session: Session, ledger: Ledger
) -> None:
    job = add_job(ledger, region="eu-west-1")
    finished = JobRecord(name="done", backend="sagemaker", status="Completed", created_at=1.0)
    ledger.insert_job(finished)
    fresh = session.refresh([job, ledger.get_job("done")])  # type: ignore[list-item]
    # The backend answered NotFound without marking the row: the session does not either.
    assert [r.name for r in fresh] == ["j", "done"]
    assert ledger.get_job("j") == job
    (backend,) = Recorder.made
    assert backend.region == "eu-west-1"
    assert backend.calls == [("describe_training_job", "j")]  # the finished job: no call
    assert isinstance(session.job("j"), Job)
