"""The Python API under the magics: ``Session``, the ``Job`` handle and job tables.

Every magic is one call here, so everything a notebook does with ``%%sm_train`` a script
or a test can do without IPython::

    from sm_magics import Session
    job = Session().train("print('hello')", hyperparameters={"epochs": 2})
    job.wait().status            # 'Completed'
    job.model_data               # 'file:///.../model.tar.gz'

A ``Job`` is a light handle (a name and a backend): it holds no state of its own, so two
handles of one job never disagree, and a handle made after a kernel restart works.
"""

from __future__ import annotations

import functools
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sm_magics import config, pricing
from sm_magics.backends import base, registry
from sm_magics.display import STATUS_COLOURS, StatusTable, widget_bundle
from sm_magics.durations import format_duration, parse_duration
from sm_magics.errors import (
    AlreadyExists,
    BudgetExceeded,
    InvalidRequest,
    JobFailed,
    NotFound,
    WaitTimeout,
)
from sm_magics.ledger import JobRecord, Ledger
from sm_magics.metrics import MetricParser, MetricPoint

if TYPE_CHECKING:
    from sm_magics.cleanup import CleanupReport
    from sm_magics.costs import CostSummary
    from sm_magics.endpoint import Endpoint, EndpointTable

#: SageMaker's rule for training job names.
JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
DEFAULT_JOB_PREFIX = "sm-train"
DEFAULT_ENTRY_POINT = "train.py"
#: The entry-point name the cell gets; also the module `%sm_deploy` finds handlers in.
CELL_ENTRY_POINT = DEFAULT_ENTRY_POINT

_CHANNEL_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_HP_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,255}$")
_ENV_KEY_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$")  # SageMaker's Environment keys


def validate_job_name(name: str) -> str:
    """Return ``name`` if SageMaker would accept it as a job name, else raise."""
    # The pattern bounds the letters and digits, not the hyphens: SageMaker also caps the
    # length at 63 characters.
    if len(name) > 63 or not JOB_NAME_RE.fullmatch(name):
        raise InvalidRequest(
            f"Invalid job name {name!r}: use 1-63 letters, digits and hyphens, starting with "
            "a letter or digit (SageMaker's rule)."
        )
    return name


def generate_job_name(prefix: str = DEFAULT_JOB_PREFIX, now: datetime | None = None) -> str:
    """Return ``<prefix>-YYYY-MM-DD-HH-MM-SS-mmm``, as the SageMaker SDK names jobs."""
    moment = now or datetime.now(tz=timezone.utc)
    stamp = moment.strftime("%Y-%m-%d-%H-%M-%S-") + f"{moment.microsecond // 1000:03d}"
    prefix = prefix.strip("-")[: 63 - len(stamp) - 1] or DEFAULT_JOB_PREFIX
    return validate_job_name(f"{prefix}-{stamp}")


def _keep_alive(value: str | int | None) -> int | None:
    """Return a warm pool's keep-alive in seconds; SageMaker allows up to an hour."""
    if value is None:
        return None
    seconds = parse_duration(value)
    if seconds > 3600:
        raise InvalidRequest("--keep-alive is at most 1h (SageMaker's warm pool limit).")
    return seconds


class Session:
    """Where jobs are sent, with the defaults the magics' configuration gives.

    Parameters
    ----------
    backend
        ``"local"`` (default, or ``SM_MAGICS_BACKEND``) or ``"sagemaker"``.
    region, instance_type
        Defaults for new jobs; the instance type is used for cost estimates locally.
    notebook
        The notebook path recorded with each job (what ``%sm_cleanup`` scopes by).
    job_prefix
        Prefix of generated job names.
    max_hourly_cost
        The budget guard: refuse a new job or endpoint that would take this backend's
        billing over this many USD per hour (``0``: off; ``None``: from
        ``SM_MAGICS_MAX_HOURLY_COST``). See :meth:`check_budget`.
    default_ttl
        TTL (``"2h"``) given to every new endpoint deployed without one (``""``/``None``
        from ``SM_MAGICS_DEFAULT_TTL``, which may be empty: none).
    backend_options
        Passed to the backend's constructor (role, bucket, subnets, ...).
    """

    def __init__(
        self,
        backend: str | None = None,
        *,
        region: str | None = None,
        instance_type: str | None = None,
        notebook: str | None = None,
        job_prefix: str = DEFAULT_JOB_PREFIX,
        ledger: Ledger | None = None,
        max_hourly_cost: float | None = None,
        default_ttl: str | None = None,
        **backend_options: Any,
    ) -> None:
        self.backend_name = backend or config.default_backend()
        limit = config.max_hourly_cost() if max_hourly_cost is None else float(max_hourly_cost)
        if not limit >= 0 or limit == float("inf"):  # also NaN
            raise InvalidRequest(f"max_hourly_cost must be a number >= 0, not {limit!r}.")
        self.max_hourly_cost = limit
        ttl = config.default_ttl() if default_ttl is None else default_ttl.strip()
        if ttl:
            parse_duration(ttl)  # a bad default fails here, not at the first deploy
        self.default_ttl: str | None = ttl or None
        self.region = region or config.default_region()
        self.instance_type = instance_type or config.default_instance_type()
        self.notebook = notebook
        self.job_prefix = job_prefix
        self.ledger = ledger or Ledger()
        self.backend_options = backend_options
        self._backends: dict[str, base.Backend] = {}

    def backend(self, name: str | None = None) -> base.Backend:
        """Return the backend ``name`` (default: this session's), created once."""
        key = name or self.backend_name
        if key not in self._backends:
            cls = registry.get_backend_class(key)
            self._backends[key] = cls(
                region=self.region, ledger=self.ledger, **self.backend_options
            )
        return self._backends[key]

    # -- training ---------------------------------------------------------------------------

    def train(
        self,
        script: str | None = None,
        *,
        name: str | None = None,
        backend: str | None = None,
        source_dir: str | Path | None = None,
        entry_point: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        inputs: dict[str, str] | None = None,
        instance_type: str | None = None,
        instance_count: int = 1,
        requirements: str | Path | None = None,
        image: str | None = None,
        framework: str | None = None,
        framework_version: str | None = None,
        py_version: str | None = None,
        metric_definitions: dict[str, str] | None = None,
        environment: dict[str, str] | None = None,
        spot: bool = False,
        max_wait: str | int | None = None,
        max_run: str | int | None = None,
        checkpoint_uri: str | None = None,
        tags: dict[str, str] | None = None,
        keep_alive: str | int | None = None,
        force: bool = False,
    ) -> Job:
        """Start a training job and return its handle at once.

        Give the training code as ``script`` (a cell's text, which becomes ``train.py`` in
        the code folder, next to the files of ``source_dir``) or as ``entry_point``, a file
        inside ``source_dir`` run unchanged.

        ``force`` skips the budget guard (``max_hourly_cost``).

        Raises
        ------
        InvalidRequest
            Anything malformed; nothing is created.
        AlreadyExists
            ``name`` is taken.
        BudgetExceeded
            The job would take billing over ``max_hourly_cost``; nothing is created or
            uploaded.
        """
        spec = self._training_spec(
            script=script,
            name=name,
            source_dir=source_dir,
            entry_point=entry_point,
            hyperparameters=hyperparameters,
            inputs=inputs,
            instance_type=instance_type,
            instance_count=instance_count,
            requirements=requirements,
            image=image,
            framework=framework,
            framework_version=framework_version,
            py_version=py_version,
            metric_definitions=metric_definitions,
            environment=environment,
            spot=spot,
            max_wait=max_wait,
            max_run=max_run,
            checkpoint_uri=checkpoint_uri,
            tags=tags,
            keep_alive=keep_alive,
        )
        backend_name = backend or self.backend_name
        if not force:
            self.check_budget(
                f"training job {spec.name}",
                pricing.hourly_cost(
                    spec.instance_type,
                    spec.instance_count,
                    spec.region,
                    usage="training",
                    spot=spec.spot,
                ),
                backend_name,
                unpriced=[spec.instance_type],
            )
        target = self.backend(backend)
        generated = name is None
        attempts = 20
        for attempt in range(attempts):
            try:
                target.create_training_job(spec)
                break
            except AlreadyExists:
                # Two jobs submitted in the same millisecond get the same generated name.
                if not generated or attempt == attempts - 1:
                    raise  # never hand back a handle on a job that was not created
                time.sleep(0.001)
                spec.name = generate_job_name(self.job_prefix)
        job = Job(self, spec.name, target.name)
        job.notes = target.notes_for(spec)
        return job

    def _training_spec(self, **kw: Any) -> base.TrainingSpec:
        script, source_dir, entry_point = kw["script"], kw["source_dir"], kw["entry_point"]
        source = Path(source_dir).expanduser().resolve() if source_dir else None
        if source is not None and not source.is_dir():
            raise InvalidRequest(f"--source-dir {source_dir} is not a folder.")
        if script is not None and not script.strip():
            script = None
        if script is None and entry_point is None:
            raise InvalidRequest(
                "Nothing to run: give the training code as the cell, or --source-dir with "
                "--entry-point."
            )
        if entry_point is not None:
            if script is not None:
                raise InvalidRequest(
                    "Give the training code either as the cell or as --entry-point, not both."
                )
            if source is None:
                source = Path.cwd()
            if Path(entry_point).is_absolute() or ".." in Path(entry_point).parts:
                raise InvalidRequest("--entry-point must be a path inside --source-dir.")
            if not (source / entry_point).is_file():
                raise InvalidRequest(f"--entry-point {entry_point} is not a file in {source}.")
        else:
            entry_point = CELL_ENTRY_POINT
            if source is not None and (source / entry_point).exists():
                raise InvalidRequest(
                    f"--source-dir {source} already has {entry_point}, which the cell would "
                    f"replace: run it with --entry-point {entry_point}, or rename it."
                )
        requirements = Path(kw["requirements"]).expanduser() if kw["requirements"] else None
        if requirements is not None and not requirements.is_file():
            raise InvalidRequest(f"--requirements {kw['requirements']} is not a file.")
        count = int(kw["instance_count"])
        if count < 1:
            raise InvalidRequest("--instance-count must be at least 1.")
        inputs = dict(kw["inputs"] or {})
        for channel in inputs:
            if not _CHANNEL_RE.fullmatch(channel):
                raise InvalidRequest(
                    f"Invalid channel name {channel!r}: letters, digits, '.', '_' or '-'."
                )
        hyperparameters = dict(kw["hyperparameters"] or {})
        for key in hyperparameters:
            if not _HP_KEY_RE.fullmatch(key):
                raise InvalidRequest(f"Invalid hyperparameter name {key!r}.")
        environment = {str(k): str(v) for k, v in (kw["environment"] or {}).items()}
        for key, value in environment.items():
            if not _ENV_KEY_RE.fullmatch(key):
                raise InvalidRequest(
                    f"Invalid environment variable name {key!r}: letters, digits and '_', "
                    "not starting with a digit."
                )
            if "\0" in value:
                raise InvalidRequest(f"--env {key}: the value holds a NUL character.")
        for key, value in hyperparameters.items():
            if "\0" in str(value):
                raise InvalidRequest(f"--hp {key}: the value holds a NUL character.")
        metric_definitions = dict(kw["metric_definitions"] or {})
        for metric, regex in metric_definitions.items():
            try:
                re.compile(regex)
            except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999}, ((((...
                raise InvalidRequest(f"--metric {metric}: bad regex {regex!r} ({exc}).") from None
        name = kw["name"]
        name = validate_job_name(name) if name else generate_job_name(self.job_prefix)
        return base.TrainingSpec(
            name=name,
            entry_point=entry_point,
            script=script,
            source_dir=source,
            hyperparameters=hyperparameters,
            inputs=inputs,
            instance_type=kw["instance_type"] or self.instance_type,
            instance_count=count,
            requirements=requirements,
            image=kw["image"],
            framework=kw["framework"],
            framework_version=kw["framework_version"],
            py_version=kw["py_version"],
            metric_definitions=metric_definitions,
            environment=environment,
            spot=bool(kw["spot"]),
            max_wait=parse_duration(kw["max_wait"]) if kw["max_wait"] else None,
            max_run=parse_duration(kw["max_run"]) if kw["max_run"] else None,
            keep_alive=_keep_alive(kw["keep_alive"]),
            checkpoint_uri=kw["checkpoint_uri"],
            tags=dict(kw["tags"] or {}),
            region=self.region,
            notebook=self.notebook,
        )

    # -- serving ----------------------------------------------------------------------------

    def _resolve_model(self, model: str, backend: str | None) -> tuple[str, str | None, str]:
        """Return ``(model URI, source job or None, backend)`` for a job name or a URI."""
        record = self.ledger.get_job(model)
        if record is not None and record.kind == "training":
            job = Job(self, model, record.backend)
            description = job.describe()
            uri = (description.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
            if not uri:
                status = base.job_status(description)
                hint = f"%sm_wait {model} first" if status == base.IN_PROGRESS else "retrain it"
                raise InvalidRequest(f"Training job {model} is {status} with no model; {hint}.")
            return str(uri), model, backend or record.backend
        if JOB_NAME_RE.fullmatch(model) and "/" not in model and not Path(model).exists():
            raise NotFound(
                f"{model!r} is neither a training job in the ledger nor a model.tar.gz path; "
                "%sm_jobs lists the jobs."
            )
        return model, None, backend or self.backend_name

    def deploy(
        self,
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
        from sm_magics.endpoint import Endpoint

        uri, source_job, backend_name = (
            self._resolve_model(model, backend) if model else (None, None, None)
        )
        if endpoint is not None:
            validate_job_name(endpoint)
        weights = dict(variants or {})
        for variant_name, weight in weights.items():
            if not JOB_NAME_RE.fullmatch(variant_name):
                raise InvalidRequest(f"Invalid variant name {variant_name!r}.")
            if weight < 0:
                raise InvalidRequest(f"Variant {variant_name}: weights must be 0 or more.")
        entry = Path(entry_point).expanduser() if entry_point else None
        if entry is not None and not entry.is_file():
            raise InvalidRequest(f"--entry-point {entry_point} does not exist.")
        if instance_count < 1:
            raise InvalidRequest("--instance-count must be at least 1.")
        bounds = base.parse_capacity_range(autoscale) if autoscale else None
        if bounds is not None and serverless_memory:
            raise InvalidRequest("--autoscale does not apply to --serverless endpoints.")

        def variant(name: str, weight: float) -> base.VariantSpec:
            return base.VariantSpec(
                name=name,
                model_data=uri,
                job=source_job,
                entry_point=entry,
                instance_type=instance_type or self.instance_type,
                instance_count=instance_count,
                weight=weight,
                serverless_memory_mb=serverless_memory,
                max_concurrency=max_concurrency,
                environment=dict(environment or {}),
            )

        if endpoint is None and weights:
            # `%sm_deploy JOB --variant b=0.2` means the endpoint named after the job.
            endpoint = source_job
        record = self.ledger.get_endpoint(endpoint) if endpoint else None
        if endpoint is not None and record is not None and record.is_live:
            if record.status == "Failed":
                raise InvalidRequest(
                    f"Endpoint {endpoint} failed ({record.failure_reason}); "
                    f"%sm_delete {endpoint} --yes, then deploy again."
                )
            if ttl is not None:
                raise InvalidRequest("--ttl applies when an endpoint is created, not updated.")
            if async_output is not None:
                raise InvalidRequest(
                    "--async-output applies when an endpoint is created, not updated."
                )
            if not weights:
                raise AlreadyExists(
                    f"Endpoint {endpoint} exists. To add {model or 'a model'} to it as an A/B "
                    f"variant use --variant NAME=WEIGHT; to replace it, %sm_delete it first."
                )
            # The ledger's spec also holds variants of an update that failed and was rolled
            # back: keep only those the endpoint serves or is starting.
            described = self.backend(record.backend).describe_endpoint(endpoint)
            serving = {v["VariantName"] for v in described["ProductionVariants"]}
            current = [
                base.VariantSpec(
                    **{**v, "entry_point": Path(v["entry_point"]) if v.get("entry_point") else None}
                )
                for v in record.spec.get("variants", [])
                if v["name"] in serving
            ]
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
                from sm_magics.costs import endpoint_rate

                # Only what the update adds counts: the endpoint's current rate is
                # already part of what runs.
                now_rate = endpoint_rate(record).per_hour or 0.0
                after = _variants_hourly_cost(desired, record.region or self.region)
                self.check_budget(
                    f"update of endpoint {endpoint}",
                    None if after is None else after - now_rate,
                    record.backend,
                    unpriced=[v.instance_type for v in desired],
                )
            self.backend(record.backend).update_endpoint(endpoint, desired)
            self.ledger.update_endpoint(
                endpoint, spec={**record.spec, "variants": [v.to_json() for v in desired]}
            )
            handle = Endpoint(self, endpoint, record.backend)
            if bounds is not None:
                self._autoscale(handle, list(weights), bounds)
            return handle
        if uri is None or backend_name is None:
            raise InvalidRequest("Nothing to deploy: give a training job name or a model URI.")
        name = endpoint or source_job or generate_job_name("sm-endpoint")
        specs = [variant(n, w) for n, w in (weights or {base.DEFAULT_VARIANT: 1.0}).items()]
        if ttl is None:
            ttl = self.default_ttl
        ttl_seconds = parse_duration(ttl) if ttl is not None else None
        if not force:
            self.check_budget(
                f"endpoint {name}",
                _variants_hourly_cost(specs, self.region),
                backend_name,
                unpriced=[v.instance_type for v in specs],
            )
        target = self.backend(backend_name)
        asynchronous = _async_spec(async_output, async_failure, async_max_concurrency)
        target.create_endpoint(
            base.EndpointSpec(
                name=name,
                variants=specs,
                ttl=ttl_seconds,
                tags=dict(tags or {}),
                region=self.region,
                notebook=self.notebook,
                async_inference=asynchronous,
            )
        )
        self.ledger.update_endpoint(
            name,
            spec={
                "variants": [v.to_json() for v in specs],
                "ttl": ttl,
                **({"async": asynchronous.to_json()} if asynchronous else {}),
            },
        )
        handle = Endpoint(self, name, target.name)
        if bounds is not None:
            self._autoscale(handle, [v.name for v in specs], bounds)
        return handle

    @staticmethod
    def _autoscale(handle: Endpoint, variants: list[str], bounds: tuple[int, int]) -> None:
        """Wait until InService (autoscaling needs it), then scale each named variant."""
        handle.wait()
        for variant in variants:
            handle.notes.append(handle.backend.set_autoscaling(handle.name, variant, *bounds))

    def endpoint(self, name: str) -> Endpoint:
        """Return the handle of a live endpoint, on whichever backend serves it."""
        from sm_magics.endpoint import Endpoint

        record = self.ledger.get_endpoint(name)
        if record is not None and record.is_live:
            return Endpoint(self, name, record.backend)
        try:
            self.backend().describe_endpoint(name)
        except NotFound:
            raise NotFound(
                f"No endpoint named {name!r} is running; %sm_endpoints lists them."
            ) from None
        return Endpoint(self, name, self.backend_name)

    def endpoints(self, *, backend: str | None = None) -> EndpointTable:
        """Return the live endpoints of the ledger, refreshed from their backends."""
        from sm_magics.endpoint import EndpointRow, EndpointTable

        rows = []
        for record in self.ledger.list_endpoints(backend=backend):
            try:
                description = self.backend(record.backend).describe_endpoint(record.name)
            except NotFound:
                self.ledger.update_endpoint(record.name, status=base.DELETED)
                continue
            except Exception:  # noqa: BLE001 - a table must show even if one can't refresh
                rows.append(EndpointRow.from_record(record))
                continue
            rows.append(EndpointRow.from_description(description, record.backend, record))
        return EndpointTable(rows)

    def batch(
        self,
        model: str,
        *,
        input: str,  # the flag users type
        output: str,
        name: str | None = None,
        backend: str | None = None,
        instance_type: str | None = None,
        instance_count: int = 1,
        content_type: str = "text/csv",
        accept: str | None = None,
        split_type: str = "Line",
        entry_point: str | Path | None = None,
        tags: dict[str, str] | None = None,
    ) -> Job:
        """Run every file of ``input`` through a model into ``output``; return the job."""
        uri, source_job, backend_name = self._resolve_model(model, backend)
        entry = Path(entry_point).expanduser() if entry_point else None
        if accept is None and content_type.split(";")[0].strip() == "text/csv":
            accept = "text/csv"  # CSV records in, one CSV line out per record
        job_name = validate_job_name(name) if name else generate_job_name("sm-batch")
        target = self.backend(backend_name)
        target.create_transform_job(
            base.TransformSpec(
                name=job_name,
                model=base.VariantSpec(
                    model_data=uri,
                    job=source_job,
                    entry_point=entry,
                    instance_type=instance_type or self.instance_type,
                    instance_count=instance_count,
                ),
                input_uri=input,
                output_uri=output,
                content_type=content_type,
                accept=accept,
                split_type=split_type,
                tags=dict(tags or {}),
                region=self.region,
                notebook=self.notebook,
            )
        )
        return Job(self, job_name, target.name, kind="transform")

    # -- cost control -----------------------------------------------------------------------

    def costs(self) -> CostSummary:
        """Return what runs and bills now, with today's, this month's and this notebook's totals.

        Read from the ledger alone (no backend call); see :mod:`sm_magics.costs`.
        """
        from sm_magics.costs import summarize

        return summarize(self.ledger, notebook=self.notebook)

    def check_budget(
        self,
        what: str,
        per_hour: float | None,
        backend: str,
        *,
        unpriced: list[str] | None = None,
    ) -> None:
        """Refuse a request that would take ``backend``'s billing over ``max_hourly_cost``.

        The request's own rate (``per_hour``) is added to what the ledger has as running
        on the same backend, every region and notebook of this machine. The local backend
        is guarded the same way with SageMaker's prices, so a notebook that the guard would
        stop on SageMaker stops locally first; but local runs never count against a
        sagemaker request, since they bill nothing. An unknown price warns
        (:class:`CostWarning`) instead of refusing: the guard cannot judge it.

        Raises
        ------
        BudgetExceeded
            The limit would be passed; nothing has been created.
        """
        limit = self.max_hourly_cost
        if limit <= 0:
            return
        if per_hour is None:
            types = ", ".join(sorted({t for t in unpriced or [] if t})) or "its instance type"
            warnings.warn(
                f"sm-magics: no price known for {types}; the {what} is not checked against "
                f"the {limit:.2f} USD/h limit (SageMakerMagics.max_hourly_cost).",
                CostWarning,
                stacklevel=3,
            )
            return
        from sm_magics.costs import billing_per_hour_on

        running = billing_per_hour_on(self.ledger, backend)
        total = per_hour + running
        if per_hour > 0 and total > limit + 1e-9:
            raise BudgetExceeded(
                f"Refused: the {what} would bring {backend} billing to {total:.2f} USD/h "
                f"(this request {per_hour:.2f} + running {running:.2f}), over the "
                f"{limit:.2f} USD/h limit (SageMakerMagics.max_hourly_cost); nothing was "
                "created. Pass --force (force=True) to go ahead, or %sm_cost to see what "
                "runs.",
                request=per_hour,
                running=running,
                limit=limit,
            )

    def cleanup(self, all: bool = False) -> CleanupReport:
        """Stop and delete what this notebook (``all``: this machine) left running or billing.

        Training and transform jobs are stopped, endpoints deleted (with their configs and
        models on SageMaker). One failure does not stop the rest; the report says what is
        left and why. Running it again when everything is gone reports nothing to do.
        """
        from sm_magics.cleanup import clean, find_leftovers

        return clean(self, find_leftovers(self, all=all), all=all)

    # -- lookup -----------------------------------------------------------------------------

    def job(self, name: str) -> Job:
        """Return the handle of an existing job, on whichever backend ran it.

        Raises
        ------
        NotFound
            Neither the ledger nor this session's backend knows the name.
        """
        record = self.ledger.get_job(name)
        if record is not None:
            return Job(self, name, record.backend, kind=record.kind)
        try:
            self.backend().describe_training_job(name)
        except NotFound:
            raise NotFound(
                f"No training job named {name!r} in the ledger or on the {self.backend_name} "
                "backend; %sm_jobs lists the known ones."
            ) from None
        return Job(self, name, self.backend_name)

    def jobs(
        self, *, status: str | None = None, backend: str | None = None, limit: int | None = 50
    ) -> JobTable:
        """Return recent jobs from the ledger, with running ones refreshed from their backend."""
        if backend is not None and backend not in registry.available_backends():
            raise InvalidRequest(
                f"Unknown backend {backend!r}; choose one of: "
                f"{', '.join(registry.available_backends())}."
            )
        for record in self.ledger.list_jobs(active_only=True, backend=backend):
            try:
                self.backend(record.backend).describe_training_job(record.name)
            except Exception:  # noqa: BLE001, S112 - a table must show even if one job can't refresh
                continue
        records = self.ledger.list_jobs(status=status, backend=backend, limit=limit)
        return JobTable([JobRow.from_record(r) for r in records])


class CostWarning(UserWarning):
    """A cost could not be checked (an instance type without a price)."""


def _variants_hourly_cost(variants: list[base.VariantSpec], region: str | None) -> float | None:
    """Return what a list of variants costs per hour on SageMaker hosting.

    Serverless variants count 0: they bill per request, never while idle. ``None`` when an
    instance type has no price.
    """
    total = 0.0
    for variant in variants:
        if variant.serverless_memory_mb:
            continue
        price = pricing.hourly_cost(
            variant.instance_type, variant.instance_count, region, usage="hosting"
        )
        if price is None:
            return None
        total += price
    return total


class Job:
    """A handle on one training job; every property asks the backend, never a cache.

    Displayed in a notebook, a ``Job`` is a live widget (status, elapsed time, cost, metric
    curves, log tail, a Stop button); elsewhere it is one line of text.
    """

    def __init__(
        self, session: Session, name: str, backend: str, *, kind: str = "training"
    ) -> None:
        self.session = session
        self.name = name
        self.backend_name = backend
        #: ``"training"`` or ``"transform"`` (a batch transform job).
        self.kind = kind
        #: Remarks from the backend at creation (options it recorded but did not use).
        self.notes: list[str] = []

    @property
    def backend(self) -> base.Backend:
        """The backend that runs this job."""
        return self.session.backend(self.backend_name)

    def describe(self) -> dict[str, Any]:
        """Return the backend's ``DescribeTrainingJob`` (or ``DescribeTransformJob``) response."""
        if self.kind == "transform":
            return self.backend.describe_transform_job(self.name)
        return self.backend.describe_training_job(self.name)

    @property
    def status(self) -> str:
        """``InProgress``, ``Completed``, ``Failed``, ``Stopping`` or ``Stopped``."""
        return base.job_status(self.describe())

    @property
    def secondary_status(self) -> str:
        """SageMaker's finer status: ``Starting``, ``Downloading``, ``Training``, ..."""
        return str(self.describe()["SecondaryStatus"])

    @property
    def failure_reason(self) -> str | None:
        """Why the job failed, as SageMaker words it; ``None`` unless it failed."""
        reason = self.describe().get("FailureReason")
        return str(reason) if reason else None

    @property
    def model_data(self) -> str | None:
        """URI of ``model.tar.gz`` (``file://`` locally, ``s3://`` on SageMaker)."""
        artifacts = self.describe().get("ModelArtifacts") or {}
        uri = artifacts.get("S3ModelArtifacts")
        return str(uri) if uri else None

    def download_model(self, dest: str | Path = "model") -> Path:
        """Extract the job's ``model.tar.gz`` into the folder ``dest``; return that folder.

        Works the same for a local job (``file://``) and a SageMaker job (``s3://``), so a
        notebook loads its model the same way on both backends.

        Raises
        ------
        InvalidRequest
            The job has no model (yet).
        """
        import tarfile
        import tempfile

        uri = self.model_data
        if uri is None:
            raise InvalidRequest(
                f"Training job {self.name} has no model yet ({self.status}); %sm_wait it first."
            )
        target = Path(dest).expanduser()
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "model.tar.gz"
            self.backend.fetch(uri, archive)
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(target, filter="data")
        return target

    def read_logs(self, cursor: dict[str, Any] | None = None) -> base.LogBatch:
        """Return log lines after ``cursor``; pass the returned cursor back for more."""
        if self.kind == "transform":
            return self.backend.read_transform_logs(self.name, cursor)
        return self.backend.read_training_logs(self.name, cursor)

    def iter_log_events(self) -> Iterator[base.LogEvent]:
        """Yield every log line written so far, all hosts merged by time."""
        batch = self.read_logs()
        while batch.events:
            yield from batch.events
            batch = self.read_logs(batch.cursor)

    def logs(self) -> str:
        """Return all log lines so far; lines are prefixed ``[algo-N]`` when several hosts."""
        events = list(self.iter_log_events())
        multi = len({e.host for e in events}) > 1
        return "\n".join(format_log_line(e, multi) for e in events)

    def metrics(self) -> dict[str, list[MetricPoint]]:
        """Return each ``--metric`` as a time series parsed from the logs so far."""
        definitions = base.metric_definitions(self.describe())
        parser = MetricParser(definitions)
        series: dict[str, list[MetricPoint]] = {name: [] for name in definitions}
        for event in self.iter_log_events():
            for point in parser.parse(event.timestamp, event.message):
                series[point.name].append(point)
        return series

    def wait(
        self,
        timeout: str | float | None = None,
        *,
        poll: float | None = None,
        on_poll: Callable[[dict[str, Any]], None] | None = None,
        raise_on_failure: bool = False,
    ) -> Job:
        """Block until the job ends; return ``self``.

        Raises
        ------
        WaitTimeout
            ``timeout`` (seconds, or ``"30m"``) passed first; the job goes on.
        JobFailed
            With ``raise_on_failure``, when the job ended ``Failed``.
        """
        if poll is None:  # half a second locally; the backend's slower pace on SageMaker
            poll = max(0.5, self.backend.status_poll_interval / 2)
        deadline = time.monotonic() + parse_duration(timeout) if timeout is not None else None
        while True:
            description = self.describe()
            if on_poll is not None:
                on_poll(description)
            status = base.job_status(description)
            if status in base.TERMINAL_STATUSES:
                if raise_on_failure and status == base.FAILED:
                    raise JobFailed(self.name, status, description.get("FailureReason"))
                return self
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"{self.kind.capitalize()} job {self.name!r} is still {status} after "
                    f"{timeout}; it goes on."
                )
            time.sleep(poll)

    def stop(self) -> Job:
        """Ask the job to stop (``Stopping``, then ``Stopped``); return ``self`` at once."""
        if self.kind == "transform":
            self.backend.stop_transform_job(self.name)
        else:
            self.backend.stop_training_job(self.name)
        return self

    def row(self) -> JobRow:
        """Return this job as a table row (status, duration, cost) from a fresh describe."""
        record = self.session.ledger.get_job(self.name)
        return JobRow.from_description(self.describe(), self.backend_name, record)

    # -- display ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        try:
            row = self.row()
        except Exception:  # noqa: BLE001 - a repr must never raise
            return f"<Job {self.name} ({self.backend_name})>"
        return f"<Job {self.name} ({self.backend_name}) {row.status}/{row.secondary_status}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        make_widget = None
        if widgets_available():
            from sm_magics.widgets import JobWidget

            make_widget = functools.partial(JobWidget, self)
        return widget_bundle(repr(self), make_widget, include, exclude)


def widgets_available() -> bool:
    """Whether a kernel with a comm channel (a widget-capable frontend) runs us."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def format_log_line(event: base.LogEvent, with_host: bool) -> str:
    """Return one log line as text, with ``[algo-N]`` when several hosts write."""
    return f"[{event.host}] {event.message}" if with_host else event.message


@dataclass
class JobRow:
    """One job as tables show it."""

    name: str
    backend: str
    status: str
    secondary_status: str
    instance_type: str
    instance_count: int
    duration: float | None
    cost: float | None
    spot: bool = False

    @classmethod
    def from_record(cls, record: JobRecord) -> JobRow:
        """Build the row from the ledger alone (cheap: no backend call)."""
        start = record.started_at
        end = record.ended_at or (None if record.is_terminal else time.time())
        duration = (end - start) if start and end else None
        return cls(
            name=record.name,
            backend=record.backend,
            status=record.status,
            secondary_status=record.secondary_status or "",
            instance_type=record.instance_type or "",
            instance_count=record.instance_count,
            duration=duration,
            cost=_cost(
                duration, record.instance_type, record.instance_count, record.region, record.spot
            ),
            spot=record.spot,
        )

    @classmethod
    def from_description(
        cls, description: dict[str, Any], backend: str, record: JobRecord | None
    ) -> JobRow:
        """Build the row from a fresh ``DescribeTrainingJob``/``DescribeTransformJob``."""
        start = description.get("TrainingStartTime") or description.get("TransformStartTime")
        end = description.get("TrainingEndTime") or description.get("TransformEndTime")
        duration = None
        if start is not None:
            duration = ((end or datetime.now(tz=timezone.utc)) - start).total_seconds()
        region = record.region if record else None
        spot = bool(description.get("EnableManagedSpotTraining"))
        instance_type, count = base.job_resources(description)
        status = base.job_status(description)
        return cls(
            name=description.get("TrainingJobName") or description["TransformJobName"],
            backend=backend,
            status=status,
            secondary_status=description.get("SecondaryStatus", status),
            instance_type=instance_type,
            instance_count=count,
            duration=duration,
            cost=_cost(duration, instance_type, count, region, spot),
            spot=spot,
        )

    @property
    def instance(self) -> str:
        """``ml.m5.large`` or ``ml.m5.large x2``."""
        suffix = f" x{self.instance_count}" if self.instance_count > 1 else ""
        return f"{self.instance_type}{suffix}"


def _cost(
    seconds: float | None, instance_type: str | None, count: int, region: str | None, spot: bool
) -> float | None:
    if not seconds or not instance_type:
        return None if not instance_type else 0.0
    return pricing.cost_for(seconds, instance_type, count, region, spot=spot)


class JobTable(StatusTable[JobRow]):
    """The result of ``%sm_jobs``: an HTML table in notebooks, aligned text elsewhere."""

    columns = ("name", "backend", "status", "instance", "duration", "cost")
    empty_text = "No training jobs yet."
    css_class = "sm-magics-jobs"

    def cells(self, row: JobRow) -> list[str]:
        """Return one job's cells; the secondary status shows while it runs."""
        status = row.status + (f" ({row.secondary_status})" if row.status == "InProgress" else "")
        return [
            row.name,
            row.backend,
            status,
            row.instance,
            format_duration(row.duration),
            pricing.format_usd(row.cost),
        ]


__all__ = [
    "STATUS_COLOURS",
    "CostWarning",
    "Job",
    "JobRow",
    "JobTable",
    "NotFound",
    "Session",
    "generate_job_name",
    "validate_job_name",
]


def _async_spec(
    output: str | None, failure: str | None, max_concurrency: int | None
) -> base.AsyncInferenceSpec | None:
    """Return the asynchronous configuration of ``%sm_deploy --async-output ...``, if any."""
    if output is None:
        if failure is not None or max_concurrency is not None:
            raise InvalidRequest("--async-failure and --async-max-concurrency need --async-output.")
        return None
    if max_concurrency is not None and max_concurrency < 1:
        raise InvalidRequest("--async-max-concurrency must be at least 1.")
    return base.AsyncInferenceSpec(output, failure, max_concurrency)
