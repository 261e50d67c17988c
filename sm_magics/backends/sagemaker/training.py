"""Training jobs on SageMaker: CreateTrainingJob, describe, stop, CloudWatch logs.

``create_training_job`` does, in order, everything that can fail without leaving a trace
(check the spec, resolve the image, stage the code, find the role and bucket), then
reserves the name in the ledger, uploads by content hash (:mod:`.uploads`) and calls
``CreateTrainingJob``. If the call fails the ledger row is removed, so no half-created job
is left; the uploaded objects stay, keyed by their content, and are what the next attempt
reuses. The request itself is built in :mod:`.training_requests`.
"""

from __future__ import annotations

import tempfile
import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sm_magics import packaging
from sm_magics.backends import kinds, statuses
from sm_magics.backends.options import BackendOptions
from sm_magics.backends.results import LogBatch, LogCursor
from sm_magics.backends.sagemaker import cwlogs, cwlogs_pacing, jobs, modeltrainer, uploads
from sm_magics.backends.sagemaker.training_requests import (
    DEFAULT_MAX_RUN,
    RESERVED_TAG_PREFIX,
    USER_SET_TAGS,
    created_by,
    resolve_image,
    training_job_request,
    vpc_config,
)
from sm_magics.backends.specs import TrainingSpec
from sm_magics.errors import AlreadyExists, BackendUnavailable, InvalidRequest
from sm_magics.input_digests import digest_inputs
from sm_magics.ledger_records import JobRecord, job_row_spec

if TYPE_CHECKING:
    from sm_magics.backends.descriptions import TrainingJobDescription
    from sm_magics.backends.sagemaker.aws import AwsSession
    from sm_magics.ledger import Ledger

BACKEND_NAME = "sagemaker"
SAGEMAKER = "sagemaker"


class SageMakerTraining:
    """The training jobs of the sagemaker backend, over its AWS session and ledger.

    Parameters
    ----------
    aws
        The backend's session (region, role, bucket, clients).
    ledger
        Where the jobs' rows are kept (this object writes them).
    options
        The backend options (the VPC's subnets and security groups).
    """

    def __init__(self, aws: AwsSession, ledger: Ledger, options: BackendOptions) -> None:
        self.aws = aws
        self.ledger = ledger
        self.options = options
        #: ``name -> (status, instance count, spot)`` from this process's last describe.
        self._status: dict[str, tuple[str, int, bool]] = {}

    # -- create -------------------------------------------------------------------------------

    def create_training_job(self, spec: TrainingSpec) -> None:
        """See :meth:`Backend.create_training_job`.

        Raises
        ------
        InvalidRequest
            A malformed spec, a missing local input, or SageMaker's ``ValidationException``.
        AlreadyExists
            The name is taken, in the ledger or on SageMaker.
        AccessDenied, ResourceLimitExceeded, BackendUnavailable
            What AWS said, with the permission or quota it names. Nothing is left behind.
        """
        region = self.aws.region
        local_inputs = self._check_training_spec(spec)
        image = resolve_image(spec, region)
        vpc = vpc_config(self.options)
        with tempfile.TemporaryDirectory(prefix="sm-magics-code-") as tmp:
            code = Path(tmp) / "code"
            source_hash = self._stage_code(spec, code)
            self.ledger.insert_job(
                JobRecord(
                    name=spec.name,
                    backend=BACKEND_NAME,
                    region=region,
                    status=statuses.IN_PROGRESS,
                    secondary_status=statuses.STARTING,
                    instance_type=spec.instance_type,
                    instance_count=spec.instance_count,
                    spot=spec.spot,
                    created_at=time.time(),
                    source_hash=source_hash,
                    notebook=spec.notebook,
                    tags=spec.tags,
                    spec=job_row_spec(
                        {
                            **spec.to_json(),
                            "resolved_image": image,
                            "input_digests": digest_inputs(spec.inputs),
                        }
                    ),
                )
            )
            try:
                request = self._upload_and_build(
                    spec, code, source_hash, local_inputs, image=image, vpc=vpc
                )
                started = time.time()
                try:
                    self.aws.call(SAGEMAKER, "create_training_job", **request)
                except (AlreadyExists, BackendUnavailable):
                    if not self._created_anyway(request, started):
                        raise
            except BaseException:
                self.ledger.delete_job(spec.name)
                raise

    def prepare_training_request(self, spec: TrainingSpec) -> tuple[dict[str, Any], str, str]:
        """Check, stage and upload ``spec``; return ``(request, source hash, image)``.

        The ``CreateTrainingJob`` request a job of this spec would send, everything
        uploaded; what a tuning job's ``TrainingJobDefinition`` is made of, so the two
        paths never build the request twice.
        """
        local_inputs = self._check_training_spec(spec)
        image = resolve_image(spec, self.aws.region)
        vpc = vpc_config(self.options)
        with tempfile.TemporaryDirectory(prefix="sm-magics-code-") as tmp:
            code = Path(tmp) / "code"
            source_hash = self._stage_code(spec, code)
            request = self._upload_and_build(
                spec, code, source_hash, local_inputs, image=image, vpc=vpc
            )
        return request, source_hash, image

    def _stage_code(self, spec: TrainingSpec, code: Path) -> str:
        """Stage the code into ``code``; find the role and bucket (may discover, once)."""
        source_hash = packaging.stage_source(
            code,
            entry_point=spec.entry_point,
            script=spec.script,
            source_dir=spec.source_dir,
            requirements=spec.requirements,
        )
        _ = self.aws.role, self.aws.bucket
        return source_hash

    def _upload_and_build(
        self,
        spec: TrainingSpec,
        code: Path,
        source_hash: str,
        local_inputs: dict[str, Path],
        *,
        image: str,
        vpc: dict[str, list[str]] | None,
    ) -> dict[str, Any]:
        """Upload the code and local channels by content hash; return the request."""
        driver_channels: dict[str, str] = {}
        if spec.driver == modeltrainer.MODELTRAINER:
            # ModelTrainer's two channels: the code file by file, and its driver.
            with tempfile.TemporaryDirectory(prefix="sm-magics-drivers-") as tmp:
                drivers = modeltrainer.write_drivers(Path(tmp) / "sm_drivers", spec)
                driver_channels = {
                    "code": uploads.upload_path(self.aws, code, prefix=uploads.SOURCE_PREFIX),
                    "sm_drivers": uploads.upload_path(
                        self.aws, drivers, prefix=uploads.SOURCE_PREFIX
                    ),
                }
            submit_dir = driver_channels["code"]
        else:
            submit_dir = uploads.upload_source(self.aws, code, source_hash)
        channels = {
            channel: (
                uploads.upload_path(self.aws, local_inputs[channel])
                if channel in local_inputs
                else uri
            )
            for channel, uri in sorted(spec.inputs.items())
        }
        return training_job_request(
            spec,
            region=self.aws.region,
            image=image,
            role=self.aws.role,
            bucket=self.aws.bucket,
            submit_dir=submit_dir,
            channels=channels,
            vpc=vpc,
            driver_channels=driver_channels,
        )

    def _created_anyway(self, request: dict[str, Any], started: float) -> bool:
        """Whether a ``CreateTrainingJob`` that seemed to fail created the job after all.

        An answer lost to a timeout makes botocore retry, and the retry meets the job the
        first attempt created (``ResourceInUse``) or gets throttled. Dropping the ledger
        row then would leave a billing job nobody tracks, and a generated name would be
        retried into a second job. The job is ours if it carries our request's
        hyperparameters (which name the code's content hash and the job) and role, and
        was created after we started.
        """
        try:
            found = self.aws.call(
                SAGEMAKER, "describe_training_job", TrainingJobName=request["TrainingJobName"]
            )
        except Exception:  # noqa: BLE001 - not found, or cannot tell: it failed
            return False
        created = jobs.epoch(found.get("CreationTime"))
        return (
            found.get("HyperParameters") == request["HyperParameters"]
            and found.get("RoleArn") == request["RoleArn"]
            and created is not None
            and created >= started - 300  # clocks differ; a rerun of ours would be older
        )

    def _check_training_spec(self, spec: TrainingSpec) -> dict[str, Path]:
        """Check what AWS would only reject later; return the local inputs to upload."""
        if spec.driver == modeltrainer.MODELTRAINER:
            modeltrainer.check(spec)
        local: dict[str, Path] = {}
        for channel, uri in sorted(spec.inputs.items()):
            path = uploads.local_path(uri)
            if path is None:
                uploads.parse_s3_uri(uri)  # s3:// with a bucket
                continue
            if not path.exists():
                raise InvalidRequest(f"Channel {channel!r}: {path} does not exist.")
            local[channel] = path
        if spec.source_dir is not None and not spec.source_dir.is_dir():
            raise InvalidRequest(f"--source-dir {spec.source_dir} is not a folder.")
        if spec.requirements is not None and not spec.requirements.is_file():
            raise InvalidRequest(f"--requirements {spec.requirements} does not exist.")
        if spec.checkpoint_uri is not None:
            if uploads.local_path(spec.checkpoint_uri) is not None:
                raise InvalidRequest(
                    "--checkpoint-uri must be an s3:// URI on SageMaker, not "
                    f"{spec.checkpoint_uri}."
                )
            uploads.parse_s3_uri(spec.checkpoint_uri)
        if spec.max_wait is not None and not spec.spot:
            raise InvalidRequest("--max-wait applies to managed spot training: add --spot.")
        max_run = spec.max_run or DEFAULT_MAX_RUN
        if spec.max_wait is not None and spec.max_wait < max_run:
            raise InvalidRequest(
                f"--max-wait ({spec.max_wait} s) must be at least --max-run ({max_run} s): "
                "it counts the time waiting for spot capacity plus the training itself."
            )
        reserved = sorted(
            k for k in spec.tags if k.startswith(RESERVED_TAG_PREFIX) and k not in USER_SET_TAGS
        )
        if reserved:
            raise InvalidRequest(
                f"Tag keys starting {RESERVED_TAG_PREFIX!r} are set by sm-magics: {reserved}."
            )
        return local

    # -- read -------------------------------------------------------------------------------

    def describe_training_job(self, name: str) -> TrainingJobDescription:
        """See :meth:`Backend.describe_training_job`.

        Returns SageMaker's own response, and brings the job's ledger row up to it (status,
        times, failure reason, model) so listings and cleanup stay right after a restart.
        """
        description: TrainingJobDescription = jobs.describe(
            self.aws,
            self.ledger,
            "training job",
            name,
            lambda client: client.describe_training_job(TrainingJobName=name),
        )
        status = kinds.status_of(description)
        _, count = kinds.resources_of(description)
        self._status[name] = (status, count, bool(description.get("EnableManagedSpotTraining")))
        artifacts = description.get("ModelArtifacts")
        jobs.sync_row(
            self.ledger,
            name,
            {
                "metrics": {
                    m["MetricName"]: float(m["Value"])
                    for m in description.get("FinalMetricDataList") or []
                },
                "status": status,
                "secondary_status": description.get("SecondaryStatus"),
                "started_at": jobs.epoch(description.get("TrainingStartTime")),
                "ended_at": jobs.epoch(description.get("TrainingEndTime")),
                "failure_reason": description.get("FailureReason"),
                # Only a completed job's model exists; moto (and the API) name it earlier.
                "model_data": (
                    artifacts["S3ModelArtifacts"]
                    if artifacts and status == statuses.COMPLETED
                    else None
                ),
            },
            keep_none=True,
        )
        return description

    def stop_training_job(self, name: str) -> None:
        """See :meth:`Backend.stop_training_job`: idempotent (:func:`.jobs.stop`)."""
        jobs.stop(
            self.aws,
            self.ledger,
            name,
            status=lambda: kinds.status_of(self.describe_training_job(name)),
            operation="stop_training_job",
            params={"TrainingJobName": name},
        )

    @cached_property
    def log_reader(self) -> cwlogs.LogReader:
        """The CloudWatch reader of training logs (replaceable, e.g. with a test clock)."""
        return cwlogs.LogReader(self.aws.client("logs"), group=cwlogs.TRAINING_LOG_GROUP)

    def read_training_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """See :meth:`Backend.read_training_logs`.

        The instance count (how many streams to wait for) and whether the job has ended
        come from this process's last describe, else the ledger, else one describe. A job
        that has ended is read without pacing, so the follower's final read gets every
        line (see :mod:`.cwlogs`).
        """
        status, count, spot = self._log_context(name)
        return self.log_reader.read(
            name,
            cursor,
            expected_streams=count,
            finished=status in statuses.TERMINAL_STATUSES,
            relist_every=cwlogs_pacing.SPOT_RELIST_INTERVAL if spot else None,
        )

    def _log_context(self, name: str) -> tuple[str, int, bool]:
        known = self._status.get(name)
        if known is not None:
            return known
        record = self.ledger.get_job(name)
        if record is not None and record.backend == BACKEND_NAME:
            return record.status, record.instance_count, record.spot
        self.describe_training_job(name)  # a job started elsewhere; NotFound if none
        return self._status[name]


__all__ = ["SageMakerTraining", "created_by", "resolve_image"]
