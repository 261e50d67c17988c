"""Local hyperparameter tuning jobs, kernel side: create, describe, stop, list trials.

A tuning job is a folder ``SM_MAGICS_HOME/tuning/<name>/`` (``spec.json``, ``state.json``
written by the tuner process, ``tuner.log``) and a detached tuner process
(:mod:`~sm_magics.backends.local.tuner`) that runs trials as local training jobs. Describe
answers SageMaker's ``DescribeHyperParameterTuningJob`` shape and the trial list
``ListTrainingJobsForHyperParameterTuningJob``'s, so the widget, the tables and the panel
read one shape from either backend.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sm_magics import config
from sm_magics.backends import base, kinds, statuses
from sm_magics.backends.local import processes, utc
from sm_magics.backends.local.creation import creating, vanished
from sm_magics.backends.local.job_states import lost_owner
from sm_magics.backends.local.jobdir import RequestFolder, write_json_atomic
from sm_magics.errors import InvalidRequest, NotFound
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import JobRecord, JobRowSpec, TuningRowSpec, job_row_spec
from sm_magics.tuning import ranges as ranges_mod
from sm_magics.tuning.spec import TuningSpec
from sm_magics.tuning.state import TrialEntry, TuningState, tuning_state

if TYPE_CHECKING:
    from mypy_boto3_sagemaker.type_defs import (
        FinalHyperParameterTuningJobObjectiveMetricTypeDef,
        ObjectiveStatusCountersTypeDef,
        TrainingJobStatusCountersTypeDef,
    )

    from sm_magics.backends.descriptions import (
        LocalTrialSummary,
        LocalTuningJobDescription,
        TrialSummary,
    )

KIND = "tuning"
_LOCAL_ACCOUNT = "000000000000"
TERMINAL = frozenset({"Completed", "Failed", "Stopped"})


def tuning_root() -> Path:
    """Return the folder that holds every local tuning job folder."""
    return config.home_dir() / "tuning"


@dataclass(frozen=True)
class TuningDir(RequestFolder):
    """The folder of one local tuning job (its spec is :meth:`TuningSpec.to_json`'s)."""

    @classmethod
    def for_tuning(cls, name: str) -> TuningDir:
        """Return the folder of tuning job ``name`` under the current home."""
        return cls(tuning_root() / name)

    def read_tuning_spec(self) -> TuningRowSpec:
        """Return the request as :meth:`TuningSpec.to_json` wrote it."""
        return cast("TuningRowSpec", self.read_spec())

    @property
    def tuner_log(self) -> Path:
        """The tuner process's own output (tracebacks, if it ever crashed)."""
        return self.root / "tuner.log"


def sync_ledger(ledger: Ledger, name: str, state: TuningState) -> None:
    """Mirror a tuning state into its ledger row (the folder is the truth)."""
    done = sum(1 for t in state.get("trials", []) if t.get("status") in statuses.TERMINAL_STATUSES)
    best = state.get("best")
    progress = f"{done}/{state.get('max_jobs', '?')} trials"
    if best:
        progress += f", best {best['objective']:.6g}"
    try:
        ledger.update_job(
            name,
            status=state["status"],
            secondary_status=progress,
            ended_at=state.get("ended"),
            failure_reason=state.get("failure_reason"),
        )
    except Exception as exc:  # noqa: BLE001 - the tuning goes on without the index
        print(f"ledger update failed: {exc}", file=sys.stderr)


class LocalTuning:
    """Tuning methods of the local backend (composed into it, sharing its ledger)."""

    def __init__(self, ledger: Ledger, region: str | None, trainer: base.Backend) -> None:
        self.ledger = ledger
        self.region = region
        self.trainer = trainer  # the backend whose training jobs the trials are

    # -- create -----------------------------------------------------------------------------

    def create_tuning_job(self, spec: TuningSpec) -> None:
        """Start a tuning job and return at once; see :meth:`Backend.create_tuning_job`."""
        _require_optuna()
        for parent in spec.warm_start:
            if not TuningDir.for_tuning(parent).exists():
                raise InvalidRequest(f"--warm-start {parent}: no local tuning job of that name.")
        training = spec.training
        if training.source_dir is not None and not training.source_dir.is_dir():
            raise InvalidRequest(f"--source-dir {training.source_dir} is not a folder.")
        record = JobRecord(
            name=spec.name,
            kind=KIND,
            backend="local",
            region=self.region,
            status="InProgress",
            secondary_status=f"0/{spec.max_jobs} trials",
            instance_type=training.instance_type,
            instance_count=training.instance_count,
            created_at=time.time(),
            notebook=training.notebook,
            tags=dict(training.tags),
            spec=_ledger_spec(spec),
        )
        folder = TuningDir.for_tuning(spec.name)
        with creating(self.ledger, record, folder.root) as made:
            write_json_atomic(folder.spec_file, spec.to_json())
            folder.write_state(
                {"status": "InProgress", "created": time.time(), "max_jobs": spec.max_jobs}
            )
            made.process = processes.spawn_detached(
                [sys.executable, "-m", "sm_magics.backends.local.tuner", str(folder.root)],
                folder.tuner_log,
            )
            state = folder.read_state()
            state.setdefault("tuner_pid", made.process.pid)
            state.setdefault("tuner_start", processes.start_ticks(made.process.pid))
            if state["tuner_pid"] == made.process.pid:
                folder.write_state(state)

    # -- read -------------------------------------------------------------------------------

    def _folder(self, name: str) -> TuningDir:
        folder = TuningDir.for_tuning(name)
        if not folder.exists():
            vanished(self.ledger, folder, self.region)
            raise NotFound(f"No local tuning job named {name!r}.")
        return folder

    def _checked_state(self, folder: TuningDir) -> TuningState:
        """Return the state; a tuner that died mid-job ends it Failed (trials stopped)."""
        processes.reap_children()
        read, reason = lost_owner(
            folder.read_state,
            owner="tuner",
            label="the local tuner",
            log=folder.tuner_log,
            terminal=TERMINAL,
        )
        state = tuning_state(read)
        if reason is None:
            return state
        for trial in state.get("trials", []):
            if trial.get("status") not in statuses.TERMINAL_STATUSES:
                with contextlib.suppress(Exception):
                    self.trainer.stop_training_job(trial["name"])
        stopped = folder.stop_marker.exists()
        state.update(
            {
                "status": "Stopped" if stopped else "Failed",
                "ended": time.time(),
                "failure_reason": None if stopped else f"InternalServerError: {reason}",
            }
        )
        folder.write_state(state)
        sync_ledger(self.ledger, folder.name, state)
        return state

    def describe_tuning_job(self, name: str) -> LocalTuningJobDescription:
        """Return the job as ``DescribeHyperParameterTuningJob`` would."""
        folder = self._folder(name)
        state = self._checked_state(folder)
        spec = folder.read_spec()
        sync_ledger(self.ledger, name, state)
        return describe_from_state(name, spec, state, self.region, folder)

    def list_tuning_trials(self, name: str) -> list[LocalTrialSummary]:
        """Return ``ListTrainingJobsForHyperParameterTuningJob``'s summaries, newest first."""
        folder = self._folder(name)
        state = self._checked_state(folder)
        spec = folder.read_spec()
        if state["status"] in TERMINAL:
            self._settle_trials(folder, state)
        summaries = [
            trial_summary(name, spec, trial, self.region) for trial in state.get("trials", [])
        ]
        return sorted(summaries, key=lambda s: s["CreationTime"], reverse=True)

    def _settle_trials(self, folder: TuningDir, state: TuningState) -> None:
        """Bring the trials of an ended job up to their own jobs' truth.

        Only needed when the tuner died: its state stopped changing while the trials it
        had asked to stop went on to end. Each trial's own job folder says how.
        """
        stale = [
            t for t in state.get("trials", []) if t["status"] not in statuses.TERMINAL_STATUSES
        ]
        if not stale:
            return
        for trial in stale:
            with contextlib.suppress(Exception):
                description = self.trainer.describe_training_job(trial["name"])
                trial["status"] = kinds.status_of(description)
                if description.get("FailureReason"):
                    trial["failure_reason"] = description["FailureReason"]
        if all(t["status"] in statuses.TERMINAL_STATUSES for t in stale):
            folder.write_state(state)

    def stop_tuning_job(self, name: str) -> None:
        """Stop the tuner and its running trials; idempotent once the job ended."""
        folder = self._folder(name)
        state = self._checked_state(folder)
        if state["status"] in TERMINAL:
            return
        folder.stop_marker.touch()
        pid = state.get("tuner_pid")
        if pid and processes.is_alive(pid, state.get("tuner_start")):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        if state["status"] == "InProgress":
            self.ledger.update_job(name, status="Stopping")


def _require_optuna() -> None:
    import importlib.util

    from sm_magics.errors import BackendUnavailable

    if importlib.util.find_spec("optuna") is None:
        raise BackendUnavailable(
            "Local tuning searches with Optuna: pip install 'sm-magics[tuning]' "
            "(or pip install optuna) into this kernel's environment."
        )


def _ledger_spec(spec: TuningSpec) -> JobRowSpec:
    data = spec.to_json()
    kept = ("entry_point", "hyperparameters", "inputs", "metric_definitions")
    training = {key: value for key, value in data["training"].items() if key in kept}
    return job_row_spec({**data, "training": training})


def _metric(
    spec: dict[str, Any], value: float
) -> FinalHyperParameterTuningJobObjectiveMetricTypeDef:
    return {"Type": spec["objective_type"], "MetricName": spec["objective"], "Value": value}


def trial_summary(
    tuning: str, spec: dict[str, Any], trial: TrialEntry, region: str | None
) -> LocalTrialSummary:
    """Return one trial as a ``HyperParameterTrainingJobSummary`` (and the local extras)."""
    summary: LocalTrialSummary = {
        "TrainingJobName": trial["name"],
        "TrainingJobArn": (
            f"arn:aws:sagemaker:{region}:{_LOCAL_ACCOUNT}:training-job/{trial['name']}"
        ),
        "TuningJobName": tuning,
        "CreationTime": utc.at(trial["created"]),
        "TrainingJobStatus": trial["status"],
        "TunedHyperParameters": {
            k: (v if isinstance(v, str) else repr(v) if isinstance(v, float) else str(v))
            for k, v in trial["params"].items()
        },
        "ObjectiveStatus": trial.get("objective_status", "Pending"),
        # Beyond SageMaker's shape: what the widget charts and the table sorts.
        "LocalObjectiveSeries": trial.get("series", []),
        "LocalEarlyStopped": bool(trial.get("early_stopped")),
    }
    started, ended = trial.get("started"), trial.get("ended")
    if started:
        summary = {**summary, "TrainingStartTime": utc.at(started)}
    if ended:
        summary = {**summary, "TrainingEndTime": utc.at(ended)}
    if trial.get("failure_reason"):
        summary = {**summary, "FailureReason": trial["failure_reason"]}
    objective = trial.get("objective")
    if objective is not None:
        metric = _metric(spec, objective)
        summary = {**summary, "FinalHyperParameterTuningJobObjectiveMetric": metric}
    return summary


def describe_from_state(
    name: str, spec: dict[str, Any], state: TuningState, region: str | None, folder: TuningDir
) -> LocalTuningJobDescription:
    """Return ``DescribeHyperParameterTuningJob``'s shape for a local tuning state."""
    trials = state.get("trials", [])
    counted = Counter(
        {"Failed": "NonRetryableError", "Stopping": "InProgress"}.get(t["status"], t["status"])
        for t in trials
    )
    objective_counted = Counter(t.get("objective_status", "Pending") for t in trials)
    counters: TrainingJobStatusCountersTypeDef = {
        "Completed": counted["Completed"],
        "InProgress": counted["InProgress"],
        "RetryableError": counted["RetryableError"],
        "NonRetryableError": counted["NonRetryableError"],
        "Stopped": counted["Stopped"],
    }
    objectives: ObjectiveStatusCountersTypeDef = {
        "Succeeded": objective_counted["Succeeded"],
        "Pending": objective_counted["Pending"],
        "Failed": objective_counted["Failed"],
    }
    training = spec["training"]
    description: LocalTuningJobDescription = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobArn": (
            f"arn:aws:sagemaker:{region}:{_LOCAL_ACCOUNT}:hyper-parameter-tuning-job/{name}"
        ),
        "HyperParameterTuningJobStatus": state["status"],
        "HyperParameterTuningJobConfig": {
            "Strategy": spec["strategy"],
            "HyperParameterTuningJobObjective": {
                "Type": spec["objective_type"],
                "MetricName": spec["objective"],
            },
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": spec["max_jobs"],
                "MaxParallelTrainingJobs": spec["max_parallel"],
                **({"MaxRuntimeInSeconds": spec["max_runtime"]} if spec.get("max_runtime") else {}),
            },
            "ParameterRanges": spec["parameter_ranges"],
            "TrainingJobEarlyStoppingType": spec["early_stopping"],
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                k: str(v) for k, v in (training.get("hyperparameters") or {}).items()
            },
            "AlgorithmSpecification": {
                "TrainingImage": training.get("image") or "local",
                "TrainingInputMode": "File",
                "MetricDefinitions": [
                    {"Name": n, "Regex": r}
                    for n, r in (training.get("metric_definitions") or {}).items()
                ],
            },
            "ResourceConfig": {
                "InstanceType": training["instance_type"],
                "InstanceCount": training["instance_count"],
                "VolumeSizeInGB": 30,
            },
        },
        "CreationTime": utc.at(state["created"]),
        "LastModifiedTime": utc.at(folder.state_file.stat().st_mtime),
        "TrainingJobStatusCounters": counters,
        "ObjectiveStatusCounters": objectives,
        "LocalTuningDir": str(folder.root),
        "LocalBestObjectiveHistory": state.get("best_history", []),
        "LocalWarmStartedTrials": state.get("warm_started", 0),
    }
    if spec.get("warm_start"):
        warm_start = {
            "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": p} for p in spec["warm_start"]
            ],
            "WarmStartType": "IdenticalDataAndAlgorithm",
        }
        description = {**description, "WarmStartConfig": warm_start}
    ended, reason = state.get("ended"), state.get("failure_reason")
    if ended:
        description = {**description, "HyperParameterTuningEndTime": utc.at(ended)}
    if reason:
        description = {**description, "FailureReason": reason}
    best = state.get("best")
    if best:
        by_name = {t["name"]: t for t in trials}
        best_trial = by_name.get(best["name"])
        if best_trial is not None:
            summary = trial_summary(name, spec, best_trial, region)
            description = {**description, "BestTrainingJob": summary}
    return description


def decoded_params(summary: TrialSummary) -> dict[str, Any]:
    """Return a trial summary's tuned values with their JSON types back."""
    return {k: ranges_mod.decode_value(v) for k, v in summary["TunedHyperParameters"].items()}
