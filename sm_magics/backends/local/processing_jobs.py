"""Local processing jobs, the kernel's side: validate, reserve, lay out, start, describe.

A processing job is a job folder and a ledger row of kind ``processing``, run by the
detached :mod:`.processor` (the training supervisor with the processing contract in its
hooks). Inputs must exist and be local (a path or ``file://``); each output's destination
is a local folder, by default ``SM_MAGICS_HOME/artifacts/<job>/output/<name>/``, named as
a ``file://`` URI in the description so the next step (``%%sm_train --input
train={prep.outputs.train}``) reads it directly. Status, stop and logs work as a training
job's.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sm_magics import packaging
from sm_magics.backends import processing, statuses
from sm_magics.backends.local import logstore, processes, utc
from sm_magics.backends.local.creation import creating, vanished
from sm_magics.backends.local.job_states import JobStates
from sm_magics.backends.local.jobdir import JobDir, artifacts_root, write_json_atomic
from sm_magics.backends.local.processor import ProcessingDir
from sm_magics.backends.local.uris import existing_path, local_path
from sm_magics.backends.results import LogBatch, LogCursor
from sm_magics.errors import InvalidRequest, NotFound
from sm_magics.input_digests import digest_inputs
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import JobRecord, job_row_spec

if TYPE_CHECKING:
    from sm_magics.backends.descriptions import LocalProcessingJobDescription, ProcessingInput

_LOCAL_ACCOUNT = "000000000000"
KIND = processing.ProcessingSpec.kind


def default_output_path(job: str, output: str) -> Path:
    """Return where a local job's output goes when its ``--output`` names no URI."""
    return artifacts_root() / job / "output" / output


class LocalProcessing:
    """The processing jobs of a :class:`~sm_magics.backends.local.engine.LocalBackend`."""

    def __init__(self, ledger: Ledger, region: str | None, jobs: JobStates) -> None:
        self.ledger = ledger
        self.region = region
        self.jobs = jobs

    def notes_for_processing(self, spec: processing.ProcessingSpec) -> list[str]:
        """Return what the local backend records but does not act on, for the user."""
        unused = [
            flag
            for flag, value in (("--image", spec.image), ("--framework", spec.framework))
            if value
        ]
        if not unused:
            return []
        return [
            f"local backend: {', '.join(unused)} recorded, not used here (they apply on "
            "SageMaker); the script runs with this kernel's Python."
        ]

    def _resolve_processing(self, spec: processing.ProcessingSpec) -> dict[str, Any]:
        """Check the spec against this machine; return the resolved inputs and outputs."""
        inputs = [
            {**item.to_json(), "resolved": str(existing_path(item.source, f"--input {item.name}"))}
            for item in spec.inputs
        ]
        outputs = []
        for out in spec.outputs:
            path = (
                local_path(out.destination, f"--output {out.name}")
                if out.destination
                else default_output_path(spec.name, out.name)
            )
            if path.exists() and not path.is_dir():
                raise InvalidRequest(f"--output {out.name}: {path} is a file, not a folder.")
            for item in inputs:
                source = Path(item["resolved"])
                if path == source or source in path.parents or path in source.parents:
                    raise InvalidRequest(
                        f"--output {out.name}: {path} overlaps input {item['name']} ({source})."
                    )
            outputs.append({**out.to_json(), "path": str(path), "uri": path.as_uri()})
        if spec.source_dir is not None and not spec.source_dir.is_dir():
            raise InvalidRequest(f"--source-dir {spec.source_dir} is not a folder.")
        if spec.requirements is not None and not spec.requirements.is_file():
            raise InvalidRequest(f"--requirements {spec.requirements} does not exist.")
        return {"inputs": inputs, "outputs": outputs}

    def create_processing_job(self, spec: processing.ProcessingSpec) -> None:
        """See :meth:`Backend.create_processing_job`."""
        resolved = self._resolve_processing(spec)
        now = time.time()
        record = JobRecord(
            name=spec.name,
            backend="local",
            kind=KIND,
            region=self.region,
            status=statuses.IN_PROGRESS,
            secondary_status=statuses.STARTING,
            instance_type=spec.instance_type,
            instance_count=spec.instance_count,
            created_at=now,
            notebook=spec.notebook,
            tags=spec.tags,
            spec=job_row_spec(
                {
                    **spec.to_json(),
                    "outputs": resolved["outputs"],
                    "input_digests": digest_inputs({i.name: i.source for i in spec.inputs}),
                }
            ),
        )
        job = ProcessingDir(JobDir.for_job(spec.name).root)
        with creating(self.ledger, record, job.root) as made:
            source_hash = packaging.stage_source(
                job.code,
                entry_point=spec.entry_point,
                script=spec.script,
                source_dir=spec.source_dir,
                requirements=spec.requirements,
            )
            job.logs.mkdir()
            write_json_atomic(
                job.spec_file,
                {
                    **spec.to_json(),
                    **resolved,
                    "kind": KIND,
                    "hyperparameters": {},
                    "python": sys.executable,
                    "region": self.region,
                    "arn": self._processing_arn(spec.name),
                    "requirements": str(spec.requirements.resolve()) if spec.requirements else None,
                },
            )
            state: dict[str, Any] = {
                "kind": KIND,
                "status": statuses.IN_PROGRESS,
                "secondary_status": statuses.STARTING,
                "created": now,
                "source_hash": source_hash,
                "notes": self.notes_for_processing(spec),
                "transitions": [
                    {
                        "Status": statuses.STARTING,
                        "StartTime": now,
                        "StatusMessage": "Preparing the instances for processing",
                    }
                ],
            }
            job.write_state(state)
            made.process = processes.spawn_detached(
                [sys.executable, "-m", "sm_magics.backends.local.processor", str(job.root)],
                job.supervisor_log,
            )
            state["supervisor_pid"] = made.process.pid
            state["supervisor_start"] = processes.start_time(made.process.pid)
            self.jobs.merge_state(job, state)
            self.ledger.update_job(spec.name, source_hash=source_hash)
        processes.reap_children()

    def _processing_arn(self, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{_LOCAL_ACCOUNT}:processing-job/{name}"

    def _processing_job(self, name: str) -> ProcessingDir:
        job = ProcessingDir(JobDir.for_job(name).root)
        if not job.exists():
            vanished(self.ledger, job, self.region)
        if not job.exists() or job.read_state().get("kind") != KIND:
            raise NotFound(f"No local processing job named {name!r}.")
        return job

    def describe_processing_job(self, name: str) -> LocalProcessingJobDescription:
        """See :meth:`Backend.describe_processing_job`."""
        job = self._processing_job(name)
        state = self.jobs.checked_state(job)
        spec = job.read_spec()
        status = state["status"]
        if status == statuses.IN_PROGRESS and job.stop_marker.exists():
            status = statuses.STOPPING
        self.jobs.sync_ledger(name, state)
        inputs: list[ProcessingInput] = [
            {
                "InputName": processing.CODE_INPUT,
                "AppManaged": False,
                "S3Input": processing.s3_input(job.code.as_uri(), processing.CODE_DESTINATION),
            }
        ]
        inputs.extend(
            {
                "InputName": i["name"],
                "AppManaged": False,
                "S3Input": processing.s3_input(
                    Path(i["resolved"]).as_uri(), i["destination"], i["distribution"]
                ),
            }
            for i in spec["inputs"]
        )
        description: LocalProcessingJobDescription = {
            "ProcessingJobName": name,
            "ProcessingJobArn": self._processing_arn(name),
            "ProcessingJobStatus": status,
            "ProcessingInputs": inputs,
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": o["name"],
                        "AppManaged": False,
                        "S3Output": {
                            "S3Uri": o["uri"],
                            "LocalPath": o["source"],
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                    for o in spec["outputs"]
                ]
            },
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": spec["instance_count"],
                    "InstanceType": spec["instance_type"],
                    "VolumeSizeInGB": 30,
                }
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": spec.get("max_run") or 86_400},
            "AppSpecification": {
                "ImageUri": spec.get("image") or "local",
                "ContainerEntrypoint": [
                    "python3",
                    f"{processing.CODE_DESTINATION}/{spec['entry_point']}",
                ],
                **({"ContainerArguments": spec["arguments"]} if spec.get("arguments") else {}),
            },
            "Environment": spec.get("environment") or {},
            "CreationTime": utc.at(state["created"]),
            "LastModifiedTime": utc.at(job.state_file.stat().st_mtime),
            "Tags": spec.get("tags") or {},
            "LocalJobDir": str(job.root),
            "LocalNotes": state.get("notes", []),
            "SourceHash": state.get("source_hash"),
        }
        if state.get("training_start"):
            description = {**description, "ProcessingStartTime": utc.at(state["training_start"])}
        if state.get("ended"):
            description = {**description, "ProcessingEndTime": utc.at(state["ended"])}
        if state.get("failure_reason"):
            reason = state["failure_reason"]
            description = {**description, "FailureReason": reason, "ExitMessage": reason}
        return description

    def stop_processing_job(self, name: str) -> None:
        """See :meth:`Backend.stop_processing_job`: the same signal as a training job's."""
        self.jobs.signal_stop(self._processing_job(name))

    def read_processing_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """See :meth:`Backend.read_processing_logs`."""
        return logstore.read_new(self._processing_job(name).logs, cursor)
