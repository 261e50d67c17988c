"""The ``CreateTrainingJob`` request: image, hyperparameters, tags, VPC, all resolved.

Shared by training jobs (:mod:`.training`), tuning jobs (whose ``TrainingJobDefinition`` is
this request, :mod:`.tuning`) and processing jobs (image, tags and VPC): one place that
says what SageMaker is sent for a spec, built without any AWS call so it can be tested as
data.

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
from typing import Any, Protocol

from sm_magics.backends.options import BackendOptions
from sm_magics.backends.sagemaker import images, modeltrainer, uploads
from sm_magics.backends.specs import TrainingSpec
from sm_magics.errors import BackendUnavailable, InvalidRequest

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


def vpc_config(options: BackendOptions) -> dict[str, list[str]] | None:
    """Return the jobs' ``VpcConfig`` from the backend options, or ``None`` (no VPC).

    Raises
    ------
    InvalidRequest
        Subnets without security groups, or the other way round.
    """
    subnets = list(options.subnets)
    groups = list(options.security_group_ids)
    if not subnets and not groups:
        return None
    if not subnets or not groups:
        raise InvalidRequest(
            "A VPC needs both subnets and security_group_ids (SageMakerMagics.subnets "
            "and SageMakerMagics.security_group_ids)."
        )
    return {"SecurityGroupIds": groups, "Subnets": subnets}


def training_job_request(
    spec: TrainingSpec,
    *,
    region: str,
    image: str,
    role: str,
    bucket: str,
    submit_dir: str,
    channels: dict[str, str],
    vpc: dict[str, list[str]] | None = None,
    driver_channels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Return the ``CreateTrainingJob`` parameters for ``spec``, everything resolved.

    Only what SageMaker understands is sent: the local backend's bookkeeping
    (``notebook``, ``region``, the cell text) stays in the ledger. ``driver_channels``
    (``code``, ``sm_drivers``: ``--driver modeltrainer``) come after the user's channels.
    """
    if spec.driver == modeltrainer.MODELTRAINER:
        # The SDK v3 ModelTrainer's request: its driver, not the image's toolkit, runs
        # the script, so no sagemaker_* hyperparameters (see .modeltrainer).
        modeltrainer.check(spec)
        hyperparameters = modeltrainer.hyperparameters(spec)
    elif spec.driver:
        raise InvalidRequest(f"Unknown --driver {spec.driver!r}: the choice is modeltrainer.")
    else:
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
    if spec.driver == modeltrainer.MODELTRAINER:
        algorithm.update(modeltrainer.algorithm_extras())
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
        ]
        + [modeltrainer.channel(name, uri) for name, uri in (driver_channels or {}).items()],
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


__all__ = [
    "OUTPUT_PREFIX",
    "RESERVED_TAG_PREFIX",
    "TAG_CREATED_BY",
    "USER_SET_TAGS",
    "created_by",
    "encode_hyperparameters",
    "resolve_image",
    "training_job_request",
    "vpc_config",
]
