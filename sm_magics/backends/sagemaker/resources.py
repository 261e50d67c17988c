"""SageMaker endpoint resources: names, tags, containers, models, configs, and roll-back.

An endpoint is three kinds of AWS resources: one *model* per variant (image, model data,
handler environment), one *endpoint config* naming the variants, and the *endpoint*.
Names are ``<endpoint>-<variant>-<8 hex>`` and ``<endpoint>-<8 hex>``: the hex part makes
every creation unique (a leftover of an earlier endpoint of the same name never blocks a
new one) and the prefix plus the ``sm-magics:endpoint`` tag tie them to their endpoint, so
deleting an endpoint can find and delete *every* config and model it ever used.

These functions are shared by endpoint creation (:mod:`.serving`), updates
(:mod:`.updates`), batch transform (:mod:`.transform`, which builds its model the same
way) and processing (tags); :class:`~.endpoint_parts.EndpointParts` keeps what is cached
about them and sweeps them away.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sm_magics.backends import statuses
from sm_magics.backends.sagemaker import images, uploads
from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.backends.specs import AsyncInferenceSpec, VariantSpec
from sm_magics.errors import (
    InvalidRequest,
    NotFound,
    SmMagicsError,
)
from sm_magics.ledger import Ledger

if TYPE_CHECKING:  # type stubs only (mypy-boto3-sagemaker): no runtime cost
    from mypy_boto3_sagemaker.type_defs import (
        ContainerDefinitionTypeDef,
        TagTypeDef,
    )

    from sm_magics.backends.descriptions import TrainingJobDescription
    from sm_magics.backends.sagemaker.answers import ModelAnswer

SAGEMAKER = "sagemaker"
RUNTIME = "sagemaker-runtime"
TAG_PREFIX = "sm-magics:"
ENDPOINT_TAG = "sm-magics:endpoint"
ENDPOINT_LOG_GROUP = "/aws/sagemaker/Endpoints"
#: SageMaker's limit on model, config, endpoint and job names.
NAME_MAX = 63
#: What the inference toolkits log at: INFO, as the SageMaker SDK sets it.
CONTAINER_LOG_LEVEL = "20"
#: Serverless memory sizes SageMaker accepts, in MB.
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
DEFAULT_SERVERLESS_CONCURRENCY = 5  # the SageMaker SDK's default
#: SageMaker statuses outside the backend contract, mapped onto it (the raw one is kept in
#: ``SageMakerStatus``): a system update or rollback is an update; an endpoint that cannot
#: serve and will not recover by itself has failed.
STATUS_MAP = {
    "SystemUpdating": statuses.UPDATING,
    "RollingBack": statuses.UPDATING,
    "UpdateRollbackFailed": statuses.FAILED,
    "OutOfService": statuses.FAILED,
}


def nonce() -> str:
    """Return a value that differs on every call, so no two creations share a name."""
    return f"{time.time_ns()}-{os.getpid()}-{threading.get_ident()}"


def resource_name(base_name: str, content: Any = None) -> str:
    """Return ``<base_name>-<8 hex>``, cut to SageMaker's 63 characters.

    The hex is a hash of ``content`` and a :func:`nonce`: unique per creation, so a model
    left over by an earlier endpoint of the same name never collides with a new one.
    """
    digest = hashlib.sha256(
        json.dumps([content, nonce()], sort_keys=True, default=str).encode()
    ).hexdigest()[:8]
    stem = base_name[: NAME_MAX - 9].rstrip("-")
    return f"{stem}-{digest}"


def config_name_pattern(endpoint: str) -> re.Pattern[str]:
    """Return the pattern of the endpoint config names :func:`resource_name` gives ``endpoint``."""
    stem = endpoint[: NAME_MAX - 9].rstrip("-")
    return re.compile(rf"^{re.escape(stem)}-[0-9a-f]{{8}}$")


# -- tags --------------------------------------------------------------------------------

_TAG_UNSAFE = re.compile(r"[^\w\s.:/=+\-@]")


def tag_list(
    ours: Mapping[str, str], user: Mapping[str, str], notebook: str | None = None
) -> list[TagTypeDef]:
    """Return AWS tags: ``sm-magics:*`` ones (for cleanup and the side panel) and the user's.

    A notebook path may hold characters tags refuse, and may be longer than 256; it is
    made safe and keeps its end, the part that names the notebook.
    """
    tags = dict(ours)
    if notebook:
        tags[f"{TAG_PREFIX}notebook"] = _TAG_UNSAFE.sub("_", notebook)[-256:]
    tags.update(user)
    return [{"Key": key, "Value": str(value)} for key, value in tags.items()]


# -- S3 ----------------------------------------------------------------------------------


def upload_entry_point(aws: AwsSession, script: Path) -> tuple[str, str]:
    """Upload ``--entry-point`` as a ``sourcedir.tar.gz`` of its own; return (program, URI).

    The framework containers download ``SAGEMAKER_SUBMIT_DIRECTORY`` and import
    ``SAGEMAKER_PROGRAM`` from it, exactly as for a training job's code; the archive is
    stored by content hash (:mod:`.uploads`), so an unchanged script is uploaded once.
    """
    script = script.expanduser()
    if not script.is_file():
        raise InvalidRequest(f"--entry-point {script} does not exist.")
    with tempfile.TemporaryDirectory(prefix="sm-magics-entry-") as tmp:
        folder = Path(tmp)
        shutil.copyfile(script, folder / script.name)
        return script.name, uploads.upload_source(aws, folder)


def model_data_uri(aws: AwsSession, uri: str) -> str:
    """Return an S3 URI for ``uri``: as it is, or a local ``model.tar.gz`` uploaded once."""
    if uri.startswith(("s3://", "https://")):
        return uri
    path = uploads.local_path(uri)
    if path is None or not path.is_file():
        raise InvalidRequest(f"Model {uri}: no such file (a model.tar.gz or an s3:// URI).")
    return uploads.upload_file(aws, path)


# -- models ------------------------------------------------------------------------------


def _hyperparameter(value: Any) -> str:
    """Decode one JSON-encoded hyperparameter, as the SageMaker SDK encodes them."""
    try:
        decoded = json.loads(value)
    except (TypeError, ValueError):
        return str(value)
    return decoded if isinstance(decoded, str) else str(value)


def describe_training_job(
    aws: AwsSession, job: str, cache: dict[str, TrainingJobDescription] | None = None
) -> TrainingJobDescription:
    """Return ``DescribeTrainingJob`` of the job a model came from (memoised in ``cache``)."""
    if cache is not None and job in cache:
        return cache[job]
    try:
        description: TrainingJobDescription = aws.sagemaker.describe_training_job(
            TrainingJobName=job
        )
    except NotFound:
        raise InvalidRequest(
            f"Training job {job} is not on SageMaker in {aws.region}: nothing to serve."
        ) from None
    if cache is not None:
        cache[job] = description
    return description


def build_container(
    aws: AwsSession,
    ledger: Ledger,
    variant: VariantSpec,
    cache: dict[str, TrainingJobDescription] | None = None,
) -> ContainerDefinitionTypeDef:
    """Return the ``PrimaryContainer`` that serves ``variant``: image, model data, handlers.

    The handlers come from ``--entry-point`` (uploaded), else from the training job's own
    code (its ``sagemaker_program`` / ``sagemaker_submit_directory`` hyperparameters: the
    cell that trained the model also defines ``model_fn`` ...), else from ``code/`` inside
    ``model.tar.gz``, where the inference toolkits look by themselves.
    """
    job: TrainingJobDescription = (
        describe_training_job(aws, variant.job, cache) if variant.job else {}
    )
    hyperparameters = job.get("HyperParameters") or {}
    environment: dict[str, str] = {}
    if variant.entry_point is not None:
        program, submit = upload_entry_point(aws, variant.entry_point)
        environment.update(SAGEMAKER_PROGRAM=program, SAGEMAKER_SUBMIT_DIRECTORY=submit)
    elif "sagemaker_program" in hyperparameters:
        environment["SAGEMAKER_PROGRAM"] = _hyperparameter(hyperparameters["sagemaker_program"])
        if "sagemaker_submit_directory" in hyperparameters:
            environment["SAGEMAKER_SUBMIT_DIRECTORY"] = _hyperparameter(
                hyperparameters["sagemaker_submit_directory"]
            )
    environment.update(
        SAGEMAKER_CONTAINER_LOG_LEVEL=CONTAINER_LOG_LEVEL, SAGEMAKER_REGION=aws.region
    )
    environment.update(images.container_environment(variant.environment))
    artifacts = job.get("ModelArtifacts")
    uri = variant.model_data or (artifacts["S3ModelArtifacts"] if artifacts else None)
    if not uri:
        raise InvalidRequest(f"Variant {variant.name}: no model to serve.")
    record = ledger.get_job(variant.job) if variant.job else None
    image = images.resolve(
        region=aws.region,
        instance_type=None if variant.serverless_memory_mb else variant.instance_type,
        environment=variant.environment,
        training_image=(job.get("AlgorithmSpecification") or {}).get("TrainingImage"),
        job_spec=record.spec if record is not None else None,
    )
    return {"Image": image, "ModelDataUrl": model_data_uri(aws, uri), "Environment": environment}


def same_container(model: ModelAnswer, container: ContainerDefinitionTypeDef) -> bool:
    """Whether a ``DescribeModel`` answer runs exactly ``container`` (so it can be reused)."""
    current = model.get("PrimaryContainer") or {}
    return bool(
        current.get("Image") == container["Image"]
        and current.get("ModelDataUrl") == container["ModelDataUrl"]
        and (current.get("Environment") or {}) == container["Environment"]
    )


def create_model(
    aws: AwsSession, name: str, container: ContainerDefinitionTypeDef, tags: list[TagTypeDef]
) -> None:
    """``CreateModel`` with the session's execution role."""
    aws.call(
        SAGEMAKER,
        "create_model",
        ModelName=name,
        PrimaryContainer=container,
        ExecutionRoleArn=aws.role,
        Tags=tags,
    )


def delete_quietly(aws: AwsSession, operation: str, **params: Any) -> str | None:
    """Call a ``Delete*`` operation; ``None`` if the thing is gone, else what went wrong.

    A missing resource is success (deleting is idempotent); any other failure is returned
    as text so that a clean-up can go on with the rest and report everything at the end.
    """
    try:
        aws.call(SAGEMAKER, operation, **params)
    except NotFound:
        return None
    except SmMagicsError as exc:
        what = " ".join(f"{v}" for v in params.values())
        return f"{what} ({exc})"
    return None


def undo(aws: AwsSession, created: list[tuple[str, dict[str, Any]]]) -> str:
    """Delete what a failed creation made, newest first; return a sentence saying so."""
    done: list[str] = []
    problems: list[str] = []
    for operation, params in reversed(created):
        problem = delete_quietly(aws, operation, **params)
        if problem is None:
            done.append(next(iter(params.values())))
        else:
            problems.append(problem)
    text = f"Rolled back: deleted {', '.join(done)}." if done else "Nothing was created."
    if problems:
        text += (
            f" Left behind, delete in the SageMaker console (they do not bill): "
            f"{'; '.join(problems)}"
        )
    return text


def with_note(exc: BaseException, headline: str, note: str, step: str = "") -> BaseException:
    """Return ``exc`` as "<headline> (<step>): <why> <note>", of the same class if possible.

    The translated AWS message already names the API that refused; the headline says what
    did not happen, ``step`` which part was being made, and ``note`` what was undone.
    """
    if not isinstance(exc, SmMagicsError):
        return exc
    where = f" ({step})" if step else ""
    message = f"{headline}{where}: {exc} {note}"
    try:
        return type(exc)(message)
    except TypeError:
        return InvalidRequest(message)


# -- the mixin ---------------------------------------------------------------------------


def validate_variants(variants: list[VariantSpec]) -> None:
    """Refuse variants SageMaker would refuse, before anything is created."""
    names = [v.name for v in variants]
    if not variants:
        raise InvalidRequest("An endpoint needs at least one variant.")
    if len(set(names)) != len(names):
        raise InvalidRequest(f"Variant names must be unique: {names}.")
    for variant in variants:
        if variant.weight < 0:
            raise InvalidRequest(f"Variant {variant.name}: weights must be 0 or more.")
        if variant.serverless_memory_mb is not None:
            if variant.serverless_memory_mb not in SERVERLESS_MEMORY_MB:
                raise InvalidRequest(
                    f"--serverless {variant.serverless_memory_mb}: SageMaker takes "
                    f"{', '.join(map(str, SERVERLESS_MEMORY_MB))} MB."
                )
            if variant.max_concurrency is not None and not 1 <= variant.max_concurrency <= 200:
                raise InvalidRequest("--max-concurrency must be between 1 and 200.")
        elif variant.instance_count < 1:
            raise InvalidRequest("--instance-count must be at least 1.")


def async_inference_config(spec: AsyncInferenceSpec | None) -> dict[str, Any]:
    """Return ``{"AsyncInferenceConfig": ...}`` for ``CreateEndpointConfig``, or ``{}``.

    Output and failure locations must be ``s3://`` URIs: SageMaker writes there.
    """
    if spec is None:
        return {}
    for uri in (spec.output_uri, spec.failure_uri):
        if uri is not None and not uri.startswith("s3://"):
            raise InvalidRequest(
                f"Asynchronous answers go to S3 on SageMaker: {uri} is not an s3:// URI."
            )
        if uri is not None:
            uploads.parse_s3_uri(uri)  # InvalidRequest without a bucket
    output: dict[str, Any] = {"S3OutputPath": spec.output_uri}
    if spec.failure_uri:
        output["S3FailurePath"] = spec.failure_uri
    config: dict[str, Any] = {"OutputConfig": output}
    if spec.max_concurrency is not None:
        if not 1 <= spec.max_concurrency <= 1000:
            raise InvalidRequest("--async-max-concurrency must be between 1 and 1000.")
        config["ClientConfig"] = {"MaxConcurrentInvocationsPerInstance": spec.max_concurrency}
    return {"AsyncInferenceConfig": config}


def production_variant(variant: VariantSpec, model: str) -> dict[str, Any]:
    """Return the ``ProductionVariants`` entry of ``variant`` served by ``model``."""
    entry: dict[str, Any] = {  # not the stubs' TypedDict: it lists instance types
        "VariantName": variant.name,
        "ModelName": model,
        "InitialVariantWeight": float(variant.weight),
    }
    if variant.serverless_memory_mb is not None:
        entry["ServerlessConfig"] = {
            "MemorySizeInMB": variant.serverless_memory_mb,
            "MaxConcurrency": variant.max_concurrency or DEFAULT_SERVERLESS_CONCURRENCY,
        }
    else:
        entry["InstanceType"] = variant.instance_type
        entry["InitialInstanceCount"] = variant.instance_count
    return entry
