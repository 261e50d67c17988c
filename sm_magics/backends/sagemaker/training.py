"""Training jobs on SageMaker: CreateTrainingJob, describe, stop, CloudWatch logs.

``create_training_job`` does, in order, everything that can fail without leaving a trace
(check the spec, resolve the image, stage the code, find the role and bucket), then
reserves the name in the ledger, uploads by content hash (:mod:`.uploads`) and calls
``CreateTrainingJob``. If the call fails the ledger row is removed, so no half-created job
is left; the uploaded objects stay, keyed by their content, and are what the next attempt
reuses.

The request is the one the SageMaker SDK's framework estimators send, so the framework
containers (and any image built on the SageMaker training toolkit) run the cell as they
run an ``Estimator(entry_point=...)``: hyperparameters JSON-encoded, plus
``sagemaker_program`` and ``sagemaker_submit_directory`` naming the entry point and the
``sourcedir.tar.gz`` on S3 (which the container unpacks to ``/opt/ml/code``, installing
its ``requirements.txt`` first).
"""

from __future__ import annotations

import getpass
import importlib
import json
import re
import socket
import tempfile
import time
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sm_magics import packaging
from sm_magics.backends import base, rows
from sm_magics.backends.sagemaker import cwlogs, images, uploads
from sm_magics.errors import AlreadyExists, BackendUnavailable, InvalidRequest, NotFound
from sm_magics.ledger import JobRecord

if TYPE_CHECKING:
    from sm_magics.backends.sagemaker.aws import AwsSession
    from sm_magics.ledger import Ledger

BACKEND_NAME = "sagemaker"
SAGEMAKER = "sagemaker"
#: Where jobs write ``<job>/output/model.tar.gz``, under the session's bucket.
OUTPUT_PREFIX = "sm-magics/output"
DEFAULT_MAX_RUN = 86_400  # SageMaker's own default: one day
DEFAULT_VOLUME_GB = 30
#: The training toolkit's log level hyperparameter: logging.INFO, as the SDK sends it.
CONTAINER_LOG_LEVEL = 20
#: Tags on every job; ``%sm_cleanup`` finds what this notebook or machine started by them.
TAG_NOTEBOOK = "sm-magics:notebook"
TAG_CREATED_BY = "sm-magics:created-by"
RESERVED_TAG_PREFIX = "sm-magics:"
#: The reserved tags that come from the user's own options (``--experiment``), set by the
#: Session: allowed through, unlike a hand-written ``--tag sm-magics:...``.
USER_SET_TAGS = frozenset({"sm-magics:experiment", "sm-magics:tuning-job"})
# SageMaker's tag value alphabet; anything else (a notebook path's commas, brackets, ...)
# would fail the whole CreateTrainingJob, so it is replaced.
_TAG_VALUE_UNSAFE = re.compile(r"[^\w\s.:/=+\-@]")
_TAG_VALUE_MAX = 256

#: Hyperparameters the SDK adds for ``distribution=`` (read by the framework containers).
_DISTRIBUTION_FLAGS: dict[str, dict[str, bool]] = {
    "torch_distributed": {"sagemaker_torch_distributed_enabled": True},
    "mpi": {"sagemaker_mpi_enabled": True},
}


def _tag_value(text: str) -> str:
    cleaned = _TAG_VALUE_UNSAFE.sub("_", text)
    return cleaned[-_TAG_VALUE_MAX:]  # the end of a long path is the part that tells


def created_by() -> str:
    """Return ``user@host``: who launched a job, for cleanup scoped to this machine."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = "unknown"
    return _tag_value(f"{user}@{socket.gethostname()}")


def _timestamp(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return None


class ImageChoice(Protocol):
    """What a job spec says about its container (training and processing specs alike)."""

    name: str
    image: str | None
    framework: str | None
    framework_version: str | None
    py_version: str | None
    instance_type: str


def resolve_image(spec: ImageChoice, region: str, *, kind: str = "training") -> str:
    """Return the job's image: ``--image``, the framework's image, else the default.

    ``kind`` names the job in the notice (``training``, ``processing``); the framework's
    *training* image is the one its processing jobs run in too, as the SDK's
    ``FrameworkProcessor`` chooses it.

    ``sagemaker.core.image_uris`` is imported here and nowhere else: it costs seconds and
    a large install, and only ``--framework`` needs it. With neither ``--image`` nor
    ``--framework`` the job runs in the SageMaker scikit-learn container
    (:func:`~.images.default_sklearn_image`, from a bundled table: no SDK, no network),
    which is what a notebook written for the local backend most often needs; a notice
    says so and how to choose another.

    Raises
    ------
    InvalidRequest
        Both ``--image`` and ``--framework``, ``--framework`` without a version, a
        framework version the SDK does not know, or no default for the region.
    BackendUnavailable
        ``--framework`` without the optional ``sagemaker`` package installed.
    """
    if spec.image and spec.framework:
        raise InvalidRequest("Give --image or --framework, not both.")
    if spec.image:
        return spec.image
    if not spec.framework:
        image = images.default_sklearn_image(region)
        images.notice(
            f"{kind} job {spec.name} runs in the default container {image} (scikit-learn "
            f"{images.DEFAULT_SKLEARN_VERSION}); choose another with --image URI or "
            "--framework NAME --framework-version VERSION (or %config "
            "SageMakerMagics.image / .framework)."
        )
        return image
    if not spec.framework_version:
        raise InvalidRequest(f"--framework {spec.framework} needs --framework-version.")
    try:
        image_uris = importlib.import_module("sagemaker.core.image_uris")
    except ImportError as exc:
        raise BackendUnavailable(
            f"--framework {spec.framework} needs the SageMaker SDK to find its image: "
            "pip install 'sm-magics[sagemaker]', or pass --image URI instead."
        ) from exc
    try:
        uri = image_uris.retrieve(
            spec.framework,
            region,
            version=spec.framework_version,
            py_version=spec.py_version,
            instance_type=spec.instance_type,
            image_scope="training",
        )
    except ValueError as exc:
        raise InvalidRequest(
            f"No {spec.framework} {spec.framework_version} training image for "
            f"{spec.instance_type} in {region}: {exc}"
        ) from None
    return str(uri)


def encode_hyperparameters(values: dict[str, Any]) -> dict[str, str]:
    r"""Return hyperparameters as the SDK sends them to framework containers.

    ``CreateTrainingJob`` takes a string map; the SDK JSON-encodes every value (``50`` →
    ``"50"``, ``"gini"`` → ``"\"gini\""``) and the container decodes them, so a script's
    ``argparse`` and ``SM_HPS`` see the types the user wrote.
    """
    return {str(key): json.dumps(value) for key, value in values.items()}


class SageMakerTraining:
    """Training methods of :class:`~sm_magics.backends.sagemaker.SageMakerBackend`."""

    aws: AwsSession
    ledger: Ledger
    options: base.BackendOptions
    region: str | None

    # -- create -------------------------------------------------------------------------------

    def create_training_job(self, spec: base.TrainingSpec) -> None:
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
        vpc = self._training_vpc_config()
        with tempfile.TemporaryDirectory(prefix="sm-magics-code-") as tmp:
            code = Path(tmp) / "code"
            source_hash = self._stage_code(spec, code)
            self.ledger.insert_job(
                JobRecord(
                    name=spec.name,
                    backend=BACKEND_NAME,
                    region=region,
                    status=base.IN_PROGRESS,
                    secondary_status=base.STARTING,
                    instance_type=spec.instance_type,
                    instance_count=spec.instance_count,
                    spot=spec.spot,
                    created_at=time.time(),
                    source_hash=source_hash,
                    notebook=spec.notebook,
                    tags=spec.tags,
                    spec={**spec.to_json(), "resolved_image": image},
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

    def prepare_training_request(self, spec: base.TrainingSpec) -> tuple[dict[str, Any], str, str]:
        """Check, stage and upload ``spec``; return ``(request, source hash, image)``.

        The ``CreateTrainingJob`` request a job of this spec would send, everything
        uploaded; what a tuning job's ``TrainingJobDefinition`` is made of, so the two
        paths never build the request twice.
        """
        local_inputs = self._check_training_spec(spec)
        image = resolve_image(spec, self.aws.region)
        vpc = self._training_vpc_config()
        with tempfile.TemporaryDirectory(prefix="sm-magics-code-") as tmp:
            code = Path(tmp) / "code"
            source_hash = self._stage_code(spec, code)
            request = self._upload_and_build(
                spec, code, source_hash, local_inputs, image=image, vpc=vpc
            )
        return request, source_hash, image

    def _stage_code(self, spec: base.TrainingSpec, code: Path) -> str:
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
        spec: base.TrainingSpec,
        code: Path,
        source_hash: str,
        local_inputs: dict[str, Path],
        *,
        image: str,
        vpc: dict[str, list[str]] | None,
    ) -> dict[str, Any]:
        """Upload the code and local channels by content hash; return the request."""
        submit_dir = uploads.upload_source(self.aws, code, source_hash)
        channels = {
            channel: (
                uploads.upload_path(self.aws, local_inputs[channel])
                if channel in local_inputs
                else uri
            )
            for channel, uri in sorted(spec.inputs.items())
        }
        return self.training_job_request(
            spec,
            image=image,
            role=self.aws.role,
            bucket=self.aws.bucket,
            submit_dir=submit_dir,
            channels=channels,
            vpc=vpc,
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
        created = _timestamp(found.get("CreationTime"))
        return (
            found.get("HyperParameters") == request["HyperParameters"]
            and found.get("RoleArn") == request["RoleArn"]
            and created is not None
            and created >= started - 300  # clocks differ; a rerun of ours would be older
        )

    def _check_training_spec(self, spec: base.TrainingSpec) -> dict[str, Path]:
        """Check what AWS would only reject later; return the local inputs to upload."""
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

    def _training_vpc_config(self) -> dict[str, list[str]] | None:
        subnets = list(self.options.subnets)
        groups = list(self.options.security_group_ids)
        if not subnets and not groups:
            return None
        if not subnets or not groups:
            raise InvalidRequest(
                "A VPC needs both subnets and security_group_ids (SageMakerMagics.subnets "
                "and SageMakerMagics.security_group_ids)."
            )
        return {"SecurityGroupIds": groups, "Subnets": subnets}

    def training_job_request(
        self,
        spec: base.TrainingSpec,
        *,
        image: str,
        role: str,
        bucket: str,
        submit_dir: str,
        channels: dict[str, str],
        vpc: dict[str, list[str]] | None = None,
    ) -> dict[str, Any]:
        """Return the ``CreateTrainingJob`` parameters for ``spec``, everything resolved.

        Only what SageMaker understands is sent: the local backend's bookkeeping
        (``notebook``, ``region``, the cell text) stays in the ledger.
        """
        region = self.aws.region
        if spec.driver:
            raise InvalidRequest(
                f"--driver {spec.driver} runs locally only for now: on SageMaker it needs the "
                "SDK v3 ModelTrainer's own driver scripts; use sagemaker.train.ModelTrainer "
                "with the same code, or drop --driver to use the framework container."
            )
        hyperparameters = encode_hyperparameters(spec.hyperparameters)
        hyperparameters.update(
            encode_hyperparameters(
                {
                    "sagemaker_program": spec.entry_point,
                    "sagemaker_submit_directory": submit_dir,
                    "sagemaker_container_log_level": CONTAINER_LOG_LEVEL,
                    "sagemaker_region": region,
                    "sagemaker_job_name": spec.name,
                    # The SDK's distribution=: the framework container starts the launcher.
                    **_DISTRIBUTION_FLAGS.get(spec.distribution or "", {}),
                }
            )
        )
        max_run = spec.max_run or DEFAULT_MAX_RUN
        stopping: dict[str, int] = {"MaxRuntimeInSeconds": max_run}
        if spec.spot:
            # The wait for spot capacity counts against MaxWait too; without --max-wait,
            # allow as long again as the run itself.
            stopping["MaxWaitTimeInSeconds"] = spec.max_wait or 2 * max_run
        algorithm: dict[str, Any] = {"TrainingImage": image, "TrainingInputMode": "File"}
        if spec.metric_definitions:
            algorithm["MetricDefinitions"] = [
                {"Name": name, "Regex": regex} for name, regex in spec.metric_definitions.items()
            ]
        tags = [{"Key": TAG_CREATED_BY, "Value": created_by()}]
        if spec.notebook:
            tags.insert(0, {"Key": TAG_NOTEBOOK, "Value": _tag_value(spec.notebook)})
        tags.extend({"Key": key, "Value": str(value)} for key, value in spec.tags.items())
        request: dict[str, Any] = {
            "TrainingJobName": spec.name,
            "AlgorithmSpecification": algorithm,
            "RoleArn": role,
            "HyperParameters": hyperparameters,
            "InputDataConfig": [
                {
                    "ChannelName": channel,
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": uri,
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
                for channel, uri in channels.items()
            ],
            "OutputDataConfig": {"S3OutputPath": uploads.s3_uri(bucket, OUTPUT_PREFIX)},
            "ResourceConfig": {
                "InstanceType": spec.instance_type,
                "InstanceCount": spec.instance_count,
                "VolumeSizeInGB": DEFAULT_VOLUME_GB,
                # Warm pool: the instances wait this long for the next job of the same shape.
                **({"KeepAlivePeriodInSeconds": spec.keep_alive} if spec.keep_alive else {}),
            },
            "StoppingCondition": stopping,
            "EnableManagedSpotTraining": spec.spot,
            "Tags": tags,
        }
        if not request["InputDataConfig"]:
            del request["InputDataConfig"]
        if spec.checkpoint_uri:
            request["CheckpointConfig"] = {"S3Uri": spec.checkpoint_uri}
        if vpc:
            request["VpcConfig"] = vpc
        if spec.environment:
            request["Environment"] = dict(spec.environment)
        return request

    # -- read -------------------------------------------------------------------------------

    @cached_property
    def _training_status(self) -> dict[str, tuple[str, int, bool]]:
        """``name -> (status, instance count, spot)`` from this process's last describe."""
        return {}

    def describe_training_job(self, name: str) -> dict[str, Any]:
        """See :meth:`Backend.describe_training_job`.

        Returns SageMaker's own response, and brings the job's ledger row up to it (status,
        times, failure reason, model) so listings and cleanup stay right after a restart.
        """
        try:
            description = self.aws.call(SAGEMAKER, "describe_training_job", TrainingJobName=name)
        except NotFound:
            rows.mark_job_deleted(
                self.ledger,
                name,
                backend=BACKEND_NAME,
                region=self.aws.region,
                why=f"SageMaker no longer has it in {self.aws.region}.",
            )
            raise NotFound(
                f"No SageMaker training job named {name!r} in {self.aws.region}."
            ) from None
        description.pop("ResponseMetadata", None)
        status = base.job_status(description)
        _, count = base.job_resources(description)
        self._training_status[name] = (
            status,
            count,
            bool(description.get("EnableManagedSpotTraining")),
        )
        self._sync_training_row(name, description)
        return description

    def _sync_training_row(self, name: str, description: dict[str, Any]) -> None:
        record = self.ledger.get_job(name)
        if record is None or record.backend != BACKEND_NAME:
            return
        artifacts = description.get("ModelArtifacts") or {}
        changes = {
            "metrics": {
                m["MetricName"]: float(m["Value"])
                for m in description.get("FinalMetricDataList") or []
            },
            "status": base.job_status(description),
            "secondary_status": description.get("SecondaryStatus"),
            "started_at": _timestamp(description.get("TrainingStartTime")),
            "ended_at": _timestamp(description.get("TrainingEndTime")),
            "failure_reason": description.get("FailureReason"),
            # Only a completed job's model exists; moto (and the API) name it earlier.
            "model_data": (
                artifacts.get("S3ModelArtifacts")
                if base.job_status(description) == base.COMPLETED
                else None
            ),
        }
        if any(getattr(record, key) != value for key, value in changes.items()):
            self.ledger.update_job(name, **changes)

    def stop_training_job(self, name: str) -> None:
        """See :meth:`Backend.stop_training_job`.

        Idempotent: a job that ended, or is already stopping, is left alone. A job that
        ends between our describe and the stop makes SageMaker answer
        ``ValidationException``; a second describe tells that race from a real error.
        """
        if base.job_status(self.describe_training_job(name)) in (
            *base.TERMINAL_STATUSES,
            base.STOPPING,
        ):
            return
        try:
            self.aws.call(SAGEMAKER, "stop_training_job", TrainingJobName=name)
        except InvalidRequest:
            if base.job_status(self.describe_training_job(name)) in (
                *base.TERMINAL_STATUSES,
                base.STOPPING,
            ):
                return
            raise
        if self.ledger.get_job(name) is not None:
            self.ledger.update_job(name, status=base.STOPPING, secondary_status=base.STOPPING)

    @cached_property
    def training_log_reader(self) -> cwlogs.LogReader:
        """The CloudWatch reader of training logs (replaceable, e.g. with a test clock)."""
        return cwlogs.LogReader(self.aws.client("logs"), group=cwlogs.TRAINING_LOG_GROUP)

    def read_training_logs(self, name: str, cursor: dict[str, Any] | None = None) -> base.LogBatch:
        """See :meth:`Backend.read_training_logs`.

        The instance count (how many streams to wait for) and whether the job has ended
        come from this process's last describe, else the ledger, else one describe. A job
        that has ended is read without pacing, so the follower's final read gets every
        line (see :mod:`.cwlogs`).
        """
        status, count, spot = self._training_log_context(name)
        return self.training_log_reader.read(
            name,
            cursor,
            expected_streams=count,
            finished=status in base.TERMINAL_STATUSES,
            relist_every=cwlogs.SPOT_RELIST_INTERVAL if spot else None,
        )

    def _training_log_context(self, name: str) -> tuple[str, int, bool]:
        known = self._training_status.get(name)
        if known is not None:
            return known
        record = self.ledger.get_job(name)
        if record is not None and record.backend == BACKEND_NAME:
            return record.status, record.instance_count, record.spot
        self.describe_training_job(name)  # a job started elsewhere; NotFound if none
        return self._training_status[name]
