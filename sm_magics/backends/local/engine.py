"""The local backend: SageMaker training jobs as detached processes on this machine.

``create_training_job`` validates, reserves the name in the ledger, lays out the job
folder and starts the supervisor, then returns: it never waits for training. If any step
fails, every earlier step is undone (no row, no folder, no process), so bad input leaves
nothing behind. Status is read from the job folder, which the supervisor owns; a
supervisor that died without finishing is detected by its ``(pid, start time)`` and the
job is marked ``Failed`` with a reason, its leftover processes killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sm_magics import config, packaging, storage
from sm_magics.backends import base
from sm_magics.backends.local import logstore, processes
from sm_magics.backends.local.creation import creating, vanished
from sm_magics.backends.local.endpoints import LocalEndpoints
from sm_magics.backends.local.environment import encode_hyperparameters
from sm_magics.backends.local.jobdir import JobDir, disk_full, write_json_atomic
from sm_magics.backends.local.packages import LocalPackages
from sm_magics.backends.local.processing_jobs import LocalProcessing
from sm_magics.backends.local.transforms import LocalTransforms
from sm_magics.backends.local.tuning import LocalTuning
from sm_magics.backends.local.uris import resolve_input
from sm_magics.errors import InvalidRequest, NotFound
from sm_magics.ledger import JobRecord, Ledger

if TYPE_CHECKING:
    from sm_magics.backends.packages import PackageSpec
    from sm_magics.model_registry import PackageRecord
    from sm_magics.tuning.spec import TuningSpec

#: How long a job may sit without a supervisor pid before it counts as never started.
_SPAWN_GRACE_SECONDS = 30.0
_LOCAL_ACCOUNT = "000000000000"


@contextlib.contextmanager
def _unless_disk_full() -> Iterator[None]:
    """Skip a write the disk has no room for, with a warning; raise anything else."""
    try:
        yield
    except Exception as exc:
        if not disk_full(exc):
            raise
        warnings.warn(f"not recorded, the disk is full: {exc}", RuntimeWarning, stacklevel=3)


def _utc(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc) if timestamp else None


class LocalBackend(LocalEndpoints, LocalTransforms, LocalProcessing, base.Backend):
    """Jobs and endpoints as processes on this machine, honouring the container contract."""

    name = "local"

    def __init__(
        self,
        *,
        region: str | None = None,
        ledger: Ledger | None = None,
        options: base.BackendOptions | None = None,
    ) -> None:
        super().__init__(region=region or config.default_region(), ledger=ledger, options=options)
        self._tuning = LocalTuning(self.ledger, self.region, self)
        self._packages = LocalPackages(self.ledger, self.region, self)

    # -- create -----------------------------------------------------------------------------

    def notes_for(self, spec: base.TrainingSpec) -> list[str]:
        """Return what the local backend records but does not act on, for the user."""
        unused = []
        if spec.image:
            unused.append(f"--image {spec.image}")
        if spec.spot:
            unused.append("--spot")
        if spec.max_wait:
            unused.append("--max-wait")
        if spec.checkpoint_uri:
            unused.append("--checkpoint-uri")
        if spec.keep_alive:
            unused.append("--keep-alive")
        notes = []
        if spec.framework:
            notes.append(
                f"local backend: --framework {spec.framework} picks the serving defaults of "
                "this job's endpoints; the script runs with this kernel's Python."
            )
        if unused:
            notes.append(
                f"local backend: {', '.join(unused)} recorded, not used here (they apply on "
                "SageMaker); the script runs with this kernel's Python."
            )
        return notes

    def create_training_job(self, spec: base.TrainingSpec) -> None:
        """See :meth:`Backend.create_training_job`."""
        resolved = {ch: str(resolve_input(ch, uri)) for ch, uri in sorted(spec.inputs.items())}
        if spec.source_dir is not None and not spec.source_dir.is_dir():
            raise InvalidRequest(f"--source-dir {spec.source_dir} is not a folder.")
        if spec.requirements is not None and not spec.requirements.is_file():
            raise InvalidRequest(f"--requirements {spec.requirements} does not exist.")
        now = time.time()
        record = JobRecord(
            name=spec.name,
            backend=self.name,
            region=self.region,
            status=base.IN_PROGRESS,
            secondary_status=base.STARTING,
            instance_type=spec.instance_type,
            instance_count=spec.instance_count,
            spot=spec.spot,
            created_at=now,
            notebook=spec.notebook,
            tags=spec.tags,
            spec=spec.to_json(),
        )
        job = JobDir.for_job(spec.name)
        with creating(self.ledger, record, job.root) as made:
            source_hash = packaging.stage_source(
                job.code,
                entry_point=spec.entry_point,
                script=spec.script,
                source_dir=spec.source_dir,
                requirements=spec.requirements,
            )
            for folder in (job.logs, job.checkpoints, job.input_data):
                folder.mkdir(parents=True, exist_ok=True)
            data = spec.to_json()
            data.update(
                resolved_inputs=resolved,
                python=sys.executable,
                region=self.region,
                requirements=str(spec.requirements.resolve()) if spec.requirements else None,
            )
            write_json_atomic(job.spec_file, data)
            state: dict[str, Any] = {
                "status": base.IN_PROGRESS,
                "secondary_status": base.STARTING,
                "created": now,
                "source_hash": source_hash,
                "notes": self.notes_for(spec),
                "transitions": [
                    {
                        "Status": base.STARTING,
                        "StartTime": now,
                        "StatusMessage": "Preparing the instances for training",
                    }
                ],
            }
            job.write_state(state)
            made.process = processes.spawn_detached(
                [sys.executable, "-m", "sm_magics.backends.local.supervisor", str(job.root)],
                job.supervisor_log,
            )
            # Record the identity now, not from the supervisor: it may die before writing.
            state["supervisor_pid"] = made.process.pid
            state["supervisor_start"] = processes.start_time(made.process.pid)
            self._merge_state(job, state)
            storage.secure_tree(job.root)  # the staged code keeps its source's mode
            self.ledger.update_job(spec.name, source_hash=source_hash)
        processes.reap_children()

    @staticmethod
    def _merge_state(job: JobDir, ours: dict[str, Any]) -> None:
        """Add the supervisor's identity without undoing what it may have written."""
        current = job.read_state()
        if current.get("supervisor_pid") in (None, ours["supervisor_pid"]):
            current["supervisor_pid"] = ours["supervisor_pid"]
            current["supervisor_start"] = ours["supervisor_start"]
            job.write_state(current)

    # -- read -------------------------------------------------------------------------------

    def _job(self, name: str) -> JobDir:
        job = JobDir.for_job(name)
        if not job.exists():
            vanished(self.ledger, job, self.region)
        if not job.exists() or job.read_state().get("kind", "training") != "training":
            raise NotFound(f"No local training job named {name!r}.")
        return job

    def _checked_state(self, job: JobDir) -> dict[str, Any]:
        """Return the state, marking the job Failed if its supervisor is gone."""
        processes.reap_children()
        state = job.read_state()
        if state["status"] in base.TERMINAL_STATUSES:
            return state
        pid = state.get("supervisor_pid")
        if pid is None:
            if time.time() - state["created"] < _SPAWN_GRACE_SECONDS:
                return state
            reason = "the local job supervisor never started"
        elif processes.is_alive(pid, state.get("supervisor_start")):
            return state
        else:
            # Re-read: it may have finished cleanly between our two reads.
            state = job.read_state()
            if state["status"] in base.TERMINAL_STATUSES:
                return state
            reason = (
                f"the local job supervisor (pid {pid}) exited unexpectedly; see "
                f"{job.supervisor_log}"
            )
        processes.terminate_groups(state.get("host_pgids") or [], grace=0)
        processes.sweep_marked(state.get("job_mark"), grace=0)  # daemons it started too
        now = time.time()
        if job.stop_marker.exists():
            # Stopped before it could install its SIGTERM handler: the stop killed it.
            outcome, failure_reason = base.STOPPED, None
            reason = "Training job stopped"
        else:
            outcome, failure_reason = base.FAILED, f"InternalServerError: {reason}"
        state.update(
            status=outcome, secondary_status=outcome, ended=now, failure_reason=failure_reason
        )
        state.setdefault("transitions", []).append(
            {"Status": outcome, "StartTime": now, "EndTime": now, "StatusMessage": reason}
        )
        with _unless_disk_full():  # the outcome is known: describe it even if not stored
            job.write_state(state)
        with _unless_disk_full():
            self.ledger.update_job(
                job.name,
                status=outcome,
                secondary_status=outcome,
                ended_at=now,
                failure_reason=failure_reason,
            )
        return state

    def describe_training_job(self, name: str) -> dict[str, Any]:
        """See :meth:`Backend.describe_training_job`."""
        job = self._job(name)
        state = self._checked_state(job)
        spec = job.read_spec()
        status = state["status"]
        secondary = state["secondary_status"]
        if status == base.IN_PROGRESS and job.stop_marker.exists():
            status, secondary = base.STOPPING, base.STOPPING
        self._sync_ledger(name, state)
        start, end = state.get("training_start"), state.get("training_end")
        seconds = int((end or time.time()) - start) if start else 0
        description: dict[str, Any] = {
            "TrainingJobName": name,
            "TrainingJobArn": (
                f"arn:aws:sagemaker:{self.region}:{_LOCAL_ACCOUNT}:training-job/{name}"
            ),
            "TrainingJobStatus": status,
            "SecondaryStatus": secondary,
            "SecondaryStatusTransitions": [
                {k: (_utc(v) if k.endswith("Time") else v) for k, v in t.items()}
                for t in state.get("transitions", [])
            ],
            "HyperParameters": encode_hyperparameters(spec.get("hyperparameters") or {}),
            "AlgorithmSpecification": {
                "TrainingImage": spec.get("image") or "local",
                "TrainingInputMode": "File",
                "MetricDefinitions": [
                    {"Name": n, "Regex": r}
                    for n, r in (spec.get("metric_definitions") or {}).items()
                ],
            },
            "InputDataConfig": [
                {"ChannelName": ch, "DataSource": {"FileDataSource": {"FileUri": Path(p).as_uri()}}}
                for ch, p in sorted(spec["resolved_inputs"].items())
            ],
            "OutputDataConfig": {"S3OutputPath": job.artifacts.parent.parent.as_uri()},
            "ResourceConfig": {
                "InstanceType": spec["instance_type"],
                "InstanceCount": spec["instance_count"],
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": spec.get("max_run") or 86400},
            "EnableManagedSpotTraining": bool(spec.get("spot")),
            "CreationTime": _utc(state["created"]),
            "LastModifiedTime": _utc(job.state_file.stat().st_mtime),
            "TrainingTimeInSeconds": seconds,
            "BillableTimeInSeconds": seconds,
            "FinalMetricDataList": [
                {**m, "Timestamp": _utc(m["Timestamp"])} for m in state.get("final_metrics", [])
            ],
            "Environment": spec.get("environment") or {},
            "Tags": spec.get("tags") or {},
            "LocalJobDir": str(job.root),
            "LocalNotes": state.get("notes", []),
            "SourceHash": state.get("source_hash"),
        }
        optional = {
            "TrainingStartTime": _utc(start),
            "TrainingEndTime": _utc(end),
            "FailureReason": state.get("failure_reason"),
            "ModelArtifacts": (
                {"S3ModelArtifacts": state["model_data"]} if state.get("model_data") else None
            ),
            "OutputDataArtifacts": state.get("output_data"),
        }
        description.update({k: v for k, v in optional.items() if v is not None})
        return description

    def _sync_ledger(self, name: str, state: dict[str, Any]) -> None:
        """Bring the ledger row up to the job folder's truth if a write was missed."""
        record = self.ledger.get_job(name)
        if record is None:
            return
        if (record.status, record.secondary_status) == (state["status"], state["secondary_status"]):
            return
        with _unless_disk_full():  # the job folder is the truth; the index catches up later
            self.ledger.update_job(
                name,
                status=state["status"],
                secondary_status=state["secondary_status"],
                ended_at=state.get("ended"),
                failure_reason=state.get("failure_reason"),
                model_data=state.get("model_data"),
                started_at=state.get("training_start"),
                metrics={m["MetricName"]: m["Value"] for m in state.get("final_metrics", [])},
            )

    def stop_training_job(self, name: str) -> None:
        """See :meth:`Backend.stop_training_job`.

        The supervisor gets SIGTERM and stops the hosts: SIGTERM to their process groups,
        SIGKILL after the grace period.
        """
        self._signal_stop(self._job(name))

    def _signal_stop(self, job: JobDir) -> None:
        """Mark a job folder's job as stopping and SIGTERM its supervisor (any kind)."""
        state = self._checked_state(job)
        if state["status"] in base.TERMINAL_STATUSES:
            return
        job.stop_marker.touch()
        pid = state.get("supervisor_pid")
        if pid and processes.is_alive(pid, state.get("supervisor_start")):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def status_token(self, name: str) -> object | None:
        """See :meth:`Backend.status_token`: the state file's identity (replaced on change).

        One ``stat`` of ``state.json``, which the supervisor replaces atomically on every
        transition; covers every job kind kept in a job folder (training, transform,
        processing).
        """
        try:
            stat = JobDir.for_job(name).state_file.stat()
        except OSError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def read_training_logs(self, name: str, cursor: dict[str, Any] | None = None) -> base.LogBatch:
        """See :meth:`Backend.read_training_logs`."""
        return logstore.read_new(self._job(name).logs, cursor)

    def log_stream_names(self, name: str) -> list[str]:
        """Return the CloudWatch-style stream names of a job (``<job>/algo-1-<epoch>``)."""
        return [f"{name}/{p.stem}" for p in sorted(self._job(name).logs.glob("*.log"))]

    # -- tuning (kept in its own object: see local/tuning.py) ------------------------------

    def create_tuning_job(self, spec: TuningSpec) -> None:
        """See :meth:`Backend.create_tuning_job`: a detached tuner runs local trials."""
        self._tuning.create_tuning_job(spec)

    def describe_tuning_job(self, name: str) -> dict[str, Any]:
        """See :meth:`Backend.describe_tuning_job`."""
        return self._tuning.describe_tuning_job(name)

    def stop_tuning_job(self, name: str) -> None:
        """See :meth:`Backend.stop_tuning_job`."""
        self._tuning.stop_tuning_job(name)

    def list_tuning_trials(self, name: str) -> list[dict[str, Any]]:
        """See :meth:`Backend.list_tuning_trials`."""
        return self._tuning.list_tuning_trials(name)

    # -- model registry (kept in its own object: see local/packages.py) ---------------------

    def register_model(self, spec: PackageSpec, *, by: str) -> PackageRecord:
        """See :meth:`Backend.register_model`: the artifact kept by content hash."""
        return self._packages.register_model(spec, by=by)

    def set_model_approval(
        self, arn: str, status: str, *, by: str, note: str | None = None
    ) -> PackageRecord:
        """See :meth:`Backend.set_model_approval`."""
        return self._packages.set_model_approval(arn, status, by=by, note=note)

    def list_model_packages(self, group: str | None = None) -> list[PackageRecord]:
        """See :meth:`Backend.list_model_packages`."""
        return self._packages.list_model_packages(group)
