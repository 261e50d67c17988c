"""Endpoints on SageMaker: model, endpoint config, endpoint; variants; invoke; delete.

An endpoint is three kinds of AWS resources: one *model* per variant (image, model data,
handler environment), one *endpoint config* naming the variants, and the *endpoint*.
Names are ``<endpoint>-<variant>-<8 hex>`` and ``<endpoint>-<8 hex>``: the hex part makes
every creation unique (a leftover of an earlier endpoint of the same name never blocks a
new one) and the prefix plus the ``sm-magics:endpoint`` tag tie them to their endpoint, so
deleting an endpoint can find and delete *every* config and model it ever used, even after
a kernel restart that forgot an update in flight.

Updates come in two kinds, as SageMaker has them: new weights or instance counts of the
same models are ``UpdateEndpointWeightsAndCapacities`` (in place, seconds); anything else
(a new or changed model, an added or removed variant, another instance type) is a new
config and ``UpdateEndpoint``, which SageMaker runs blue/green: the new fleet is up and
healthy before traffic moves, and a failed update leaves the old fleet serving. The old
config and its models are deleted when a later ``describe`` sees the endpoint
``InService`` again (or, at the latest, by ``delete``).

The helpers at module level (containers, names, tags, roll-back) are shared with
:mod:`.transform`, which builds its model the same way; S3 uploads by content hash are
:mod:`.uploads`' and CloudWatch reading is :mod:`.cwlogs`', both shared with training.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sm_magics.backends import base, rows
from sm_magics.backends.sagemaker import autoscaling, cwlogs, images, schedules, uploads
from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.backends.sagemaker.errors import translate
from sm_magics.durations import format_duration
from sm_magics.errors import (
    AccessDenied,
    AlreadyExists,
    InvalidRequest,
    ModelError,
    NotFound,
    SmMagicsError,
)
from sm_magics.ledger import EndpointRecord, Ledger

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
    "SystemUpdating": base.UPDATING,
    "RollingBack": base.UPDATING,
    "UpdateRollbackFailed": base.FAILED,
    "OutOfService": base.FAILED,
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
) -> list[dict[str, str]]:
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
    aws: AwsSession, job: str, cache: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Return ``DescribeTrainingJob`` of the job a model came from (memoised in ``cache``)."""
    if cache is not None and job in cache:
        return cache[job]
    try:
        description = aws.call(SAGEMAKER, "describe_training_job", TrainingJobName=job)
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
    variant: base.VariantSpec,
    cache: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return the ``PrimaryContainer`` that serves ``variant``: image, model data, handlers.

    The handlers come from ``--entry-point`` (uploaded), else from the training job's own
    code (its ``sagemaker_program`` / ``sagemaker_submit_directory`` hyperparameters: the
    cell that trained the model also defines ``model_fn`` ...), else from ``code/`` inside
    ``model.tar.gz``, where the inference toolkits look by themselves.
    """
    job = describe_training_job(aws, variant.job, cache) if variant.job else {}
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
    uri = variant.model_data or (job.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
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


def same_container(model: Mapping[str, Any], container: Mapping[str, Any]) -> bool:
    """Whether a ``DescribeModel`` answer runs exactly ``container`` (so it can be reused)."""
    current = model.get("PrimaryContainer") or {}
    return bool(
        current.get("Image") == container["Image"]
        and current.get("ModelDataUrl") == container["ModelDataUrl"]
        and (current.get("Environment") or {}) == container["Environment"]
    )


def create_model(
    aws: AwsSession, name: str, container: dict[str, Any], tags: list[dict[str, str]]
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


@dataclass
class _PendingUpdate:
    """A blue/green update this process started: what to clean or restore once it ends."""

    new_config: str
    old_config: str
    restore_scaling: list[autoscaling.ScalingSetting] = field(default_factory=list)


@dataclass
class _ServingState:
    """Per-backend memory: immutable descriptions (cached) and updates in flight."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, _PendingUpdate] = field(default_factory=dict)


_STATE_LOCK = threading.Lock()


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def _validate_variants(variants: list[base.VariantSpec]) -> None:
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


def async_inference_config(spec: base.AsyncInferenceSpec | None) -> dict[str, Any]:
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


def production_variant(variant: base.VariantSpec, model: str) -> dict[str, Any]:
    """Return the ``ProductionVariants`` entry of ``variant`` served by ``model``."""
    entry: dict[str, Any] = {
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


class SageMakerServing:
    """Endpoint methods of :class:`~sm_magics.backends.sagemaker.SageMakerBackend`."""

    aws: AwsSession
    ledger: Ledger

    # -- small helpers ----------------------------------------------------------------------

    def _serving_state(self) -> _ServingState:
        state = self.__dict__.get("_sm_serving_state")
        if state is None:
            with _STATE_LOCK:
                state = self.__dict__.setdefault("_sm_serving_state", _ServingState())
        assert isinstance(state, _ServingState)
        return state

    def _endpoint_config(self, name: str) -> dict[str, Any]:
        """``DescribeEndpointConfig``, cached: a config never changes once created."""
        state = self._serving_state()
        if name not in state.configs:
            state.configs[name] = self.aws.call(
                SAGEMAKER, "describe_endpoint_config", EndpointConfigName=name
            )
        return state.configs[name]

    def _model(self, name: str) -> dict[str, Any]:
        """``DescribeModel``, cached (models are immutable); ``{}`` when it is gone."""
        state = self._serving_state()
        if name not in state.models:
            try:
                state.models[name] = self.aws.call(SAGEMAKER, "describe_model", ModelName=name)
            except NotFound:
                return {}
        return state.models[name]

    def _runtime_url(self) -> str:
        """Return the Runtime base URL (a boto3 ``sagemaker-runtime`` ``endpoint_url``)."""
        return str(self.aws.client(RUNTIME).meta.endpoint_url)

    def _raw_endpoint(self, name: str) -> dict[str, Any] | None:
        try:
            return self.aws.call(SAGEMAKER, "describe_endpoint", EndpointName=name)
        except NotFound:
            return None

    # -- create -----------------------------------------------------------------------------

    def create_endpoint(self, spec: base.EndpointSpec) -> None:
        """See :meth:`Backend.create_endpoint`.

        The ledger row is written first: it reserves the name on this machine and makes
        the endpoint visible to cleanup from the first AWS call on. Each resource made is
        remembered, so a failure at any step deletes them again, newest first, and removes
        the row; the error says what failed and what was rolled back.
        """
        _validate_variants(spec.variants)
        now = time.time()
        self.ledger.insert_endpoint(
            rows.endpoint_record(spec, backend="sagemaker", region=self.aws.region, now=now)
        )
        ours = {ENDPOINT_TAG: spec.name}
        if spec.ttl:
            ttl_at = datetime.fromtimestamp(now + spec.ttl, tz=timezone.utc)
            ours[f"{TAG_PREFIX}ttl-at"] = ttl_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        tags = tag_list(ours, spec.tags, spec.notebook)
        created: list[tuple[str, dict[str, Any]]] = []
        step = ""
        scheduled = False
        try:
            if self._raw_endpoint(spec.name) is not None:
                raise AlreadyExists(
                    f"An endpoint named {spec.name} already exists on SageMaker in "
                    f"{self.aws.region} (not started from this machine); delete it there "
                    "or pick another name."
                )
            cache: dict[str, dict[str, Any]] = {}
            entries = []
            for variant in spec.variants:
                step = f"variant {variant.name}"
                container = build_container(self.aws, self.ledger, variant, cache)
                model = resource_name(f"{spec.name}-{variant.name}", container)
                create_model(self.aws, model, container, tags)
                created.append(("delete_model", {"ModelName": model}))
                entries.append(production_variant(variant, model))
            config = resource_name(spec.name, entries)
            step = ""
            self.aws.call(
                SAGEMAKER,
                "create_endpoint_config",
                EndpointConfigName=config,
                ProductionVariants=entries,
                Tags=tags,
                **async_inference_config(spec.async_inference),
            )
            created.append(("delete_endpoint_config", {"EndpointConfigName": config}))
            if spec.ttl:
                # Before the endpoint: an endpoint never exists without its deadline.
                step = "TTL schedule"
                schedules.create_ttl_schedule(self.aws, spec.name, now + spec.ttl)
                scheduled = True
                step = ""
            self.aws.call(
                SAGEMAKER,
                "create_endpoint",
                EndpointName=spec.name,
                EndpointConfigName=config,
                Tags=tags,
            )
        except BaseException as exc:
            note = undo(self.aws, created)
            if scheduled:
                problem = schedules.delete_ttl_schedule(self.aws, spec.name)
                note += f" Left behind: {problem}." if problem else " Deleted its TTL schedule."
            self.ledger.delete_endpoint_row(spec.name)
            error = with_note(exc, f"Endpoint {spec.name} was not created", note, step)
            if error is exc:
                raise
            raise error from exc
        self.ledger.update_endpoint(spec.name, url=self._runtime_url())

    # -- update -----------------------------------------------------------------------------

    def update_endpoint(self, name: str, variants: list[base.VariantSpec]) -> None:
        """See :meth:`Backend.update_endpoint`.

        Weights and instance counts of the very same models (same image, model data and
        environment, same instance type) change in place; anything else is blue/green
        through a new endpoint config, reusing the models of unchanged variants.
        """
        _validate_variants(variants)
        endpoint = self._raw_endpoint(name)
        if endpoint is None:
            raise NotFound(f"No SageMaker endpoint named {name!r} in {self.aws.region}.")
        status = endpoint["EndpointStatus"]
        if status != base.IN_SERVICE:
            raise InvalidRequest(f"Endpoint {name} is {status}; it can be updated once InService.")
        self._finish_update(name, endpoint)  # the previous update's clean-up, if still due
        old_config = str(endpoint["EndpointConfigName"])
        current = {
            v["VariantName"]: v for v in self._endpoint_config(old_config)["ProductionVariants"]
        }
        cache: dict[str, dict[str, Any]] = {}
        containers = {v.name: build_container(self.aws, self.ledger, v, cache) for v in variants}
        reused: dict[str, str] = {}
        for variant in variants:
            old = current.get(variant.name)
            if old is not None and same_container(
                self._model(old["ModelName"]), containers[variant.name]
            ):
                reused[variant.name] = old["ModelName"]
        in_place = set(current) == {v.name for v in variants} and all(
            v.name in reused and self._same_resources(current[v.name], v) for v in variants
        )
        if in_place:
            self._update_weights(name, variants)
        else:
            self._update_blue_green(name, variants, old_config, current, containers, reused)
        rows.record_update(self.ledger, name, variants, status=base.UPDATING)

    @staticmethod
    def _same_resources(old: Mapping[str, Any], variant: base.VariantSpec) -> bool:
        """Whether a config's variant runs on what ``variant`` asks (type, serverless)."""
        wanted = production_variant(variant, "")
        return old.get("ServerlessConfig") == wanted.get("ServerlessConfig") and old.get(
            "InstanceType"
        ) == wanted.get("InstanceType")

    def _update_weights(self, name: str, variants: list[base.VariantSpec]) -> None:
        desired = []
        for variant in variants:
            entry: dict[str, Any] = {
                "VariantName": variant.name,
                "DesiredWeight": float(variant.weight),
            }
            if variant.serverless_memory_mb is None:
                entry["DesiredInstanceCount"] = variant.instance_count
            desired.append(entry)
        try:
            self.aws.call(
                SAGEMAKER,
                "update_endpoint_weights_and_capacities",
                EndpointName=name,
                DesiredWeightsAndCapacities=desired,
            )
        except SmMagicsError as exc:
            raise with_note(exc, f"Endpoint {name} was not updated", "It is unchanged.") from exc

    def _update_blue_green(
        self,
        name: str,
        variants: list[base.VariantSpec],
        old_config: str,
        current: Mapping[str, Mapping[str, Any]],
        containers: Mapping[str, dict[str, Any]],
        reused: Mapping[str, str],
    ) -> None:
        record = self.ledger.get_endpoint(name)
        tags = tag_list(
            {ENDPOINT_TAG: name},
            record.tags if record else {},
            record.notebook if record else None,
        )
        created: list[tuple[str, dict[str, Any]]] = []
        deregistered: list[autoscaling.ScalingSetting] = []
        step = ""
        try:
            entries = []
            for variant in variants:
                model = reused.get(variant.name)
                if model is None:
                    container = containers[variant.name]
                    model = resource_name(f"{name}-{variant.name}", container)
                    step = f"variant {variant.name}"
                    create_model(self.aws, model, container, tags)
                    created.append(("delete_model", {"ModelName": model}))
                entries.append(production_variant(variant, model))
            new_config = resource_name(name, entries)
            step = ""
            self.aws.call(
                SAGEMAKER,
                "create_endpoint_config",
                EndpointConfigName=new_config,
                ProductionVariants=entries,
                Tags=tags,
            )
            created.append(("delete_endpoint_config", {"EndpointConfigName": new_config}))
            # SageMaker refuses an update that removes an autoscaled variant or changes its
            # instance type: deregister those first, and restore them once InService.
            new_types = {e["VariantName"]: e.get("InstanceType") for e in entries}
            blocking = [
                v
                for v, old in current.items()
                if v not in new_types or old.get("InstanceType") != new_types[v]
            ]
            if blocking:
                step = "suspending autoscaling"
                deregistered = autoscaling.suspend(self.aws, name, blocking)
            step = ""
            self.aws.call(
                SAGEMAKER, "update_endpoint", EndpointName=name, EndpointConfigName=new_config
            )
        except BaseException as exc:
            note = undo(self.aws, created)
            if deregistered:
                lost = autoscaling.restore(self.aws, name, deregistered)
                note += (
                    f" Could not restore {'; '.join(lost)}."
                    if lost
                    else " Autoscaling was restored."
                )
            note += " The endpoint keeps serving as before."
            error = with_note(exc, f"Endpoint {name} was not updated", note, step)
            if error is exc:
                raise
            raise error from exc
        restore = [s for s in deregistered if s.variant in {v.name for v in variants}]
        with self._serving_state().lock:
            self._serving_state().pending[name] = _PendingUpdate(new_config, old_config, restore)

    def _finish_update(self, name: str, endpoint: Mapping[str, Any]) -> None:
        """Clean up after a blue/green update this process started, once InService.

        Whichever config serves now (the new one, or the old one after SageMaker rolled a
        failed update back) is kept; the other one and its models go.
        """
        state = self._serving_state()
        with state.lock:
            pending = state.pending.pop(name, None)
        if pending is None:
            return
        serving = str(endpoint.get("EndpointConfigName"))
        _, problems = self._sweep(
            name, keep=serving, known=[pending.new_config, pending.old_config]
        )
        if serving == pending.new_config and pending.restore_scaling:
            problems += autoscaling.restore(self.aws, name, pending.restore_scaling)
        if problems:
            print(
                f"sm-magics: endpoint {name} updated; some clean-up failed: {'; '.join(problems)}",
                file=sys.stderr,
            )

    # -- describe ---------------------------------------------------------------------------

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        """See :meth:`Backend.describe_endpoint`.

        ``DescribeEndpoint`` has the live weights and counts; the config (cached, it never
        changes) has instance types and models. While an update runs, "desired" means the
        pending config's. The ledger row follows, written only when something changed.
        """
        endpoint = self._raw_endpoint(name)
        if endpoint is None:
            record = self.ledger.get_endpoint(name)
            if (
                record is not None
                and record.is_live
                and record.backend == "sagemaker"
                and record.region in (None, self.aws.region)
            ):
                self._vanished(record)
            raise NotFound(
                f"No SageMaker endpoint named {name!r} in {self.aws.region}; %sm_endpoints "
                "lists them."
            )
        raw_status = str(endpoint["EndpointStatus"])
        status = STATUS_MAP.get(raw_status, raw_status)
        pending = endpoint.get("PendingDeploymentSummary") or {}
        desired_name = pending.get("EndpointConfigName") or endpoint.get("EndpointConfigName")
        desired: dict[str, Any] = {}
        if desired_name:
            try:
                desired = self._endpoint_config(str(desired_name))
            except NotFound:
                desired = {}
        live = {v["VariantName"]: v for v in endpoint.get("ProductionVariants", [])}
        wanted = {v["VariantName"]: v for v in desired.get("ProductionVariants", [])}
        variants = []
        for variant_name in dict.fromkeys([*live, *wanted]):
            now_ = live.get(variant_name, {})
            want = wanted.get(variant_name)
            if want is None:
                desired_weight, desired_count = 0.0, 0
            elif pending:
                desired_weight = want.get("InitialVariantWeight", 1.0)
                desired_count = want.get("InitialInstanceCount", 0)
            else:
                desired_weight = now_.get("DesiredWeight", want.get("InitialVariantWeight", 1.0))
                desired_count = now_.get(
                    "DesiredInstanceCount", want.get("InitialInstanceCount", 0)
                )
            entry: dict[str, Any] = {
                "VariantName": variant_name,
                "CurrentWeight": now_.get("CurrentWeight", 0.0),
                "DesiredWeight": desired_weight,
                "CurrentInstanceCount": now_.get("CurrentInstanceCount", 0),
                "DesiredInstanceCount": desired_count,
                "InstanceType": (want or {}).get("InstanceType"),
            }
            if want is not None:
                entry["ModelName"] = want["ModelName"]
                container = self._model(want["ModelName"]).get("PrimaryContainer") or {}
                entry["ModelDataUrl"] = container.get("ModelDataUrl")
                if want.get("ServerlessConfig"):
                    entry["ServerlessConfig"] = want["ServerlessConfig"]
            variants.append(entry)
        record = self.ledger.get_endpoint(name)
        description: dict[str, Any] = {
            "EndpointName": endpoint["EndpointName"],
            "EndpointArn": endpoint["EndpointArn"],
            "EndpointConfigName": endpoint.get("EndpointConfigName"),
            "EndpointStatus": status,
            "ProductionVariants": variants,
            "CreationTime": endpoint.get("CreationTime"),
            "LastModifiedTime": endpoint.get("LastModifiedTime"),
            "Url": self._runtime_url(),
            "TtlAt": (
                datetime.fromtimestamp(record.ttl_at, tz=timezone.utc)
                if record is not None and record.ttl_at
                else None
            ),
        }
        if raw_status != status:
            description["SageMakerStatus"] = raw_status
        reason = endpoint.get("FailureReason")
        if reason and status == base.IN_SERVICE:
            description["LastUpdateError"] = reason  # an update failed and was rolled back
        elif reason:
            description["FailureReason"] = reason
        if status == base.IN_SERVICE:
            self._finish_update(name, endpoint)
        if record is not None and record.is_live and record.backend == "sagemaker":
            self._sync_ledger(record, description)
        return description

    def _vanished(self, record: EndpointRecord) -> None:
        """Record an endpoint AWS no longer has as deleted, saying why when it was the TTL.

        Past its TTL, the schedule deleted it (:mod:`.schedules`), which leaves its
        configs and models: they do not bill, and are swept here, the first time
        sm-magics sees the endpoint gone.
        """
        reason = None
        if record.ttl_at and time.time() >= record.ttl_at:
            # The row's ttl is in seconds (the backend wrote it); an older row may hold
            # what the user typed, so the duration is taken from the row's own times.
            reason = f"TTL expired ({format_duration(round(record.ttl_at - record.created_at))})"
            _, problems = self._sweep(record.name, keep=None)
            if problems:
                print(
                    f"sm-magics: endpoint {record.name} was deleted at its TTL; some of its "
                    f"parts are left: {'; '.join(problems)}",
                    file=sys.stderr,
                )
        rows.mark_endpoint_deleted(
            self.ledger, record.name, backend="sagemaker", region=self.aws.region, reason=reason
        )

    def _sync_ledger(self, record: EndpointRecord, description: Mapping[str, Any]) -> None:
        changes: dict[str, Any] = {}
        summary = [
            {
                "VariantName": v["VariantName"],
                "CurrentWeight": v["CurrentWeight"],
                "InstanceType": v["InstanceType"],
                "DesiredInstanceCount": v["DesiredInstanceCount"],
            }
            for v in description["ProductionVariants"]
        ]
        wanted = {
            "status": description["EndpointStatus"],
            "url": description["Url"],
            "failure_reason": description.get("FailureReason"),
            "variants": summary,
        }
        for column, value in wanted.items():
            if getattr(record, column) != value:
                changes[column] = value
        if changes:
            self.ledger.update_endpoint(record.name, **changes)

    # -- delete -----------------------------------------------------------------------------

    def _owned_configs(self, name: str) -> list[str]:
        """Every endpoint config made for endpoint ``name``: by its name, then by its tag.

        The name pattern narrows the listing; the ``sm-magics:endpoint`` tag proves it is
        ours (a cut long name could match another endpoint's). Listing needs
        ``sagemaker:ListEndpointConfigs`` and ``sagemaker:ListTags``; without them only the
        configs known otherwise are cleaned.
        """
        pattern = config_name_pattern(name)
        stem = name[: NAME_MAX - 9].rstrip("-")
        found: list[str] = []
        params: dict[str, Any] = {"NameContains": stem, "MaxResults": 100}
        try:
            while True:
                page = self.aws.call(SAGEMAKER, "list_endpoint_configs", **params)
                for summary in page.get("EndpointConfigs", []):
                    if not pattern.match(summary["EndpointConfigName"]):
                        continue
                    tags = self.aws.call(
                        SAGEMAKER, "list_tags", ResourceArn=summary["EndpointConfigArn"]
                    ).get("Tags", [])
                    if {"Key": ENDPOINT_TAG, "Value": name} in tags:
                        found.append(summary["EndpointConfigName"])
                if not page.get("NextToken"):
                    break
                params["NextToken"] = page["NextToken"]
        except (AccessDenied, NotFound):
            pass
        return found

    def _sweep(
        self, name: str, *, keep: str | None, known: Iterable[str] = ()
    ) -> tuple[list[str], list[str]]:
        """Delete ``name``'s endpoint configs other than ``keep``, and their models not in it.

        ``known`` are configs certainly ours; the others are found by :meth:`_owned_configs`.
        A config is deleted only after all its models are, so a model that could not be
        deleted stays findable through its config by the next sweep. Returns the configs
        handled (deleted or already gone) and the problems met.
        """
        keep_models: set[str] = set()
        if keep:
            try:
                keep_models = {
                    v["ModelName"] for v in self._endpoint_config(keep)["ProductionVariants"]
                }
            except NotFound:
                keep_models = set()
        configs = dict.fromkeys([*known, *self._owned_configs(name)])
        configs.pop(keep or "", None)
        problems: list[str] = []
        handled: list[str] = []
        for config in configs:
            try:
                description = self.aws.call(
                    SAGEMAKER, "describe_endpoint_config", EndpointConfigName=config
                )
            except NotFound:
                handled.append(config)
                continue
            models = {v["ModelName"] for v in description["ProductionVariants"]} - keep_models
            failed = [
                p
                for p in (
                    delete_quietly(self.aws, "delete_model", ModelName=m) for m in sorted(models)
                )
                if p
            ]
            problems += failed
            if not failed:
                problem = delete_quietly(
                    self.aws, "delete_endpoint_config", EndpointConfigName=config
                )
                if problem:
                    problems.append(problem)
                else:
                    handled.append(config)
            self._serving_state().configs.pop(config, None)
        return handled, problems

    def delete_endpoint(self, name: str) -> None:
        """See :meth:`Backend.delete_endpoint`.

        ``DeleteEndpoint`` stops the billing; then every config and model the endpoint ever
        used is deleted (a missing one is fine). An endpoint the ledger has as live but AWS
        no longer knows is cleaned the same way and marked deleted, so ``%sm_delete``
        always converges.
        """
        record = self.ledger.get_endpoint(name)
        known = record is not None and record.is_live and record.backend == "sagemaker"
        endpoint = self._raw_endpoint(name)
        if endpoint is None and not known:
            raise NotFound(f"No SageMaker endpoint named {name!r} in {self.aws.region}.")
        problems: list[str] = []
        configs: list[str] = []
        if endpoint is not None:
            configs = [str(endpoint.get("EndpointConfigName") or "")]
            pending = (endpoint.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
            if pending:
                configs.append(str(pending))
            variants = [v["VariantName"] for v in endpoint.get("ProductionVariants", [])]
            problems += autoscaling.disable_endpoint_autoscaling(self.aws, name, variants)
            with contextlib.suppress(NotFound):
                self.aws.call(SAGEMAKER, "delete_endpoint", EndpointName=name)
        if record is not None and record.ttl_at:
            problem = schedules.delete_ttl_schedule(self.aws, name)  # deleted before its TTL
            if problem:
                problems.append(problem)
        # The endpoint's own configs are ours to delete when the ledger says we made it;
        # otherwise only those tagged as ours are (a foreign config or model may be shared).
        trusted = [c for c in configs if c] if known else []
        with self._serving_state().lock:
            update = self._serving_state().pending.pop(name, None)
        if update is not None:
            trusted += [update.new_config, update.old_config]
        swept, sweep_problems = self._sweep(name, keep=None, known=trusted)
        problems += sweep_problems
        if record is not None and record.is_live:
            self.ledger.update_endpoint(name, status=base.DELETED, deleted_at=time.time())
        foreign = [c for c in configs if c and c not in swept]
        if foreign:
            print(
                f"sm-magics: endpoint {name} is deleted; its endpoint config "
                f"{', '.join(foreign)} was not made by sm-magics and is left with its models.",
                file=sys.stderr,
            )
        if problems:
            print(
                f"sm-magics: endpoint {name} is deleted and no longer bills, but some of its "
                f"parts are left: {'; '.join(problems)}",
                file=sys.stderr,
            )

    # -- invoke / logs ----------------------------------------------------------------------

    def invoke_endpoint(
        self,
        name: str,
        body: bytes,
        *,
        content_type: str,
        accept: str | None = None,
        target_variant: str | None = None,
    ) -> base.InvokeResult:
        """See :meth:`Backend.invoke_endpoint`: one ``InvokeEndpoint``.

        A ``ModelError`` (the handlers raised, or the container answered an error) keeps
        the container's own status and message, which is what the user needs to fix it.
        """
        params: dict[str, Any] = {"EndpointName": name, "Body": body, "ContentType": content_type}
        if accept:
            params["Accept"] = accept
        if target_variant:
            params["TargetVariant"] = target_variant
        try:
            response = self.aws.client(RUNTIME).invoke_endpoint(**params)
        except Exception as exc:
            model_error = _model_error(exc, target_variant)
            if model_error is not None:
                raise model_error from None
            raise translate(exc, RUNTIME, "invoke_endpoint") from exc
        payload = response["Body"]
        data = payload.read() if hasattr(payload, "read") else bytes(payload)
        return base.InvokeResult(
            body=data,
            content_type=str(response.get("ContentType", "")),
            variant=str(response.get("InvokedProductionVariant", "")),
        )

    def invoke_endpoint_async(
        self,
        name: str,
        body: bytes,
        *,
        content_type: str,
        accept: str | None = None,
    ) -> base.AsyncInvokeResult:
        """See :meth:`Backend.invoke_endpoint_async`: upload, then ``InvokeEndpointAsync``.

        SageMaker reads an asynchronous request's payload from S3, so the body is uploaded
        first (by content hash, under the session's bucket: the same payload twice is one
        object) and its URI passed as ``InputLocation``.
        """
        params: dict[str, Any] = {
            "EndpointName": name,
            "InputLocation": uploads.upload_bytes(self.aws, body, suffix=".in"),
            "ContentType": content_type,
        }
        if accept:
            params["Accept"] = accept
        try:
            response = self.aws.client(RUNTIME).invoke_endpoint_async(**params)
        except Exception as exc:
            raise translate(exc, RUNTIME, "invoke_endpoint_async") from exc
        return base.AsyncInvokeResult(
            inference_id=str(response.get("InferenceId", "")),
            output_location=str(response["OutputLocation"]),
            failure_location=response.get("FailureLocation"),
        )

    def read_endpoint_logs(self, name: str, cursor: dict[str, Any] | None = None) -> base.LogBatch:
        """See :meth:`Backend.read_endpoint_logs`.

        CloudWatch group ``/aws/sagemaker/Endpoints/<name>`` has one stream per variant and
        instance, ``<variant>/<instance id>``, which is what ``host`` says. Each variant is
        read as :class:`~.cwlogs.LogReader` reads a job (its streams share the prefix
        ``<variant>/``; instances come and go, so it keeps listing at the idle pace), with
        one sub-cursor per variant. Variants come from the ledger row (kept current by
        ``describe``), else from ``DescribeEndpoint``; a deleted endpoint is read to the end.

        Raises
        ------
        NotFound
            Neither the ledger nor SageMaker knows the endpoint (as on the local backend).
        """
        state: dict[str, Any] = dict(cursor or {})
        sub: dict[str, Any] = dict(state.get("variants") or {})
        record = self.ledger.get_endpoint(name)
        variants = [str(v["VariantName"]) for v in (record.variants if record else [])]
        if not variants and not sub:
            endpoint = self._raw_endpoint(name)
            if endpoint is None and record is None:
                # As the local backend: an endpoint nobody knows is an error, not silence
                # (a follower would otherwise wait forever on a typo).
                raise NotFound(
                    f"No SageMaker endpoint named {name!r} in {self.aws.region}; "
                    "%sm_endpoints lists them."
                )
            variants = [v["VariantName"] for v in (endpoint or {}).get("ProductionVariants", [])]
        finished = record is not None and not record.is_live
        reader = cwlogs.LogReader(self.aws.client("logs"), group=f"{ENDPOINT_LOG_GROUP}/{name}")
        events: list[base.LogEvent] = []
        for variant in dict.fromkeys([*sub, *variants]):
            batch = reader.read(variant, sub.get(variant), finished=finished)
            sub[variant] = batch.cursor
            events += [
                base.LogEvent(e.timestamp, f"{variant}/{e.host}", e.message) for e in batch.events
            ]
        events.sort(key=lambda event: event.timestamp)
        return base.LogBatch(events, {**state, "variants": sub})


def _model_error(exc: BaseException, variant: str | None) -> ModelError | None:
    """Return our :class:`ModelError` for SageMaker Runtime's ``ModelError``, else ``None``."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error") or {}
    if error.get("Code") != "ModelError":
        return None
    status = response.get("OriginalStatusCode") or error.get("OriginalStatusCode") or 500
    message = (
        response.get("OriginalMessage")
        or error.get("OriginalMessage")
        or error.get("Message")
        or "the model failed"
    )
    log = response.get("LogStreamArn") or error.get("LogStreamArn")
    text = f"The model answered {status}: {message}"
    if log:
        text += f" (logs: {log})"
    return ModelError(text, status=int(status), variant=variant)
