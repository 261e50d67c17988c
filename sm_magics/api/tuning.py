"""The ``Tuning`` handle and ``Session.tune``: hyperparameter tuning as a job kind.

A tuning job is a job (its status, logs, stop and wait are a job's) whose trials are
training jobs; the handle adds what only tuning has: the trials, :meth:`Tuning.results`
(a DataFrame when pandas is there), the best trial as a :class:`~sm_magics.api.job.Job`
(``tuning.best_job``, which ``%sm_deploy TUNING_NAME`` deploys).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sm_magics import display
from sm_magics.api.job import Job
from sm_magics.backends.results import LogBatch, LogCursor
from sm_magics.display.tuning import trials_progress
from sm_magics.errors import InvalidRequest

if TYPE_CHECKING:
    from sm_magics.api.session import Session
    from sm_magics.backends.descriptions import TrialSummary, TuningJobDescription
    from sm_magics.tuning.spec import TuningSpec

KIND = "tuning"


class Tuning(Job):
    """A handle on one hyperparameter tuning job; every property asks the backend.

    Displayed in a notebook it is a live widget: the trials as a sortable table, the best
    objective over time, each trial's objective curve, the cost of all trials and a Stop
    button that stops the tuning job and its trials.
    """

    def __init__(self, session: Session, name: str, backend: str) -> None:
        super().__init__(session, name, backend, kind=KIND)

    def describe(self) -> TuningJobDescription:
        """Return the backend's ``DescribeHyperParameterTuningJob`` response."""
        return self.backend.describe_tuning_job(self.name)

    @property
    def status(self) -> str:
        """``InProgress``, ``Completed``, ``Failed``, ``Stopping`` or ``Stopped``."""
        return str(self.describe()["HyperParameterTuningJobStatus"])

    @property
    def secondary_status(self) -> str:
        """Progress: ``"7/20 trials"``."""
        return trials_progress(self.describe())

    @property
    def model_data(self) -> str | None:
        """The best trial's ``model.tar.gz``, once there is a best trial."""
        best = self.best_job
        return best.model_data if best is not None else None

    def read_logs(self, cursor: LogCursor | None = None) -> LogBatch:
        """Return the trials' log lines after ``cursor`` (hosts named ``NNN/algo-1``)."""
        return self.backend.read_tuning_logs(self.name, cursor)

    def stop(self) -> Tuning:
        """Stop the tuning job and its running trials; return ``self`` at once."""
        self.backend.stop_tuning_job(self.name)
        return self

    def trials(self) -> list[TrialSummary]:
        """Return every trial's ``HyperParameterTrainingJobSummary``, newest first."""
        return list(self.backend.list_tuning_trials(self.name))

    @property
    def best_job(self) -> Job | None:
        """The best trial so far, as a training job handle (``None`` before the first)."""
        best = self.describe().get("BestTrainingJob")
        name = best.get("TrainingJobName") if best else None
        return Job(self.session, name, self.backend_name) if name else None

    @property
    def best_params(self) -> dict[str, Any]:
        """The best trial's tuned hyperparameters, with their JSON types."""
        from sm_magics.tuning.ranges import decode_value

        best = self.describe().get("BestTrainingJob")
        tuned = best.get("TunedHyperParameters") if best else None
        return {k: decode_value(v) for k, v in (tuned or {}).items()}

    def results(self) -> Any:
        """Return one row per trial, best objective first: a DataFrame if pandas is there.

        Columns: ``trial``, ``status``, ``objective``, one per tuned hyperparameter,
        ``duration_s``, ``cost_usd`` (on SageMaker prices; local trials show what they
        would cost), ``early_stopped`` and ``failure`` (the trial's own error line).
        Works while the job runs (finished trials have their objective, others ``None``).
        """
        from sm_magics.display.tuning import trial_rows

        description = self.describe()
        rows = trial_rows(self.trials(), description, self.session.ledger)
        try:
            import pandas as pd  # type: ignore[import-untyped, unused-ignore]
        except ImportError:
            return rows
        return pd.DataFrame(rows)

    def row(self) -> Any:
        """Return this job as a ``%sm_jobs`` row, from the ledger (no backend call)."""
        from sm_magics.display.jobs import JobRow

        record = self.session.ledger.get_job(self.name)
        if record is None:
            raise InvalidRequest(f"Tuning job {self.name} is not in the ledger.")
        return JobRow.from_record(record)

    # -- display ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        record = self.session.ledger.get_job(self.name)
        if record is None:
            return f"<Tuning {self.name} ({self.backend_name})>"
        progress = f", {record.secondary_status}" if record.secondary_status else ""
        return f"<Tuning {self.name} ({self.backend_name}) {record.status}{progress}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        make_widget = None
        if display.widgets_available():
            from sm_magics.tuning_widget import TuningWidget

            make_widget = functools.partial(TuningWidget, self)
        return display.widget_bundle(
            repr(self), make_widget, include, exclude, html=self._snapshot_html()
        )

    def _snapshot_html(self) -> str | None:
        """Return the static view shown where the widget cannot be (no kernel, nbconvert)."""
        from sm_magics.display.jobs import snapshot_html
        from sm_magics.display.tuning import (
            trial_params,
            trial_rows,
            trials_table_html,
            tuning_header_html,
        )

        try:
            description = self.describe()
            rows = trial_rows(self.trials(), description, self.session.ledger)
        except Exception:  # noqa: BLE001 - a display must never raise
            return None
        header = tuning_header_html(description, rows, self.backend_name)
        return snapshot_html(header + trials_table_html(rows, trial_params(rows)), self.name)


def best_trial_of(session: Session, name: str, backend: str) -> str:
    """Return the name of tuning job ``name``'s best trial (what deploying it deploys).

    Raises
    ------
    InvalidRequest
        No trial has finished with an objective yet.
    """
    tuning = Tuning(session, name, backend)
    description = tuning.describe()
    best = (description.get("BestTrainingJob") or {}).get("TrainingJobName")
    if not best:
        status = description["HyperParameterTuningJobStatus"]
        raise InvalidRequest(
            f"Tuning job {name} is {status} with no finished trial to deploy yet"
            + (f": {description['FailureReason']}" if description.get("FailureReason") else ".")
        )
    if session.ledger.get_job(str(best)) is None:
        tuning.trials()  # the sagemaker backend records the trials it lists
    return str(best)


def tuning_spec(
    session: Session,
    *,
    name: str | None,
    training: dict[str, Any],
    script: str | None,
    objective: str,
    ranges: list[str],
    minimize: bool = False,
    max_jobs: int | None = None,
    max_parallel: int = 1,
    strategy: str = "bayesian",
    early_stopping: str = "off",
    warm_start: list[str] | None = None,
    max_runtime: str | int | None = None,
    random_seed: int | None = None,
) -> TuningSpec:
    """Return the spec of a new tuning job, every option checked; nothing is created.

    ``training`` holds the options of the trials' training job, as ``%%sm_train`` takes
    them (one path: :func:`~sm_magics.api.specs.training_spec` checks them); ``ranges``
    the ``--range`` texts.
    """
    from sm_magics.api.names import generate_job_name
    from sm_magics.api.specs import training_spec
    from sm_magics.durations import parse_duration
    from sm_magics.tuning import ranges as ranges_mod
    from sm_magics.tuning.spec import (
        DEFAULT_MAX_JOBS,
        TuningSpec,
        parse_early_stopping,
        parse_strategy,
        validate_tuning_name,
    )

    tuning_name = validate_tuning_name(name) if name else generate_job_name("sm-tune")
    template = training_spec(session, script=script, name=tuning_name, **training)
    return TuningSpec(
        name=tuning_name,
        training=template,
        objective=objective,
        ranges=ranges_mod.parse_ranges(ranges),
        objective_type="Minimize" if minimize else "Maximize",
        max_jobs=DEFAULT_MAX_JOBS if max_jobs is None else int(max_jobs),
        max_parallel=int(max_parallel),
        strategy=parse_strategy(strategy),
        early_stopping=parse_early_stopping(early_stopping),
        warm_start=list(warm_start or []),
        max_runtime=parse_duration(max_runtime) if max_runtime else None,
        random_seed=random_seed,
    )


def tune(
    self: Session,
    spec: TuningSpec,
    *,
    backend: str | None = None,
    force: bool = False,
) -> Tuning:
    """Start a tuning job of ``spec`` and return its handle at once.

    The budget guard counts what the tuning job can run at once: ``max_parallel`` trials
    of the template's instances.

    Raises
    ------
    InvalidRequest, AlreadyExists, BudgetExceeded, BackendUnavailable
        Nothing is created.
    """
    from sm_magics import costs

    backend_name = backend or self.backend_name
    training = spec.training
    if not force:
        per_trial = costs.rate_for(
            "training",
            training.instance_type,
            training.instance_count,
            training.region,
            spot=training.spot,
        ).per_hour
        self.check_budget(
            f"tuning job {spec.name} ({spec.max_parallel} trials at once)",
            None if per_trial is None else per_trial * spec.max_parallel,
            backend_name,
            unpriced=[training.instance_type],
        )
    target = self.backend(backend_name)
    target.create_tuning_job(spec)
    return Tuning(self, spec.name, target.name)
