"""Local tuning with real processes: a detached tuner, trials as local training jobs."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from sm_magics.backends.local.engine import LocalBackend
from sm_magics.backends.local.tuning import TuningDir
from sm_magics.backends.specs import TrainingSpec
from sm_magics.errors import InvalidRequest, NotFound
from sm_magics.ledger import Ledger
from sm_magics.tuning import ranges
from sm_magics.tuning.spec import TuningSpec

SCRIPT = """
import argparse, time
parser = argparse.ArgumentParser()
parser.add_argument("--xx", type=float)
parser.add_argument("--kk", type=int)
parser.add_argument("--cc")
args, _ = parser.parse_known_args()
for epoch in range(4):
    score = 1 - (args.xx - 0.3) ** 2 - 0.01 * abs(args.kk - 4) + (0.05 if args.cc == "b" else 0)
    print(f"epoch {epoch} score={score + epoch * 0.01:.5f}", flush=True)
    time.sleep(%s)
"""


def _spec(name: str = "tune1", sleep: float = 0.02, **kw: Any) -> TuningSpec:
    training = TrainingSpec(
        name=name,
        entry_point="train.py",
        script=SCRIPT % sleep,
        metric_definitions={"score": r"score=([-0-9.]+)"},
    )
    options: dict[str, Any] = {"max_jobs": 6, "max_parallel": 2, "random_seed": 1}
    options.update(kw)
    return TuningSpec(
        name, training, "score", ranges.parse_ranges(["xx=0:1", "kk=1..8", "cc=a,b"]), **options
    )


def _wait(tuning: LocalBackend, name: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        description = tuning.describe_tuning_job(name)
        if description["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"):
            return description
        time.sleep(0.2)
    raise AssertionError(f"{name} did not end")


def test_a_local_tuning_job_runs_its_trials_and_finds_the_best() -> None:
    ledger = Ledger()
    tuning = LocalBackend(ledger=ledger)
    tuning.create_tuning_job(_spec())
    row = ledger.get_job("tune1")
    assert row is not None and (row.kind, row.status) == ("tuning", "InProgress")
    description = _wait(tuning, "tune1")
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert description["TrainingJobStatusCounters"]["Completed"] == 6
    trials = tuning.list_tuning_trials("tune1")
    assert len(trials) == 6
    values = {
        t["TrainingJobName"]: t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        for t in trials
    }
    best = description["BestTrainingJob"]
    assert best["TrainingJobName"] == max(values, key=lambda n: values[n])
    best_value = max(values.values())
    # each trial is an ordinary local training job with its ledger row and hyperparameters
    for trial in trials:
        record = ledger.get_job(trial["TrainingJobName"])
        assert record is not None
        assert record.status == "Completed"
        assert record.tags["sm-magics:tuning-job"] == "tune1"
        assert set(record.spec["hyperparameters"]) == {"xx", "kk", "cc"}
    final = ledger.get_job("tune1")
    assert final is not None and final.status == "Completed"
    assert final.secondary_status == f"6/6 trials, best {best_value:.6g}"
    # %sm_logs of a tuning job: every trial's lines, merged, each host named by its trial
    batch = tuning.read_tuning_logs("tune1")
    hosts = {event.host for event in batch.events}
    assert hosts == {f"{n:03d}/algo-1" for n in range(1, 7)}
    assert sum("score=" in e.message for e in batch.events) == 6 * 4
    assert tuning.read_tuning_logs("tune1", batch.cursor).events == []


def test_every_trial_failing_fails_the_job_with_the_first_error() -> None:
    ledger = Ledger()
    tuning = LocalBackend(ledger=ledger)
    spec = _spec("broken", max_jobs=2, max_parallel=2)
    spec.training.script = "raise ValueError('the data has NaNs in column 3')\n"
    tuning.create_tuning_job(spec)
    description = _wait(tuning, "broken")
    assert description["HyperParameterTuningJobStatus"] == "Failed"
    assert description["FailureReason"].startswith(
        "All 2 training jobs failed; the first, broken-001-"
    )
    assert "ValueError: the data has NaNs in column 3" in description["FailureReason"]


def test_stop_ends_the_trials_and_the_job_stopped() -> None:
    ledger = Ledger()
    tuning = LocalBackend(ledger=ledger)
    tuning.create_tuning_job(_spec("slow", sleep=30, max_jobs=4, max_parallel=2))
    deadline = time.time() + 60
    while len(tuning.list_tuning_trials("slow")) < 2 and time.time() < deadline:
        time.sleep(0.1)
    tuning.stop_tuning_job("slow")
    description = _wait(tuning, "slow")
    assert description["HyperParameterTuningJobStatus"] == "Stopped"
    for trial in tuning.list_tuning_trials("slow"):
        assert trial["TrainingJobStatus"] == "Stopped"
    tuning.stop_tuning_job("slow")  # idempotent


def test_a_dead_tuner_fails_the_job_and_stops_its_trials() -> None:
    ledger = Ledger()
    tuning = LocalBackend(ledger=ledger)
    tuning.create_tuning_job(_spec("orphan", sleep=30, max_jobs=2, max_parallel=2))
    folder = TuningDir.for_tuning("orphan")
    deadline = time.time() + 60
    while time.time() < deadline:
        state = folder.read_state()
        if state.get("tuner_pid") and len(state.get("trials", [])) == 2:
            break
        time.sleep(0.1)
    os.kill(state["tuner_pid"], signal.SIGKILL)
    description = _wait(tuning, "orphan")
    assert description["HyperParameterTuningJobStatus"] == "Failed"
    assert "exited unexpectedly" in description["FailureReason"]
    deadline = time.time() + 30
    while time.time() < deadline:
        statuses = {t["TrainingJobStatus"] for t in tuning.list_tuning_trials("orphan")}
        if statuses <= {"Stopped", "Completed", "Failed"}:
            break
        time.sleep(0.2)
    assert statuses <= {"Stopped", "Completed", "Failed"}


def test_bad_requests_leave_nothing() -> None:
    ledger = Ledger()
    tuning = LocalBackend(ledger=ledger)
    with pytest.raises(InvalidRequest, match="no local tuning job"):
        tuning.create_tuning_job(_spec("child", warm_start=["missing"]))
    assert ledger.get_job("child") is None
    assert not TuningDir.for_tuning("child").root.exists()
    with pytest.raises(NotFound):
        tuning.describe_tuning_job("never")


def test_cleanup_stops_the_tuning_job_and_its_trials_and_costs_count_trials_once() -> None:
    from sm_magics.api import Session
    from sm_magics.costs import job_rate

    session = Session("local", notebook="nb.ipynb")
    backend = session.backend()
    spec = _spec("costly", sleep=30, max_jobs=4, max_parallel=2)
    spec.training.notebook = "nb.ipynb"
    backend.create_tuning_job(spec)
    deadline = time.time() + 60
    while len(backend.list_tuning_trials("costly")) < 2 and time.time() < deadline:
        time.sleep(0.1)
    tuning_row = session.ledger.get_job("costly")
    assert tuning_row is not None
    assert job_rate(tuning_row).per_hour == 0.0  # its trials bill, not it
    trial_rows = [r for r in session.ledger.list_jobs(limit=10) if r.kind == "training"]
    assert len(trial_rows) == 2 and all(job_rate(r).per_hour for r in trial_rows)
    report = session.cleanup()
    names = {item.name for item in report.rows}
    assert "costly" in names
    description = _wait(backend, "costly")
    assert description["HyperParameterTuningJobStatus"] == "Stopped"
    assert {t["TrainingJobStatus"] for t in backend.list_tuning_trials("costly")} == {"Stopped"}


def test_a_folder_not_ours_is_left_alone() -> None:
    ledger = Ledger()
    tuning = LocalBackend(ledger=ledger)
    folder = TuningDir.for_tuning("squatted")
    folder.root.mkdir(parents=True)
    (folder.root / "keep.txt").write_text("mine")
    with pytest.raises(InvalidRequest, match="exists but no ledger row"):
        tuning.create_tuning_job(_spec("squatted"))
    assert (folder.root / "keep.txt").read_text() == "mine"
    assert ledger.get_job("squatted") is None


def test_jobs_table_lists_trials_under_their_tuning_job() -> None:
    from sm_magics.api import Session

    session = Session("local")
    backend = session.backend()
    backend.create_tuning_job(_spec("grouped", max_jobs=2, max_parallel=2))
    _wait(backend, "grouped")
    backend.create_training_job(_spec("other").training)  # a job of its own
    table = session.jobs()
    names = [row.name for row in table.rows]
    at = names.index("grouped")
    assert all(names[at + i].startswith("grouped-00") for i in (1, 2))
    text = repr(table)
    assert "└ grouped-001-" in text and "└ grouped-002-" in text
    assert "Completed (2/2 trials, best" in text
    tuning_row = table.rows[at]
    assert tuning_row.cost == sum(r.cost for r in table.rows[at + 1 : at + 3] if r.cost)
