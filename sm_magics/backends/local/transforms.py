"""Local batch transform jobs, the kernel's side: validate, reserve, start, describe.

A transform job is a job folder (:class:`~.jobdir.JobDir`) and a ledger row of kind
``transform``, run by the detached process of :mod:`.transform`. Status, stop and logs
work as for training jobs; the model is resolved as for an endpoint variant.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from sm_magics.backends import statuses
from sm_magics.backends.local import logstore, processes, utc
from sm_magics.backends.local.creation import creating, vanished
from sm_magics.backends.local.endpoints import LocalEndpoints
from sm_magics.backends.local.job_states import JobStates
from sm_magics.backends.local.jobdir import JobDir, write_json_atomic
from sm_magics.backends.local.transform import input_files
from sm_magics.backends.local.uris import local_path
from sm_magics.backends.results import LogBatch, LogCursor
from sm_magics.backends.rows import transform_record
from sm_magics.backends.specs import TransformSpec
from sm_magics.errors import InvalidRequest, NotFound
from sm_magics.ledger import Ledger

if TYPE_CHECKING:
    from sm_magics.backends.descriptions import LocalTransformJobDescription

_LOCAL_ACCOUNT = "000000000000"


class LocalTransforms:
    """The batch transform jobs of a :class:`~sm_magics.backends.local.engine.LocalBackend`.

    A transform resolves its model as an endpoint variant does (``endpoints``) and lives in
    a job folder like a training job (``jobs``): both are given, not borrowed.
    """

    def __init__(
        self, ledger: Ledger, region: str | None, jobs: JobStates, endpoints: LocalEndpoints
    ) -> None:
        self.ledger = ledger
        self.region = region
        self.jobs = jobs
        self.endpoints = endpoints

    def create_transform_job(self, spec: TransformSpec) -> None:
        """See :meth:`Backend.create_transform_job`."""
        model = self.endpoints.variant_config(spec.model)
        source = local_path(spec.input_uri, "--input")
        if not input_files(source):
            raise InvalidRequest(
                f"--input {spec.input_uri}: no file there (a file, a folder, or a prefix of "
                "file names is expected)."
            )
        output = local_path(spec.output_uri, "--output")
        if source.is_dir() and (output == source or source in output.parents):
            raise InvalidRequest("--output must not be inside --input: results would be read back.")
        if spec.split_type not in ("Line", "None"):
            raise InvalidRequest("split type must be Line or None.")
        now = time.time()
        record = transform_record(spec, backend="local", region=self.region, now=now)
        job = JobDir.for_job(spec.name)
        with creating(self.ledger, record, job.root) as made:
            job.logs.mkdir(parents=True)
            write_json_atomic(
                job.spec_file,
                {
                    **model,
                    "job_name": spec.name,
                    "input_path": str(source),
                    "output_path": str(output),
                    "content_type": spec.content_type,
                    "accept": spec.accept,
                    "split_type": spec.split_type,
                    "input_uri": spec.input_uri,
                    "output_uri": spec.output_uri,
                },
            )
            job.write_state(
                {
                    "status": statuses.IN_PROGRESS,
                    "secondary_status": statuses.IN_PROGRESS,
                    "created": now,
                    "kind": "transform",
                }
            )
            made.process = processes.spawn_detached(
                [model["python"], "-m", "sm_magics.backends.local.transform", str(job.root)],
                job.supervisor_log,
            )

    def _transform_job(self, name: str) -> JobDir:
        job = JobDir.for_job(name)
        if not job.exists():
            vanished(self.ledger, job, self.region)
        if not job.exists() or job.read_state().get("kind") != "transform":
            raise NotFound(f"No local transform job named {name!r}.")
        return job

    def describe_transform_job(self, name: str) -> LocalTransformJobDescription:
        """See :meth:`Backend.describe_transform_job`."""
        job = self._transform_job(name)
        state = self.jobs.checked_state(job)
        spec = job.read_spec()
        # The row follows the folder, as for the other kinds (a transform's only status is
        # its status: the runner writes no secondary one after the first).
        self.jobs.sync_ledger(name, {**state, "secondary_status": state["status"]})
        description: LocalTransformJobDescription = {
            "TransformJobName": name,
            "TransformJobArn": (
                f"arn:aws:sagemaker:{self.region}:{_LOCAL_ACCOUNT}:transform-job/{name}"
            ),
            "TransformJobStatus": state["status"],
            "ModelName": spec.get("job") or Path(spec["model_path"]).as_uri(),
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3Uri": Path(spec["input_path"]).as_uri()}},
                "ContentType": spec["content_type"],
                "SplitType": spec["split_type"],
            },
            "TransformOutput": {
                "S3OutputPath": Path(spec["output_path"]).as_uri(),
                "Accept": spec.get("accept") or "application/json",
                "AssembleWith": "Line",
            },
            "TransformResources": {
                "InstanceType": spec["instance_type"],
                "InstanceCount": spec["instance_count"],
            },
            "CreationTime": utc.at(state["created"]),
            "FilesProcessed": state.get("files_done", 0),
            "RecordsProcessed": state.get("records", 0),
        }
        if state.get("training_start"):
            description = {**description, "TransformStartTime": utc.at(state["training_start"])}
        if state.get("training_end"):
            description = {**description, "TransformEndTime": utc.at(state["training_end"])}
        if state.get("failure_reason"):
            description = {**description, "FailureReason": state["failure_reason"]}
        return description

    def stop_transform_job(self, name: str) -> None:
        """See :meth:`Backend.stop_transform_job`: the same signal as a training job's."""
        self.jobs.signal_stop(self._transform_job(name))

    def read_transform_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """See :meth:`Backend.read_transform_logs`."""
        return logstore.read_new(self._transform_job(name).logs, cursor)
