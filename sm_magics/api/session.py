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
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sm_magics import config, costs
from sm_magics.api import deploy as _deploy
from sm_magics.api import lineage as _lineage
from sm_magics.api import processing as _processing
from sm_magics.api import registry as _registry
from sm_magics.api import runs as _runs
from sm_magics.api import tuning as _tuning
from sm_magics.api.deploy import resolve_model
from sm_magics.api.job import Job
from sm_magics.api.names import DEFAULT_JOB_PREFIX, generate_job_name
from sm_magics.api.specs import training_spec, transform_spec
from sm_magics.backends import base, kinds, registry
from sm_magics.display.endpoints import EndpointRow, EndpointTable
from sm_magics.display.jobs import JobRow, JobTable
from sm_magics.durations import parse_duration
from sm_magics.endpoint import Endpoint
from sm_magics.errors import AlreadyExists, BudgetExceeded, InvalidRequest, NotFound
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointRecord, JobRecord

if TYPE_CHECKING:
    from sm_magics.cleanup import CleanupReport
    from sm_magics.display.costs import CostSummary

#: A ledger row :meth:`Session.refresh` brings up to date.
R = TypeVar("R", JobRecord, EndpointRecord)


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

    def backend(self, name: str | None = None, region: str | None = None) -> base.Backend:
        """Return the backend ``name`` (default: this session's) in ``region``, created once.

        ``region`` is a ledger row's (or a handle's): a job or endpoint in another region
        than the session's would look gone from the session's own backend, and be wrongly
        marked so. The local backend has no region.
        """
        key = name or self.backend_name
        if key != "local" and region and region != self.region:
            key = f"{key}@{region}"
        else:
            region = self.region
        if key not in self._backends:
            self._backends[key] = registry.create_backend(
                key.partition("@")[0],
                region=region,
                ledger=self.ledger,
                settings=self.backend_options,
            )
        return self._backends[key]

    def refresh(self, records: Iterable[R], *, strict: bool = False) -> list[R]:
        """Describe each record that may still run on its backend; return the fresh rows.

        The one way the kernel, the server and cleanup bring ledger rows up to date: the
        backend owns its rows (its describe syncs the row, and a resource it no longer
        knows it marks ended or ``Deleted`` before raising ``NotFound``), so this method
        writes nothing itself. Terminal jobs and deleted endpoints are not described. A
        backend that cannot answer (no credentials, say) leaves the row as the ledger has
        it, unless ``strict`` (one item asked for by name), when its error is raised. Rows
        that no longer exist are left out of the result.
        """
        fresh: list[R] = []
        for record in records:
            still_running = (
                record.is_live if isinstance(record, EndpointRecord) else not record.is_terminal
            )
            again: JobRecord | EndpointRecord | None = record
            if still_running:
                try:
                    again = self.backend(record.backend, record.region).refresh(record)
                except Exception:
                    if strict:
                        raise
            if again is not None:
                fresh.append(cast(R, again))
        return fresh

    # -- training ---------------------------------------------------------------------------

    def train(
        self,
        script: str | None = None,
        *,
        backend: str | None = None,
        force: bool = False,
        **options: Any,
    ) -> Job:
        """Start a training job and return its handle at once.

        Give the training code as ``script`` (a cell's text, which becomes ``train.py`` in
        the code folder, next to the files of ``source_dir``) or as ``entry_point``, a file
        inside ``source_dir`` run unchanged.

        ``options`` are the fields of :class:`~sm_magics.backends.specs.TrainingSpec`
        (:data:`~sm_magics.api.specs.TRAINING_OPTIONS`: ``hyperparameters``, ``inputs``,
        ``instance_type``, ``max_run="2h"``, ...), checked by
        :func:`~sm_magics.api.specs.training_spec`, the one place they are.

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
        spec = training_spec(self, script, **options)
        backend_name = backend or self.backend_name
        if not force:
            self.check_budget(
                f"training job {spec.name}",
                costs.rate_for(
                    "training", spec.instance_type, spec.instance_count, spec.region, spot=spec.spot
                ).per_hour,
                backend_name,
                unpriced=[spec.instance_type],
            )
        target = self.backend(backend)
        self._create(target.create_training_job, spec, generated=options.get("name") is None)
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
            return Endpoint.from_record(self, record)
        try:
            self.backend().describe_endpoint(name)
        except NotFound:
            raise NotFound(
                f"No endpoint named {name!r} is running; %sm_endpoints lists them."
            ) from None
        return Endpoint(self, name, self.backend_name)

    def endpoints(self, *, backend: str | None = None) -> EndpointTable:
        """Return the live endpoints of the ledger, refreshed from their backends."""
        records = self.refresh(self.ledger.list_endpoints(backend=backend))
        return EndpointTable([EndpointRow.from_record(r) for r in records if r.is_live])

    def batch(
        self, model: str, *, backend: str | None = None, force: bool = False, **options: Any
    ) -> Job:
        """Run every file of ``input`` through a model into ``output``; return the job.

        ``model`` is a training job's name or a ``model.tar.gz`` URI; ``options`` are
        :data:`~sm_magics.api.specs.TRANSFORM_OPTIONS` (``input``, ``output``,
        ``instance_type``, ...), checked by :func:`~sm_magics.api.specs.transform_spec`.
        ``force`` skips the budget guard, which prices the job's instances at hosting
        rates (SageMaker bills batch transform so).
        """
        uri, source_job, backend_name = resolve_model(self, model, backend)
        spec = transform_spec(self, uri, source_job, **options)
        if not force:
            model_spec = spec.model
            self.check_budget(
                f"transform job {spec.name}",
                costs.rate_for(
                    "transform", model_spec.instance_type, model_spec.instance_count, spec.region
                ).per_hour,
                backend_name,
                unpriced=[model_spec.instance_type],
            )
        target = self.backend(backend_name)
        target.create_transform_job(spec)
        return Job(self, spec.name, target.name, kind="transform")

    # -- cost control -----------------------------------------------------------------------

    def costs(self, *, refresh: bool = True) -> CostSummary:
        """Return what runs and bills now, with today's, this month's and this notebook's totals.

        What the ledger has as running is described first (:meth:`refresh`: one describe
        per running job or live endpoint, none for history), so something that ended or
        vanished since it was last looked at (an endpoint its ``--ttl`` deleted) is not
        counted as billing. ``refresh=False`` reads the ledger alone. The totals are the
        ledger's; see :mod:`sm_magics.costs`.
        """
        from sm_magics.cost_summary import summarize

        if refresh:
            self.refresh_running()
        return summarize(self.ledger, notebook=self.notebook)

    def refresh_running(self, backend: str | None = None) -> None:
        """:meth:`refresh` every job and endpoint the ledger has as running (on ``backend``)."""
        self.refresh(self.ledger.list_jobs(active_only=True, backend=backend))
        self.refresh(self.ledger.list_endpoints(live_only=True, backend=backend))

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
        from sm_magics.cost_summary import billing_per_hour_on

        running = billing_per_hour_on(self.ledger, backend)
        if per_hour > 0 and per_hour + running > limit + 1e-9:
            # Over by the ledger's word: make sure what it counts still runs (a describe
            # each, only now, so a request well under the limit costs no backend call).
            self.refresh_running(backend)
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
            return Job.from_record(self, record)
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
        self.refresh(self.ledger.list_jobs(active_only=True, backend=backend, kind=kind))
        records = self.ledger.list_jobs(status=status, backend=backend, kind=kind, limit=limit)
        return JobTable([JobRow.from_record(r) for r in records])


class CostWarning(UserWarning):
    """A cost could not be checked (an instance type without a price)."""
