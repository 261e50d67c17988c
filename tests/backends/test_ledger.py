"""The ledger: one SQLite file shared by the kernel, job supervisors and the server."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from helpers import ledger_opener, ledger_worker

from sm_magics import ledger_schema
from sm_magics.errors import AlreadyExists, InvalidRequest
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import JobRecord


def _record(name: str, **values) -> JobRecord:
    defaults = {"backend": "local", "status": "InProgress", "created_at": 1000.0}
    defaults.update(values)
    return JobRecord(name=name, **defaults)


@pytest.fixture
def ledger(tmp_path: Path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    yield ledger
    ledger.close()


def test_default_path_is_under_sm_magics_home(sm_home: Path) -> None:
    assert Ledger().path == sm_home / "ledger.sqlite"


def test_insert_then_get_round_trips_every_column(ledger: Ledger) -> None:
    record = _record(
        "job-1",
        region="eu-west-1",
        secondary_status="Starting",
        instance_type="ml.m5.xlarge",
        instance_count=2,
        spot=True,
        started_at=1001.5,
        notebook="nb.ipynb",
        source_hash="abc",
        tags={"team": "ml", "sm-magics:owner": "me"},
        spec={"hyperparameters": {"epochs": 3}, "inputs": {}},
    )
    ledger.insert_job(record)
    got = ledger.get_job("job-1")
    assert got is not None
    assert got.spot is True
    assert got.tags == {"team": "ml", "sm-magics:owner": "me"}
    assert got.spec == {"hyperparameters": {"epochs": 3}, "inputs": {}}
    assert got.updated_at > 0
    assert got == record  # insert stamped updated_at on the record it was given


def test_get_of_an_unknown_job_is_none(ledger: Ledger) -> None:
    assert ledger.get_job("nope") is None


def test_duplicate_name_raises_already_exists_and_keeps_the_first_row(ledger: Ledger) -> None:
    ledger.insert_job(_record("job-1", backend="local"))
    with pytest.raises(AlreadyExists, match="job-1"):
        ledger.insert_job(_record("job-1", backend="sagemaker"))
    assert issubclass(AlreadyExists, InvalidRequest)
    assert ledger.get_job("job-1").backend == "local"
    assert len(ledger.list_jobs()) == 1


def test_update_sets_only_the_given_columns(ledger: Ledger) -> None:
    ledger.insert_job(_record("job-1", instance_type="ml.m5.large", tags={"a": "1"}))
    before = ledger.get_job("job-1")
    ledger.update_job("job-1", status="Completed", ended_at=1005.0, tags={"b": "2"}, spot=True)
    after = ledger.get_job("job-1")
    assert (after.status, after.ended_at, after.tags, after.spot) == (
        "Completed",
        1005.0,
        {"b": "2"},
        True,
    )
    assert after.instance_type == "ml.m5.large"
    assert after.created_at == before.created_at
    assert after.updated_at >= before.updated_at
    assert after.is_terminal and not before.is_terminal


def test_update_with_an_unknown_column_raises_and_changes_nothing(ledger: Ledger) -> None:
    ledger.insert_job(_record("job-1"))
    with pytest.raises(TypeError, match="colour"):
        ledger.update_job("job-1", status="Failed", colour="red")
    assert ledger.get_job("job-1").status == "InProgress"


def test_delete_removes_the_row(ledger: Ledger) -> None:
    ledger.insert_job(_record("job-1"))
    ledger.delete_job("job-1")
    assert ledger.get_job("job-1") is None
    ledger.insert_job(_record("job-1"))  # the name is free again


def test_list_filters_and_orders_newest_first(ledger: Ledger) -> None:
    ledger.insert_job(_record("old-done", status="Completed", created_at=1.0, notebook="a.ipynb"))
    ledger.insert_job(
        _record("mid-running", status="InProgress", created_at=2.0, notebook="b.ipynb")
    )
    ledger.insert_job(
        _record(
            "new-stopping",
            status="Stopping",
            created_at=3.0,
            backend="sagemaker",
            notebook="a.ipynb",
        )
    )
    ledger.insert_job(_record("newest-failed", status="Failed", created_at=4.0))

    def names(**filters):
        return [r.name for r in ledger.list_jobs(**filters)]

    assert names() == ["newest-failed", "new-stopping", "mid-running", "old-done"]
    assert names(status="Completed") == ["old-done"]
    assert names(backend="sagemaker") == ["new-stopping"]
    assert names(backend="local") == ["newest-failed", "mid-running", "old-done"]
    assert names(active_only=True) == ["new-stopping", "mid-running"]
    assert names(notebook="a.ipynb") == ["new-stopping", "old-done"]
    assert names(notebook="a.ipynb", active_only=True) == ["new-stopping"]
    assert names(limit=2) == ["newest-failed", "new-stopping"]
    assert names(status="Nothing") == []


def test_wal_mode_is_on_for_other_connections_too(ledger: Ledger) -> None:
    ledger.insert_job(_record("job-1"))
    other = sqlite3.connect(ledger.path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()


def test_fresh_file_is_migrated_to_the_latest_user_version(ledger: Ledger) -> None:
    ledger.list_jobs()  # first use creates and migrates the file
    raw = sqlite3.connect(ledger.path)
    try:
        version = raw.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        raw.close()
    assert version == len(ledger_schema.MIGRATIONS) >= 1
    assert "jobs" in tables


def test_reopening_keeps_rows_and_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    first = Ledger(path)
    first.insert_job(_record("job-1"))
    first.close()
    second = Ledger(path)
    try:
        assert second.get_job("job-1") is not None
        raw = sqlite3.connect(path)
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(ledger_schema.MIGRATIONS)
        raw.close()
    finally:
        second.close()


def test_file_at_user_version_zero_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE unrelated (x INTEGER)")  # something already in the file
    raw.execute("INSERT INTO unrelated VALUES (7)")
    raw.commit()
    raw.close()
    ledger = Ledger(path)
    try:
        ledger.insert_job(_record("job-1"))
    finally:
        ledger.close()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(ledger_schema.MIGRATIONS)
        assert raw.execute("SELECT x FROM unrelated").fetchall() == [(7,)]
    finally:
        raw.close()


def test_concurrent_writer_processes_lose_nothing(tmp_path: Path) -> None:
    # Four processes start at once on a file that does not exist yet: they race to create
    # and migrate it, then each inserts and updates 50 rows and updates its own row 50 times.
    path = tmp_path / "ledger.sqlite"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    workers = [
        context.Process(target=ledger_worker, args=(str(path), worker, 50, barrier))
        for worker in range(4)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]

    ledger = Ledger(path)
    try:
        rows = {r.name: r for r in ledger.list_jobs()}
        for worker in range(4):
            own = rows.pop(f"worker-{worker}")
            assert (own.model_data, own.secondary_status) == ("v49", "step-49")
            for index in range(50):
                row = rows.pop(f"w{worker}-{index}")
                assert row.status == "Completed"
                assert row.ended_at is not None
                assert row.tags == {"worker": str(worker), "index": str(index)}
        assert rows == {}
    finally:
        ledger.close()


def test_processes_opening_a_new_file_together_all_succeed(tmp_path: Path) -> None:
    # The kernel, supervisors and the server may all be first to open the ledger; switching
    # a new file to WAL then races, and SQLite's busy timeout does not cover that race.
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(6)
    rounds = 40
    workers = [
        context.Process(target=ledger_opener, args=(str(tmp_path), worker, rounds, barrier))
        for worker in range(6)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
    assert [p.exitcode for p in workers] == [0] * 6
    for index in range(rounds):
        ledger = Ledger(tmp_path / f"ledger-{index}.sqlite")
        try:
            assert sorted(r.name for r in ledger.list_jobs()) == [f"w{w}" for w in range(6)]
        finally:
            ledger.close()


def test_the_typed_update_columns_are_the_records_columns() -> None:
    """``JobChanges``/``EndpointChanges`` type update_job's keywords: they cannot drift."""
    from sm_magics.ledger_records import (
        ENDPOINT_COLUMNS,
        JOB_COLUMNS,
        EndpointChanges,
        JobChanges,
    )

    assert set(JobChanges.__annotations__) == set(JOB_COLUMNS) - {"name", "updated_at"}
    assert set(EndpointChanges.__annotations__) == set(ENDPOINT_COLUMNS) - {
        "name",
        "updated_at",
        "id",
    }


def test_an_unstorable_value_is_refused_with_its_column(ledger: Ledger) -> None:
    ledger.insert_job(_record("job-1"))
    with pytest.raises(TypeError, match="secondary_status"):
        ledger.update_job("job-1", secondary_status=object())  # type: ignore[typeddict-item]
    assert ledger.get_job("job-1").status == "InProgress"
