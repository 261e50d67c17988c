"""The extension's pure parts: error mapping, cursors, parameters, ledger version, JSON."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tornado.web import HTTPError

from sm_magics import errors
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointRecord, JobRecord
from sm_magics.server import cursors, params, serialize
from sm_magics.server.changes import EMPTY, LedgerVersion
from sm_magics.server.errors import describe


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (errors.InvalidRequest("bad"), 400, "InvalidRequest"),
        (errors.AccessDenied("no"), 403, "AccessDenied"),
        (errors.NotFound("gone"), 404, "NotFound"),
        (errors.AlreadyExists("taken"), 409, "AlreadyExists"),  # before its base class
        (errors.ResourceLimitExceeded("quota"), 429, "ResourceLimitExceeded"),
        (errors.ModelError("handler failed", status=500), 424, "ModelError"),
        (errors.BackendUnavailable("no creds"), 503, "BackendUnavailable"),
        (errors.WaitTimeout("later"), 500, "InternalError"),
        (ValueError("oops"), 500, "InternalError"),
        (HTTPError(404), 404, "NotFound"),
        (HTTPError(405), 405, "MethodNotAllowed"),
        (HTTPError(403), 403, "Forbidden"),
    ],
)
def test_error_mapping(exc: BaseException, status: int, code: str) -> None:
    got_status, body = describe(exc)
    assert (got_status, body["code"]) == (status, code)
    assert set(body) == {"code", "message"}
    assert body["message"]


def test_cursor_round_trip() -> None:
    cursor = {"algo-1-1795000000.log": 1234, "algo-2-1795000000.log": 0}
    text = cursors.encode(cursor)
    assert "=" not in text and "/" not in text and "+" not in text
    assert cursors.decode(text) == cursor
    assert cursors.decode(None) is None
    assert cursors.decode("") is None
    for bad in ("***", "bm90IGpzb24", "WzEsMl0", "bnVsbA"):
        with pytest.raises(errors.InvalidRequest):
            cursors.decode(bad)


def test_changes_timeout_is_capped_at_30() -> None:
    assert params.changes_timeout(lambda _: None) == 30
    assert params.changes_timeout(lambda _: "3600") == 30
    assert params.changes_timeout(lambda _: "0") == 0
    assert params.changes_timeout(lambda _: "2.5") == 2.5


def test_invoke_request_defaults() -> None:
    request = params.InvokeRequest.parse(b'{"body": "1,2,3", "content_type": "text/csv"}')
    assert request == params.InvokeRequest("1,2,3", "text/csv", None, None)
    assert params.InvokeRequest.parse(b'{"body": ""}').content_type == "application/json"


def test_version_of_a_missing_ledger_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    assert LedgerVersion(path).read() == EMPTY
    assert not path.exists()


def test_version_moves_on_insert_update_and_delete(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    version = LedgerVersion(ledger.path)
    seen = [version.read()]
    ledger.insert_job(JobRecord(name="a", backend="local", status="InProgress", created_at=1.0))
    seen.append(version.read())
    ledger.update_job("a", status="Completed")
    seen.append(version.read())
    ledger.insert_endpoint(
        EndpointRecord(name="e", backend="local", status="Creating", created_at=1.0)
    )
    seen.append(version.read())
    ledger.delete_job("a")
    seen.append(version.read())
    assert len(set(seen)) == len(seen)
    assert version.read() == seen[-1]  # stable while nothing changes
    version.close()
    ledger.close()


def test_an_unchanged_ledger_answers_from_data_version_alone(tmp_path: Path) -> None:
    """An idle panel's check reads no row: one PRAGMA, however long the history."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.insert_job(JobRecord(name="a", backend="local", status="Completed", created_at=1.0))
    version = LedgerVersion(ledger.path)
    first = version.read()
    statements: list[str] = []
    assert version._conn is not None
    version._conn.set_trace_callback(statements.append)
    assert [version.read() for _ in range(5)] == [first] * 5
    assert statements == ["PRAGMA data_version"] * 5
    version.close()
    ledger.close()


def test_a_ledger_deleted_while_open_is_reopened(tmp_path: Path) -> None:
    """Deleted and recreated: the version follows the new file, not the unlinked one."""
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(path)
    ledger.insert_job(JobRecord(name="a", backend="local", status="Completed", created_at=1.0))
    version = LedgerVersion(path)
    before = version.read()
    ledger.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    assert version.read() == EMPTY
    fresh = Ledger(path)
    fresh.insert_job(JobRecord(name="b", backend="local", status="Completed", created_at=1.0))
    after = version.read()
    assert after not in (EMPTY, before)
    version.close()
    fresh.close()


def test_job_json_of_a_failed_job_does_not_bill() -> None:
    record = JobRecord(
        name="j",
        backend="local",
        status="Failed",
        created_at=100.0,
        started_at=110.0,
        ended_at=170.0,
        instance_type="ml.m5.large",
        failure_reason="AlgorithmError: boom",
    )
    data = serialize.job_json(record, now=time.time())
    assert data["billing"] is False
    assert data["duration"] == 60.0
    assert data["failure_reason"] == "AlgorithmError: boom"
    assert data["cost"] == pytest.approx(data["cost_per_hour"] * 60 / 3600, rel=1e-5)  # type: ignore[operator]


def test_job_json_of_an_unpriced_instance_has_no_cost() -> None:
    record = JobRecord(
        name="j", backend="local", status="Completed", created_at=1.0, instance_type="local"
    )
    data = serialize.job_json(record, now=2.0)
    assert data["cost"] is None and data["cost_per_hour"] is None
    assert data["duration"] is None  # never started


def test_endpoint_json_of_a_serverless_variant() -> None:
    record = EndpointRecord(
        name="s",
        backend="sagemaker",
        status="InService",
        created_at=1.0,
        variants=[{"VariantName": "AllTraffic", "CurrentWeight": 1.0, "InstanceType": None}],
        spec={"variants": [{"name": "AllTraffic", "serverless_memory_mb": 2048}]},
    )
    data = serialize.endpoint_json(record, now=3601.0)
    assert data["variants"][0]["serverless_memory_mb"] == 2048
    assert data["variants"][0]["instance_type"] is None
    assert data["age"] == 3600.0
    assert data["snippet"] == "%sm_invoke s '[[0.0, 0.0, 0.0, 0.0]]'"


def test_an_unfiltered_job_query_does_not_list_the_backends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Listing backends reads every package's entry points: not on the panel's polls."""
    from sm_magics.backends import registry

    def slow() -> list[str]:
        raise AssertionError("entry points read for a query without ?backend=")

    monkeypatch.setattr(registry, "available_backends", slow)
    query = params.JobQuery.parse(lambda name: {"limit": "10"}.get(name))
    assert query.backend is None


def test_an_idle_panels_job_list_reads_no_row_twice(sm_home: Path) -> None:
    """Asked again at the same ledger version, GET /jobs answers from what it read."""
    from sm_magics.server import jobs
    from sm_magics.server.context import ServerContext

    ctx = ServerContext(max_workers=1)
    ledger = ctx.session.ledger
    ledger.insert_job(JobRecord(name="a", backend="local", status="Completed", created_at=1.0))
    query = params.JobQuery.parse(lambda name: {"limit": "50"}.get(name))
    first = jobs.list_jobs(ctx, query)
    statements: list[str] = []
    assert ledger._conn is not None
    ledger._conn.set_trace_callback(statements.append)
    assert jobs.list_jobs(ctx, query)["jobs"] == first["jobs"]
    # Only the running rows (none) are read, to refresh them from their backends.
    assert all("NOT IN ('Completed'" in s for s in statements if "FROM jobs" in s)
    ledger._conn.set_trace_callback(None)
    ledger.insert_job(JobRecord(name="b", backend="local", status="Failed", created_at=2.0))
    assert [j["name"] for j in jobs.list_jobs(ctx, query)["jobs"]] == ["b", "a"]
    ctx.close()
