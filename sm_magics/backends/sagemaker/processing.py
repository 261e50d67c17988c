"""Processing jobs on SageMaker: CreateProcessingJob, describe, stop, CloudWatch logs.

``create_processing_job`` checks the spec and resolves the image before anything is
made, reserves the name in the ledger, uploads the code and every local input by content
hash (:mod:`.uploads`: an unchanged cell or data set is never uploaded twice), then calls
``CreateProcessingJob``; a failure removes the ledger row (uploads stay, keyed by content,
for the next attempt).

The request is the one the SageMaker SDK's script processors send, so the job runs as a
``ScriptProcessor``/``SKLearnProcessor`` job would:

* the staged code folder (cell or ``--source-dir``, plus ``requirements.txt``) is one more
  input, ``code``, at ``/opt/ml/processing/input/code``;
* ``ContainerEntrypoint`` is a short ``/bin/sh -c`` line that enters that folder, installs
  ``requirements.txt`` when there is one (as the framework containers do for training),
  and ``exec``-s ``python3 <entry point>``; ``ContainerArguments`` are the ``--arg``
  values, passed on as ``"$@"``, so the script's ``sys.argv`` is exactly them;
* with no ``--image``/``--framework`` the job runs in the default scikit-learn container
  (:func:`~.images.default_sklearn_image`, the SDK's ``SKLearnProcessor`` image), else
  the framework's image as for training;
* each output is stored at the end of the job (``S3UploadMode=EndOfJob``) under its URI,
  by default ``s3://<bucket>/sm-magics/output/<job>/output/<name>``.
"""

from __future__ import annotations

import shlex
import tempfile
import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sm_magics import packaging
from sm_magics.backends import kinds, processing, statuses
from sm_magics.backends.options import BackendOptions
from sm_magics.backends.results import LogBatch, LogCursor
from sm_magics.backends.sagemaker import cwlogs, jobs, uploads
from sm_magics.backends.sagemaker.resources import tag_list
from sm_magics.backends.sagemaker.training_requests import (
    OUTPUT_PREFIX,
    RESERVED_TAG_PREFIX,
    TAG_CREATED_BY,
    USER_SET_TAGS,
    created_by,
    resolve_image,
    vpc_config,
)
from sm_magics.errors import InvalidRequest
from sm_magics.input_digests import digest_inputs
from sm_magics.ledger_records import TERMINAL_JOB_STATUSES, JobRecord, job_row_spec

if TYPE_CHECKING:
    from sm_magics.backends.descriptions import ProcessingJobDescription
    from sm_magics.backends.sagemaker.aws import AwsSession
    from sm_magics.ledger import Ledger

SAGEMAKER = "sagemaker"
KIND = kinds.PROCESSING
#: Code folders of processing jobs, by content hash (files, not an archive: the ``code``
#: input copies what is under the prefix into the container).
CODE_PREFIX = "sm-magics/processing-code"
DEFAULT_MAX_RUN = 86_400
DEFAULT_VOLUME_GB = 30
#: ``$0`` of the entry point's shell line (what ``ps`` shows in the container).
SHELL_NAME = "sm-process"
_MAX_ENTRYPOINT_ITEM = 256


def entrypoint(entry_point: str, *, requirements: bool) -> list[str]:
    """Return ``ContainerEntrypoint``: enter the code folder, install, run the script.

    Raises
    ------
    InvalidRequest
        The line would exceed SageMaker's 256 characters per item (a very long path).
    """
    steps = [f"cd {processing.CODE_DESTINATION}"]
    if requirements:
        steps.append("python3 -m pip install --quiet -r requirements.txt")
    steps.append(f'exec python3 {shlex.quote(entry_point)} "$@"')
    line = " && ".join(steps)
    if len(line) > _MAX_ENTRYPOINT_ITEM:
        raise InvalidRequest(f"--entry-point {entry_point}: the path is too long for SageMaker.")
    return ["/bin/sh", "-c", line, SHELL_NAME]


def default_output_uri(bucket: str, job: str, output: str) -> str:
    """Return where an output goes when ``--output`` names no URI (the SDK's layout)."""
    return uploads.s3_uri(bucket, f"{OUTPUT_PREFIX}/{job}/output/{output}")


class SageMakerProcessing:
    """The processing jobs of the sagemaker backend, over its AWS session and ledger.

    Parameters
    ----------
    aws
        The backend's session (region, role, bucket, clients).
    ledger
        Where the jobs' rows are kept (this object writes them).
    options
        The backend options (the VPC, shared with training jobs).
    """

    def __init__(self, aws: AwsSession, ledger: Ledger, options: BackendOptions) -> None:
        self.aws = aws
        self.ledger = ledger
        self.options = options

    # -- create -----------------------------------------------------------------------------

    def _check_processing_spec(self, spec: processing.ProcessingSpec) -> dict[str, Path]:
        """Check what AWS would only reject later; return the local inputs to upload."""
        local: dict[str, Path] = {}
        for item in spec.inputs:
            path = uploads.local_path(item.source)
            if path is None:
                uploads.parse_s3_uri(item.source)
                continue
            if not path.exists():
                raise InvalidRequest(f"--input {item.name}: {path} does not exist.")
            local[item.name] = path
        for out in spec.outputs:
            if out.destination is not None:
                if uploads.local_path(out.destination) is not None:
                    raise InvalidRequest(
                        f"--output {out.name}: on SageMaker outputs go to S3; give an "
                        f"s3://bucket/prefix URI, not {out.destination}."
                    )
                uploads.parse_s3_uri(out.destination)
        if spec.source_dir is not None and not spec.source_dir.is_dir():
            raise InvalidRequest(f"--source-dir {spec.source_dir} is not a folder.")
        if spec.requirements is not None and not spec.requirements.is_file():
            raise InvalidRequest(f"--requirements {spec.requirements} does not exist.")
        reserved = sorted(
            k for k in spec.tags if k.startswith(RESERVED_TAG_PREFIX) and k not in USER_SET_TAGS
        )
        if reserved:
            raise InvalidRequest(
                f"Tag keys starting {RESERVED_TAG_PREFIX!r} are set by sm-magics: {reserved}."
            )
        entrypoint(spec.entry_point, requirements=spec.requirements is not None)
        return local

    def create_processing_job(self, spec: processing.ProcessingSpec) -> None:
        """See :meth:`Backend.create_processing_job`.

        Raises
        ------
        InvalidRequest
            A malformed spec, a missing local input, a local output, or SageMaker's
            ``ValidationException``.
        AlreadyExists
            The name is taken, in the ledger or on SageMaker.
        AccessDenied, ResourceLimitExceeded, BackendUnavailable
            What AWS said. Nothing is left behind.
        """
        local_inputs = self._check_processing_spec(spec)
        image = resolve_image(spec, self.aws.region, kind="processing")
        vpc = vpc_config(self.options)
        with tempfile.TemporaryDirectory(prefix="sm-magics-code-") as tmp:
            code = Path(tmp) / "code"
            source_hash = packaging.stage_source(
                code,
                entry_point=spec.entry_point,
                script=spec.script,
                source_dir=spec.source_dir,
                requirements=spec.requirements,
            )
            role, bucket = self.aws.role, self.aws.bucket
            outputs = {
                o.name: o.destination or default_output_uri(bucket, spec.name, o.name)
                for o in spec.outputs
            }
            self.ledger.insert_job(
                JobRecord(
                    name=spec.name,
                    backend="sagemaker",
                    kind=KIND.name,
                    region=self.aws.region,
                    status=statuses.IN_PROGRESS,
                    secondary_status=statuses.IN_PROGRESS,
                    instance_type=spec.instance_type,
                    instance_count=spec.instance_count,
                    created_at=time.time(),
                    source_hash=source_hash,
                    notebook=spec.notebook,
                    tags=spec.tags,
                    spec=job_row_spec(
                        {
                            **spec.to_json(),
                            "resolved_image": image,
                            "input_digests": digest_inputs({i.name: i.source for i in spec.inputs}),
                            "outputs": [
                                {**o.to_json(), "uri": outputs[o.name]} for o in spec.outputs
                            ],
                        }
                    ),
                )
            )
            try:
                code_uri = uploads.upload_path(self.aws, code, prefix=CODE_PREFIX)
                inputs = {
                    item.name: (
                        uploads.upload_path(self.aws, local_inputs[item.name])
                        if item.name in local_inputs
                        else item.source
                    )
                    for item in spec.inputs
                }
                request = self.processing_job_request(
                    spec,
                    image=image,
                    role=role,
                    code_uri=code_uri,
                    inputs=inputs,
                    outputs=outputs,
                    vpc=vpc,
                )
                self.aws.call(SAGEMAKER, "create_processing_job", **request)
            except BaseException:
                self.ledger.delete_job(spec.name)
                raise

    def processing_job_request(
        self,
        spec: processing.ProcessingSpec,
        *,
        image: str,
        role: str,
        code_uri: str,
        inputs: dict[str, str],
        outputs: dict[str, str],
        vpc: dict[str, list[str]] | None = None,
    ) -> dict[str, Any]:
        """Return the ``CreateProcessingJob`` parameters for ``spec``, everything resolved.

        ``inputs`` and ``outputs`` map each name to its S3 URI.
        """
        app: dict[str, Any] = {
            "ImageUri": image,
            "ContainerEntrypoint": entrypoint(
                spec.entry_point, requirements=spec.requirements is not None
            ),
        }
        if spec.arguments:
            app["ContainerArguments"] = list(spec.arguments)
        request: dict[str, Any] = {
            "ProcessingJobName": spec.name,
            "ProcessingInputs": [
                {
                    "InputName": processing.CODE_INPUT,
                    "AppManaged": False,
                    "S3Input": processing.s3_input(code_uri, processing.CODE_DESTINATION),
                },
                *(
                    {
                        "InputName": item.name,
                        "AppManaged": False,
                        "S3Input": processing.s3_input(
                            inputs[item.name], item.destination, item.distribution
                        ),
                    }
                    for item in spec.inputs
                ),
            ],
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": spec.instance_count,
                    "InstanceType": spec.instance_type,
                    "VolumeSizeInGB": DEFAULT_VOLUME_GB,
                }
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": spec.max_run or DEFAULT_MAX_RUN},
            "AppSpecification": app,
            "RoleArn": role,
            "Tags": tag_list({TAG_CREATED_BY: created_by()}, spec.tags, spec.notebook),
        }
        if spec.outputs:
            request["ProcessingOutputConfig"] = {
                "Outputs": [
                    {
                        "OutputName": out.name,
                        "AppManaged": False,
                        "S3Output": {
                            "S3Uri": outputs[out.name],
                            "LocalPath": out.source,
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                    for out in spec.outputs
                ]
            }
        if spec.environment:
            request["Environment"] = dict(spec.environment)
        if vpc:
            request["NetworkConfig"] = {"VpcConfig": vpc}
        return request

    # -- read -------------------------------------------------------------------------------

    def describe_processing_job(self, name: str) -> ProcessingJobDescription:
        """See :meth:`Backend.describe_processing_job`: SageMaker's answer; syncs the row."""
        description: ProcessingJobDescription = jobs.describe(
            self.aws,
            self.ledger,
            "processing job",
            name,
            lambda client: client.describe_processing_job(ProcessingJobName=name),
        )
        status = kinds.status_of(description)
        jobs.sync_row(
            self.ledger,
            name,
            {
                "status": status,
                "secondary_status": status,
                "started_at": jobs.epoch(description.get(KIND.start_key)),
                "ended_at": jobs.epoch(description.get(KIND.end_key)),
                "failure_reason": description.get("FailureReason") or None,
            },
            keep_none=False,
        )
        return description

    def stop_processing_job(self, name: str) -> None:
        """See :meth:`Backend.stop_processing_job`: ``StopProcessingJob`` unless it ended."""
        jobs.stop(
            self.aws,
            self.ledger,
            name,
            status=lambda: kinds.status_of(self.describe_processing_job(name)),
            operation="stop_processing_job",
            params={"ProcessingJobName": name},
        )

    @cached_property
    def processing_log_reader(self) -> cwlogs.LogReader:
        """The CloudWatch reader of ``/aws/sagemaker/ProcessingJobs``."""
        return cwlogs.LogReader(self.aws.client("logs"), group=KIND.log_group)

    def read_processing_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """See :meth:`Backend.read_processing_logs`.

        Streams are ``<job>/algo-<N>-<epoch>``, one per instance, as for training; how
        many to expect and whether the job ended come from the ledger (else one describe).
        """
        record = self.ledger.get_job(name)
        if record is None or record.backend != "sagemaker":
            description = self.describe_processing_job(name)
            count = kinds.resources_of(description)[1]
            finished = kinds.status_of(description) in TERMINAL_JOB_STATUSES
        else:
            count, finished = record.instance_count, record.is_terminal
        return self.processing_log_reader.read(
            name, cursor, expected_streams=count, finished=finished
        )
