"""Batch transform jobs on SageMaker: CreateTransformJob, describe, stop, logs.

A transform job runs a *model* (made exactly as an endpoint variant's, see
:func:`.resources.build_container`) over every object under an S3 prefix. A local
``--input`` file or folder is uploaded first under its content hash by :mod:`.uploads`
(as training channels are), so running the same data twice uploads nothing. The model
exists only for the job: it is deleted once a ``describe`` sees the job ended (models do
not bill, but they clutter the console and count against a quota).

Record batching follows the local backend: CSV lines go in mini-batches
(``MultiRecord``), JSON lines and whole files one per request (``SingleRecord``), and the
answers are assembled line by line.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sm_magics.backends import rows
from sm_magics.backends.results import LogBatch, LogCursor
from sm_magics.backends.sagemaker import cwlogs, jobs, uploads
from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.backends.sagemaker.resources import (
    SAGEMAKER,
    TAG_PREFIX,
    build_container,
    create_model,
    delete_quietly,
    resource_name,
    tag_list,
    undo,
    with_note,
)
from sm_magics.backends.specs import TransformSpec
from sm_magics.errors import InvalidRequest
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import TERMINAL_JOB_STATUSES, JobChanges, changed_columns

if TYPE_CHECKING:
    from sm_magics.backends.descriptions import TransformJobDescription

LOG_GROUP = "/aws/sagemaker/TransformJobs"
_JSON_LINES = ("application/jsonlines", "application/jsonl", "application/x-jsonlines")


def _batch_strategy(content_type: str, split_type: str) -> str:
    media = content_type.split(";")[0].strip().lower()
    if split_type == "Line" and media not in (*_JSON_LINES, "application/json"):
        return "MultiRecord"
    return "SingleRecord"


class SageMakerTransforms:
    """The batch transform jobs of the sagemaker backend, over its AWS session and ledger."""

    def __init__(self, aws: AwsSession, ledger: Ledger) -> None:
        self.aws = aws
        self.ledger = ledger

    def create_transform_job(self, spec: TransformSpec) -> None:
        """See :meth:`Backend.create_transform_job`.

        The ledger row comes first (it reserves the name); a failure at any later step
        deletes the model made for the job and the row, and says so.
        """
        if spec.split_type not in ("Line", "None"):
            raise InvalidRequest("split type must be Line or None.")
        if not spec.output_uri.startswith("s3://"):
            raise InvalidRequest(
                f"--output {spec.output_uri}: on SageMaker results go to S3; give an "
                "s3://bucket/prefix/ URI."
            )
        uploads.parse_s3_uri(spec.output_uri)
        model_spec = spec.model
        self.ledger.insert_job(
            rows.transform_record(
                spec, backend="sagemaker", region=self.aws.region, now=time.time()
            )
        )
        tags = tag_list({f"{TAG_PREFIX}transform-job": spec.name}, spec.tags, spec.notebook)
        created: list[tuple[str, dict[str, object]]] = []
        step = ""
        try:
            step = f"--input {spec.input_uri}"
            source = uploads.local_path(spec.input_uri)
            input_uri = spec.input_uri if source is None else uploads.upload_path(self.aws, source)
            step = "the model"
            container = build_container(self.aws, self.ledger, model_spec)
            model = resource_name(spec.name, container)
            create_model(self.aws, model, container, tags)
            created.append(("delete_model", {"ModelName": model}))
            output: dict[str, Any] = {"S3OutputPath": spec.output_uri, "AssembleWith": "Line"}
            if spec.accept:
                output["Accept"] = spec.accept
            step = ""
            self.aws.call(
                SAGEMAKER,
                "create_transform_job",
                TransformJobName=spec.name,
                ModelName=model,
                BatchStrategy=_batch_strategy(spec.content_type, spec.split_type),
                TransformInput={
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
                    "ContentType": spec.content_type,
                    "SplitType": spec.split_type,
                },
                TransformOutput=output,
                TransformResources={
                    "InstanceType": model_spec.instance_type,
                    "InstanceCount": model_spec.instance_count,
                },
                Tags=tags,
            )
        except BaseException as exc:
            note = undo(self.aws, created)
            self.ledger.delete_job(spec.name)
            error = with_note(exc, f"Transform job {spec.name} was not created", note, step)
            if error is exc:
                raise
            raise error from exc
        record = self.ledger.get_job(spec.name)
        self.ledger.update_job(
            spec.name,
            spec={**(record.spec if record else {}), "model_name": model, "input_s3": input_uri},
        )

    def describe_transform_job(self, name: str) -> TransformJobDescription:
        """See :meth:`Backend.describe_transform_job`; syncs the ledger row.

        Once the job has ended its model is deleted (once: the row remembers it).
        """
        description: TransformJobDescription = jobs.describe(
            self.aws,
            self.ledger,
            "transform job",
            name,
            lambda client: client.describe_transform_job(TransformJobName=name),
        )
        status = str(description["TransformJobStatus"])
        record = self.ledger.get_job(name)
        if record is None or record.backend != "sagemaker":
            return description
        wanted: JobChanges = {
            "status": status,
            "secondary_status": status,
            "started_at": jobs.epoch(description.get("TransformStartTime")),
            "ended_at": jobs.epoch(description.get("TransformEndTime")),
            "failure_reason": description.get("FailureReason") or None,
        }
        changes = changed_columns(record, wanted, keep_none=False)
        model = record.spec.get("model_name")
        if (
            status in TERMINAL_JOB_STATUSES
            and model
            and not record.spec.get("model_deleted")
            and delete_quietly(self.aws, "delete_model", ModelName=model) is None
        ):
            changes["spec"] = {**record.spec, "model_deleted": True}
        if changes:
            self.ledger.update_job(name, **changes)
        return description

    def stop_transform_job(self, name: str) -> None:
        """See :meth:`Backend.stop_transform_job`: ``StopTransformJob`` unless it ended."""
        jobs.stop(
            self.aws,
            self.ledger,
            name,
            status=lambda: str(self.describe_transform_job(name)["TransformJobStatus"]),
            operation="stop_transform_job",
            params={"TransformJobName": name},
        )

    def read_transform_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """See :meth:`Backend.read_transform_logs`.

        Group ``/aws/sagemaker/TransformJobs``, streams ``<job>/<instance id>`` (and
        ``.../data-log``), read by :class:`~.cwlogs.LogReader` as a training job's are;
        ``host`` is the part after the job name. The stream count is not known in advance
        (one or two per instance), so listing goes on at the idle pace; once the ledger
        has the job ended, the read goes to the end.
        """
        record = self.ledger.get_job(name)
        finished = record is not None and record.is_terminal
        reader = cwlogs.LogReader(self.aws.client("logs"), group=LOG_GROUP)
        return reader.read(name, cursor, finished=finished)
