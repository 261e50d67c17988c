"""Deploy planning: from a model and options to the endpoint a backend creates or updates.

``Session.deploy`` is this module's :func:`deploy`; it resolves the model (a training job's
name or a URI), builds the variants, checks the budget, and either creates the endpoint or
updates the variants of a live one.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING

from sm_magics import costs, limits
from sm_magics.api.job import Job
from sm_magics.api.names import JOB_NAME_RE, generate_job_name, validate_job_name
from sm_magics.api.specs import async_spec
from sm_magics.backends import kinds, statuses
from sm_magics.backends.specs import (
    DEFAULT_VARIANT,
    EndpointSpec,
    VariantSpec,
    parse_capacity_range,
)
from sm_magics.durations import parse_duration
from sm_magics.endpoint import Endpoint
from sm_magics.errors import AlreadyExists, InvalidRequest, NotFound
from sm_magics.ledger_records import REDACTED, VariantJson

if TYPE_CHECKING:
    from sm_magics.api.session import Session


def resolve_model(session: Session, model: str, backend: str | None) -> tuple[str, str | None, str]:
    """Return ``(model URI, source job or None, backend)`` for a job name or a URI."""
    record = session.ledger.get_job(model)
    if record is not None and record.kind == "tuning":
        from sm_magics.api.tuning import best_trial_of

        model = best_trial_of(session, record.name, record.backend)
        record = session.ledger.get_job(model)
    if record is not None and record.kind == "training":
        job = Job.from_record(session, record)
        description = job.backend.describe_training_job(job.name)
        artifacts = description.get("ModelArtifacts")
        uri = artifacts["S3ModelArtifacts"] if artifacts else None
        if not uri:
            status = kinds.status_of(description)
            hint = f"%sm_wait {model} first" if status == statuses.IN_PROGRESS else "retrain it"
            raise InvalidRequest(f"Training job {model} is {status} with no model; {hint}.")
        return str(uri), model, backend or record.backend
    if JOB_NAME_RE.fullmatch(model) and "/" not in model and not Path(model).exists():
        raise NotFound(
            f"{model!r} is neither a training job in the ledger nor a model.tar.gz path; "
            "%sm_jobs lists the jobs."
        )
    return model, None, backend or session.backend_name


def deploy(
    session: Session,
    model: str | None = None,
    *,
    endpoint: str | None = None,
    backend: str | None = None,
    instance_type: str | None = None,
    instance_count: int = 1,
    entry_point: str | Path | None = None,
    serverless_memory: int | None = None,
    max_concurrency: int | None = None,
    variants: dict[str, float] | None = None,
    ttl: str | int | None = None,
    tags: dict[str, str] | None = None,
    environment: dict[str, str] | None = None,
    autoscale: str | None = None,
    force: bool = False,
    async_output: str | None = None,
    async_failure: str | None = None,
    async_max_concurrency: int | None = None,
) -> Endpoint:
    """Serve a model (a training job's name or a ``model.tar.gz`` URI); return at once.

    With ``variants`` and the name of a live ``endpoint``, the endpoint is updated
    instead: each named variant is added (or its model replaced) with ``model``, and
    gets its weight; unnamed variants keep theirs. Without ``model``, only weights
    change. New variants are up before traffic moves to them.

    A new endpoint without ``ttl`` gets the session's ``default_ttl``. ``force`` skips
    the budget guard (``max_hourly_cost``), which otherwise refuses, before anything is
    created, an endpoint (or an update) that would take billing over the limit.

    ``async_output`` makes an asynchronous endpoint (SageMaker's
    ``AsyncInferenceConfig``): ``invoke`` then queues the request and returns an
    :class:`~sm_magics.endpoint.AsyncInference` whose answer is written under that
    URI (failures under ``async_failure``), each instance taking at most
    ``async_max_concurrency`` requests at a time.
    """
    from sm_magics.api.registry import PACKAGE_TAG, resolve_package

    package = resolve_package(session, model, approved_only=not force) if model else None
    uri: str | None
    source_job: str | None
    backend_name: str | None
    if package is not None:  # GROUP, GROUP/VERSION or a package ARN: what the registry says
        uri, source_job, backend_name = package.model_data, package.source_job, package.backend
        tags = {**(tags or {}), PACKAGE_TAG: package.arn}
    else:
        uri, source_job, backend_name = (
            resolve_model(session, model, backend) if model else (None, None, None)
        )
    if endpoint is not None:
        validate_job_name(endpoint)
    weights: dict[str, float] = {}
    for variant_name, weight in dict(variants or {}).items():
        if not JOB_NAME_RE.fullmatch(variant_name):
            raise InvalidRequest(f"Invalid variant name {variant_name!r}.")
        if not isinstance(weight, (int, float)) or isinstance(weight, bool):
            raise InvalidRequest(f"--variant {variant_name}= expects a number, got {weight!r}.")
        if weight < 0:
            raise InvalidRequest(f"Variant {variant_name}: weights must be 0 or more.")
        weights[variant_name] = float(weight)
    entry = Path(entry_point).expanduser() if entry_point else None
    if entry is not None and not entry.is_file():
        raise InvalidRequest(f"--entry-point {entry_point} does not exist.")
    instance_count = limits.check_instance_count(instance_count)
    bounds = parse_capacity_range(autoscale) if autoscale else None
    if bounds is not None and serverless_memory:
        raise InvalidRequest("--autoscale does not apply to --serverless endpoints.")

    def variant(name: str, weight: float) -> VariantSpec:
        return VariantSpec(
            name=name,
            model_data=uri,
            job=source_job,
            entry_point=entry,
            instance_type=instance_type or session.instance_type,
            instance_count=instance_count,
            weight=weight,
            serverless_memory_mb=serverless_memory,
            max_concurrency=max_concurrency,
            environment=dict(environment or {}),
        )

    if endpoint is None and weights:
        # `%sm_deploy JOB --variant b=0.2` means the endpoint named after the job.
        endpoint = source_job
    record = session.ledger.get_endpoint(endpoint) if endpoint else None
    if endpoint is not None and record is not None and record.is_live:
        if record.status == "Failed":
            raise InvalidRequest(
                f"Endpoint {endpoint} failed ({record.failure_reason}); "
                f"%sm_delete {endpoint} --yes, then deploy again."
            )
        if ttl is not None:
            raise InvalidRequest("--ttl applies when an endpoint is created, not updated.")
        if async_output is not None:
            raise InvalidRequest("--async-output applies when an endpoint is created, not updated.")
        if not weights:
            raise AlreadyExists(
                f"Endpoint {endpoint} exists. To add {model or 'a model'} to it as an A/B "
                f"variant use --variant NAME=WEIGHT; to replace it, %sm_delete it first."
            )
        # The ledger's spec also holds variants of an update that failed and was rolled
        # back: keep only those the endpoint serves or is starting.
        owner = session.backend(record.backend, record.region)
        described = owner.describe_endpoint(endpoint)
        serving = {v["VariantName"] for v in described["ProductionVariants"]}
        current = [
            _variant_of_row(v) for v in record.spec.get("variants", []) if v["name"] in serving
        ]
        _restore_environments(current, owner.variant_environments(endpoint))
        by_name = {v.name: v for v in current}
        for name, weight in weights.items():
            if name in by_name and uri is None:
                by_name[name].weight = weight
            elif uri is None:
                raise InvalidRequest(
                    f"Endpoint {endpoint} has no variant {name!r} (it has "
                    f"{', '.join(by_name)}); give a model to add it."
                )
            else:
                by_name[name] = variant(name, weight)
        desired = list(by_name.values())
        if not force:
            # Only what the update adds counts: the endpoint's current rate is
            # already part of what runs.
            now_rate = costs.endpoint_rate(record).per_hour or 0.0
            after = costs.requested_hourly_cost(desired, record.region or session.region)
            session.check_budget(
                f"update of endpoint {endpoint}",
                None if after is None else after - now_rate,
                record.backend,
                unpriced=[v.instance_type for v in desired],
            )
        session.backend(record.backend, record.region).update_endpoint(endpoint, desired)
        handle = Endpoint.from_record(session, record)
        if bounds is not None:
            scale_variants(handle, list(weights), bounds)
        return handle
    if uri is None or backend_name is None:
        raise InvalidRequest("Nothing to deploy: give a training job name or a model URI.")
    name = endpoint or source_job or generate_job_name("sm-endpoint")
    specs = [variant(n, w) for n, w in (weights or {DEFAULT_VARIANT: 1.0}).items()]
    if ttl is None:
        ttl = session.default_ttl
    ttl_seconds = parse_duration(ttl) if ttl is not None else None
    if not force:
        session.check_budget(
            f"endpoint {name}",
            costs.requested_hourly_cost(specs, session.region),
            backend_name,
            unpriced=[v.instance_type for v in specs],
        )
    target = session.backend(backend_name)
    asynchronous = async_spec(async_output, async_failure, async_max_concurrency)
    target.create_endpoint(
        EndpointSpec(
            name=name,
            variants=specs,
            ttl=ttl_seconds,
            tags=dict(tags or {}),
            region=session.region,
            notebook=session.notebook,
            async_inference=asynchronous,
        )
    )
    handle = Endpoint(session, name, target.name)
    if bounds is not None:
        scale_variants(handle, [v.name for v in specs], bounds)
    return handle


def _variant_of_row(row: VariantJson) -> VariantSpec:
    """Return the :class:`VariantSpec` an endpoint row's ``spec`` keeps of one variant.

    A row written by an older version may lack a key: the spec's default stands in.
    """
    default = VariantSpec()
    entry_point = row.get("entry_point")
    return VariantSpec(
        name=row["name"],
        model_data=row.get("model_data"),
        job=row.get("job"),
        entry_point=Path(entry_point) if entry_point else None,
        instance_type=row.get("instance_type", default.instance_type),
        instance_count=row.get("instance_count", default.instance_count),
        weight=row.get("weight", default.weight),
        serverless_memory_mb=row.get("serverless_memory_mb"),
        max_concurrency=row.get("max_concurrency"),
        environment=dict(row.get("environment") or {}),
    )


def _restore_environments(variants: list[VariantSpec], running: dict[str, dict[str, str]]) -> None:
    """Put back the ``--env`` values the ledger keeps as names only (it redacts them).

    Each existing variant is redeployed by an update, so it needs the values it runs
    with; they come from the backend (``running``, by variant), never from the ledger.
    """
    for variant in variants:
        values = running.get(variant.name, {})
        lost = sorted(
            k for k, v in variant.environment.items() if v == REDACTED and k not in values
        )
        if lost:
            raise InvalidRequest(
                f"Variant {variant.name} runs without the value of --env {', '.join(lost)} "
                "(the ledger keeps names only); give the variant again with its --env values."
            )
        variant.environment = {
            key: values[key] if value == REDACTED else value
            for key, value in variant.environment.items()
        }


def scale_variants(handle: Endpoint, variants: list[str], bounds: tuple[int, int]) -> None:
    """Wait until InService (autoscaling needs it), then scale each named variant."""
    handle.wait()
    for variant in variants:
        handle.notes.append(handle.backend.set_autoscaling(handle.name, variant, *bounds))


#: The options of a deploy (``%sm_deploy`` names its arguments after them).
DEPLOY_OPTIONS = tuple(
    name
    for name, parameter in inspect.signature(deploy).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
)
