"""``Session``: where jobs and endpoints are sent, with the defaults of the configuration.

Every magic is one call here, so everything a notebook does with ``%%sm_train`` a script
or a test can do without IPython::

    from sm_magics import Session
    job = Session().train("print('hello')", hyperparameters={"epochs": 2})
    job.wait().status            # 'Completed'
    job.model_data               # 'file:///.../model.tar.gz'

A job kind is four things: its spec (:mod:`sm_magics.backends.base`, built and checked in
:mod:`sm_magics.api.specs`), a ``Session`` method that creates it, the backend's methods,
and its view (:mod:`sm_magics.display`, :mod:`sm_magics.widgets`).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sm_magics import config, limits, pricing
from sm_magics.api import deploy as _deploy
from sm_magics.api import lineage as _lineage
from sm_magics.api import processing as _processing
from sm_magics.api import registry as _registry
from sm_magics.api import runs as _runs
from sm_magics.api import tuning as _tuning
from sm_magics.api.deploy import resolve_model
from sm_magics.api.job import Job
from sm_magics.api.names import DEFAULT_JOB_PREFIX, generate_job_name, validate_job_name
from sm_magics.api.specs import training_spec
from sm_magics.backends import base, kinds, registry
from sm_magics.display.endpoints import EndpointRow, EndpointTable
from sm_magics.display.jobs import JobRow, JobTable
from sm_magics.durations import parse_duration
from sm_magics.endpoint import Endpoint
from sm_magics.errors import AlreadyExists, BudgetExceeded, InvalidRequest, NotFound
from sm_magics.ledger import Ledger

if TYPE_CHECKING:
    from sm_magics.cleanup import CleanupReport
    from sm_magics.costs import CostSummary


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
    mlflow_tracking_uri
        Also log every run that ended to this MLflow tracking server (``file:``,
        ``http(s)://`` or a SageMaker MLflow ARN); else ``SM_MAGICS_MLFLOW_TRACKING_URI``.
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
        mlflow_tracking_uri: str | None = None,
        **backend_options: Any,
    ) -> None:
        self.backend_name = backend or config.default_backend()
        #: Where ended runs are also logged as MLflow runs (:meth:`sync_tracking`).
        self.mlflow_tracking_uri = mlflow_tracking_uri or os.environ.get(
            "SM_MAGICS_MLFLOW_TRACKING_URI"
        )
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
            self._backends[key] = registry.create_backend(
                key, region=self.region, ledger=self.ledger, settings=self.backend_options
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
        distribution: str | None = None,
        driver: str | None = None,
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
        spec = training_spec(
            self,
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
            distribution=distribution,
            driver=driver,
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
        self._create(target.create_training_job, spec, generated=name is None)
        job = Job(self, spec.name, target.name)
        job.notes = target.notes_for(spec)
        return job

    @staticmethod
    def _create(create: Callable[[Any], None], spec: Any, *, generated: bool) -> None:
        """Call ``create(spec)``; a generated name that is taken gets a new one and a retry.

        Two jobs submitted in the same millisecond get the same generated name; a name the
        user chose is never changed. The prefix is kept from the first name.
        """
        prefix = spec.name.rsplit("-", 7)[0]
        attempts = 20
        for attempt in range(attempts):
            try:
                create(spec)
                return
            except AlreadyExists:
                if not generated or attempt == attempts - 1:
                    raise  # never hand back a handle on a job that was not created
                time.sleep(0.001)
                spec.name = generate_job_name(prefix)

    # -- processing -------------------------------------------------------------------------

    process = _processing.process

    # -- serving ----------------------------------------------------------------------------

    deploy = _deploy.deploy

    # -- tuning -----------------------------------------------------------------------------

    tune = _tuning.tune

    # -- runs, registry, lineage (the MLOps half: api/runs.py, registry.py, lineage.py) ----

    runs = _runs.runs
    runs_table = _runs.runs_table
    compare = _runs.compare
    register = _registry.register
    models = _registry.models
    approve = _registry.approve
    reject = _registry.reject
    lineage = _lineage.lineage

    def sync_tracking(self) -> list[str]:
        """Log every ended run not yet in MLflow (``mlflow_tracking_uri``); return new ids.

        Does nothing without a tracking URI. Runs are found again by their job's name, so
        calling it often logs nothing twice.
        """
        if not self.mlflow_tracking_uri:
            return []
        from sm_magics.tracking.mlflow_export import export_runs

        return export_runs(self, self.mlflow_tracking_uri, _runs.run_rows(self))

    def endpoint(self, name: str) -> Endpoint:
        """Return the handle of a live endpoint, on whichever backend serves it."""
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
        instance_count = limits.check_instance_count(instance_count)
        uri, source_job, backend_name = resolve_model(self, model, backend)
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
        if record is not None and record.kind == _tuning.KIND:
            return _tuning.Tuning(self, name, record.backend)
        if record is not None:
            return Job(self, name, record.backend, kind=record.kind)
        # Not started from this machine: ask the backend, kind by kind.
        for kind in (kinds.TRAINING.name, kinds.PROCESSING.name):
            try:
                kinds.describe(self.backend(), kind, name)
            except NotFound:
                continue
            return Job(self, name, self.backend_name, kind=kind)
        raise NotFound(
            f"No job named {name!r} in the ledger or on the {self.backend_name} backend; "
            "%sm_jobs lists the known ones."
        )

    def jobs(
        self,
        *,
        status: str | None = None,
        backend: str | None = None,
        kind: str | None = None,
        limit: int | None = 50,
    ) -> JobTable:
        """Return recent jobs from the ledger, with running ones refreshed from their backend.

        ``kind`` keeps one job kind (``training``, ``processing``, ...).
        """
        if kind is not None and kind not in kinds.KINDS:
            raise InvalidRequest(
                f"Unknown job kind {kind!r}; choose one of: {', '.join(kinds.KINDS)}."
            )
        if backend is not None and backend not in registry.available_backends():
            raise InvalidRequest(
                f"Unknown backend {backend!r}; choose one of: "
                f"{', '.join(registry.available_backends())}."
            )
        for record in self.ledger.list_jobs(active_only=True, backend=backend, kind=kind):
            try:
                kinds.describe(self.backend(record.backend), record.kind, record.name)
            except Exception:  # noqa: BLE001, S112 - a table must show even if one job can't refresh
                continue
        records = self.ledger.list_jobs(status=status, backend=backend, kind=kind, limit=limit)
        return JobTable([JobRow.from_record(r) for r in records])


class CostWarning(UserWarning):
    """A cost could not be checked (an instance type without a price)."""
