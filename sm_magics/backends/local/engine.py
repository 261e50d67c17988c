"""The local backend: SageMaker training jobs as detached processes on this machine.

``create_training_job`` validates, reserves the name in the ledger, lays out the job
folder and starts the supervisor, then returns: it never waits for training. If any step
fails, every earlier step is undone (no row, no folder, no process), so bad input leaves
nothing behind. Status is read from the job folder, which the supervisor owns; a
supervisor that died without finishing is detected by its ``(pid, start time)`` and the
job is marked ``Failed`` with a reason, its leftover processes killed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sm_magics import config, packaging, storage
from sm_magics.backends import base, statuses
from sm_magics.backends.local import handoff as handoff_to
from sm_magics.backends.local import logstore, processes, utc
from sm_magics.backends.local.creation import Creation, creating, vanished
from sm_magics.backends.local.endpoints import LocalEndpoints
from sm_magics.backends.local.environment import encode_hyperparameters
from sm_magics.backends.local.job_states import JobStates
from sm_magics.backends.local.jobdir import JobDir, write_json_atomic
from sm_magics.backends.local.packages import LocalPackages
from sm_magics.backends.local.processing_jobs import LocalProcessing
from sm_magics.backends.local.transforms import LocalTransforms
from sm_magics.backends.local.tuning import LocalTuning
from sm_magics.backends.local.uris import resolve_input
from sm_magics.backends.options import BackendOptions
from sm_magics.backends.results import AsyncInvokeResult, ChangeWatch, LogBatch, LogCursor
from sm_magics.backends.specs import TrainingSpec
from sm_magics.errors import InvalidRequest, NotFound
from sm_magics.input_digests import digest_inputs
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import JobRecord, job_row_spec

if TYPE_CHECKING:
    from mypy_boto3_sagemaker.type_defs import SecondaryStatusTransitionTypeDef

    from sm_magics.backends.descriptions import LocalTrainingJobDescription
    from sm_magics.backends.processing import ProcessingSpec

_LOCAL_ACCOUNT = "000000000000"


def _transition(transition: dict[str, Any]) -> SecondaryStatusTransitionTypeDef:
    """Return one of ``state.json``'s transitions (epoch seconds) as SageMaker lists it."""
    answer: SecondaryStatusTransitionTypeDef = {
        "Status": transition["Status"],
        "StartTime": utc.at(transition["StartTime"]),
        "StatusMessage": transition.get("StatusMessage", ""),
    }
    if transition.get("EndTime") is not None:
        answer["EndTime"] = utc.at(transition["EndTime"])
    return answer


class LocalBackend(base.Backend):
    """Jobs and endpoints as processes on this machine, honouring the container contract."""

    name = "local"

    def __init__(
        self,
        *,
        region: str | None = None,
        ledger: Ledger | None = None,
        options: BackendOptions | None = None,
    ) -> None:
        super().__init__(region=region or config.default_region(), ledger=ledger, options=options)
        self.jobs = JobStates(self.ledger)
        self.endpoints: LocalEndpoints = LocalEndpoints(self.ledger, self.region)
        self.transforms = LocalTransforms(self.ledger, self.region, self.jobs, self.endpoints)
        self.processing: LocalProcessing = LocalProcessing(self.ledger, self.region, self.jobs)
        self.tuning = LocalTuning(self.ledger, self.region, self)
        self.packages = LocalPackages(self.ledger, self.region, self)

    # -- create -----------------------------------------------------------------------------

    def notes_for(self, spec: TrainingSpec) -> list[str]:
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

    def create_training_job(self, spec: TrainingSpec) -> None:
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
            status=statuses.IN_PROGRESS,
            secondary_status=statuses.STARTING,
            instance_type=spec.instance_type,
            instance_count=spec.instance_count,
            spot=spec.spot,
            created_at=now,
            notebook=spec.notebook,
            tags=spec.tags,
            spec=job_row_spec({**spec.to_json(), "input_digests": digest_inputs(resolved)}),
        )
        job = JobDir.for_job(spec.name)
        with creating(self.ledger, record, job.root) as made:
            # The job's starter (kept ready, or started now) waits for its launch while the
            # job is laid out (see .handoff): the first line comes one start sooner or two.
            handoff = handoff_to.begin(job)
            made.process = handoff.process
            try:
                plan, source_hash = self._lay_out(job, spec, resolved, now, made)
            except BaseException:
                handoff.abandon()  # no launch: the roll-back ends the starter
                raise
            handoff.send(plan)
            self.ledger.update_job(spec.name, source_hash=source_hash)
        handoff_to.keep_one_ready()  # for the next job (see .handoff)
        processes.reap_children()

    def _lay_out(
        self,
        job: JobDir,
        spec: TrainingSpec,
        resolved: dict[str, str],
        now: float,
        made: Creation,
    ) -> tuple[dict[str, Any] | None, str]:
        """Stage the code, write spec and state; return the starter's launch and the hash."""
        from sm_magics.backends.local import host_launch

        assert made.process is not None
        source_hash = packaging.stage_source(
            job.code,
            entry_point=spec.entry_point,
            script=spec.script,
            source_dir=spec.source_dir,
            requirements=spec.requirements,
        )
        for folder in (job.logs, job.checkpoints, job.input_data):
            folder.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = dict(spec.to_json())
        data.update(
            resolved_inputs=resolved,
            python=sys.executable,
            region=self.region,
            requirements=str(spec.requirements.resolve()) if spec.requirements else None,
        )
        write_json_atomic(job.spec_file, data)
        state: dict[str, Any] = {
            "status": statuses.IN_PROGRESS,
            "secondary_status": statuses.STARTING,
            "created": now,
            "source_hash": source_hash,
            "notes": self.notes_for(spec),
            "transitions": [
                {
                    "Status": statuses.STARTING,
                    "StartTime": now,
                    "StatusMessage": "Preparing the instances for training",
                }
            ],
        }
        state["job_mark"] = os.urandom(12).hex()
        # The identity now, not from the supervisor: it may die before writing.
        state["supervisor_pid"] = made.process.pid
        state["supervisor_start"] = processes.start_time(made.process.pid)
        job.write_state(state)
        # The spec as the supervisor reads it from spec.json (keys sorted, as the API's).
        written = json.loads(json.dumps(data, sort_keys=True, default=str))
        plan = host_launch.fast_start(job, written, state["job_mark"])
        storage.secure_tree(job.root)  # the staged code keeps its source's mode
        return plan, source_hash

    # -- read -------------------------------------------------------------------------------

    def _job(self, name: str) -> JobDir:
        job = JobDir.for_job(name)
        if not job.exists():
            vanished(self.ledger, job, self.region)
        if not job.exists() or job.read_state().get("kind", "training") != "training":
            raise NotFound(f"No local training job named {name!r}.")
        return job

    def describe_training_job(self, name: str) -> LocalTrainingJobDescription:
        """See :meth:`Backend.describe_training_job`."""
        job = self._job(name)
        state = self.jobs.checked_state(job)
        spec = job.read_spec()
        status = state["status"]
        secondary = state["secondary_status"]
        if status == statuses.IN_PROGRESS and job.stop_marker.exists():
            status, secondary = statuses.STOPPING, statuses.STOPPING
        self.jobs.sync_ledger(name, state)
        start, end = state.get("training_start"), state.get("training_end")
        seconds = int((end or time.time()) - start) if start else 0
        description: LocalTrainingJobDescription = {
            "TrainingJobName": name,
            "TrainingJobArn": (
                f"arn:aws:sagemaker:{self.region}:{_LOCAL_ACCOUNT}:training-job/{name}"
            ),
            "TrainingJobStatus": status,
            "SecondaryStatus": secondary,
            "SecondaryStatusTransitions": [_transition(t) for t in state.get("transitions", [])],
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
            "CreationTime": utc.at(state["created"]),
            "LastModifiedTime": utc.at(job.state_file.stat().st_mtime),
            "TrainingTimeInSeconds": seconds,
            "BillableTimeInSeconds": seconds,
            "FinalMetricDataList": [
                {
                    "MetricName": m["MetricName"],
                    "Value": m["Value"],
                    "Timestamp": utc.at(m["Timestamp"]),
                }
                for m in state.get("final_metrics", [])
            ],
            "Environment": spec.get("environment") or {},
            "Tags": spec.get("tags") or {},
            "LocalJobDir": str(job.root),
            "LocalNotes": state.get("notes", []),
            "SourceHash": state.get("source_hash"),
        }
        if start:
            description = {**description, "TrainingStartTime": utc.at(start)}
        if end:
            description = {**description, "TrainingEndTime": utc.at(end)}
        if state.get("failure_reason"):
            description = {**description, "FailureReason": state["failure_reason"]}
        if state.get("model_data"):
            description = {
                **description,
                "ModelArtifacts": {"S3ModelArtifacts": state["model_data"]},
            }
        if state.get("output_data"):
            description = {**description, "OutputDataArtifacts": state["output_data"]}
        return description

    def stop_training_job(self, name: str) -> None:
        """See :meth:`Backend.stop_training_job`.

        The supervisor gets SIGTERM and stops the hosts: SIGTERM to their process groups,
        SIGKILL after the grace period.
        """
        self.jobs.signal_stop(self._job(name))

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

    def change_watch(self, name: str) -> ChangeWatch | None:
        """See :meth:`Backend.change_watch`: ``inotify`` on the logs and the job folder.

        The log pumps append to files in ``logs/``; the supervisor replaces ``state.json``
        in the job's folder. Linux only (:mod:`.folder_watch`).
        """
        from sm_magics.backends.local.folder_watch import open_watch

        job = JobDir.for_job(name)
        return open_watch([job.logs, job.root])

    def read_training_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """See :meth:`Backend.read_training_logs`."""
        return logstore.read_new(self._job(name).logs, cursor)

    def log_stream_names(self, name: str) -> list[str]:
        """Return the CloudWatch-style stream names of a job (``<job>/algo-1-<epoch>``)."""
        return [f"{name}/{p.stem}" for p in sorted(self._job(name).logs.glob("*.log"))]

    # -- the parts it owns: endpoints, transforms, processing ------------------------------

    def set_autoscaling(self, name: str, variant: str, min_capacity: int, max_capacity: int) -> str:
        """Record ``--autoscale``; locally the variant keeps its fixed worker count."""
        return self.endpoints.set_autoscaling(name, variant, min_capacity, max_capacity)

    def invoke_endpoint_async(
        self, name: str, body: bytes, *, content_type: str, accept: str | None = None
    ) -> AsyncInvokeResult:
        """See :meth:`Backend.invoke_endpoint_async` (:mod:`.endpoints`)."""
        return self.endpoints.invoke_endpoint_async(
            name, body, content_type=content_type, accept=accept
        )

    def notes_for_processing(self, spec: ProcessingSpec) -> list[str]:
        """Return what the local backend records but does not act on (:mod:`.processing_jobs`)."""
        return self.processing.notes_for_processing(spec)
