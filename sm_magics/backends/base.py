"""The one contract every backend honours, in SageMaker's own vocabulary.

A backend is where jobs run: this machine (``local``) or Amazon SageMaker (``sagemaker``).
Both speak the words of the SageMaker API so that a notebook, the widget and the side panel
never need to know which one they talk to:

* training status: ``InProgress`` → ``Completed`` | ``Failed`` | ``Stopping`` → ``Stopped``;
* secondary status: ``Starting`` (waiting for capacity), ``Downloading`` (channels),
  ``Training``, ``Uploading`` (the model), then ``Completed``, ``Failed``, ``Stopped``,
  ``MaxRuntimeExceeded``;
* :meth:`Backend.describe_training_job` returns the ``DescribeTrainingJob`` response shape
  (``TrainingJobStatus``, ``SecondaryStatus``, ``FailureReason``, ``ModelArtifacts``, ...);
* errors are the classes of :mod:`sm_magics.errors`, never a backend's own exceptions.

Each backend owns the ledger rows of what it runs, and is their only writer (besides the
ledger itself, and the backend's own detached processes):

* ``create_*`` inserts the whole row, with everything it will ever need from the spec
  (the rows are built once, in :mod:`sm_magics.backends.rows`: an endpoint's variants,
  its ``ttl`` in seconds, its asynchronous output), and removes it again if creation
  fails; ``update_endpoint`` records the desired variants;
* ``describe_*`` brings the row up to what the service says (status, times, model,
  failure reason, variants);
* a resource the service no longer has (``NotFound``, or a local folder removed out of
  band) has its row marked ``Deleted`` with ``deleted_at``, once, by the backend that
  found it gone, and only if the row is that backend's (same backend and region).

Nothing above the backends (the API, the server, cleanup) writes a row: to bring rows up
to date they call :meth:`Backend.refresh`.

This module is the contract alone. What it takes and gives lives beside it: the specs in
:mod:`~sm_magics.backends.specs`, log lines and invocation answers in
:mod:`~sm_magics.backends.results`, a backend's settings in
:mod:`~sm_magics.backends.options`, the status words in :mod:`~sm_magics.backends.statuses`.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from sm_magics.backends import kinds
from sm_magics.backends.options import BackendOptions
from sm_magics.backends.results import (
    AsyncInvokeResult,
    ChangeWatch,
    InvokeResult,
    LogBatch,
    LogCursor,
    LogEvent,
)
from sm_magics.backends.statuses import TERMINAL_STATUSES
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointRecord, JobRecord

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sm_magics.backends.descriptions import (
        EndpointDescription,
        ProcessingJobDescription,
        TrainingJobDescription,
        TransformJobDescription,
        TrialSummary,
        TuningJobDescription,
    )
    from sm_magics.backends.packages import PackageSpec
    from sm_magics.backends.processing import ProcessingSpec
    from sm_magics.backends.services import (
        EndpointsService,
        ProcessingService,
        RegistryService,
        TransformService,
        TuningService,
    )
    from sm_magics.backends.specs import EndpointSpec, TrainingSpec, TransformSpec, VariantSpec
    from sm_magics.model_registry import PackageRecord
    from sm_magics.tuning.spec import TuningSpec


class Backend(abc.ABC):
    """Where training jobs run; subclasses are stateless handles on that place.

    Every method is safe to call from any thread and from several processes at once (the
    kernel, the side panel's server, a job supervisor). Names are unique per backend.
    """

    #: The name users pass to ``-b``.
    name: ClassVar[str]
    #: Seconds between two status reads while following or waiting: cheap locally, and
    #: kept well under SageMaker's Describe* rate limits on AWS.
    status_poll_interval: ClassVar[float] = 1.0
    #: Runs this backend's tuning jobs; built by the subclass (the contract's tuning
    #: methods below are calls to it).
    tuning: TuningService
    #: Keeps this backend's model registry; built by the subclass, called the same way.
    packages: RegistryService
    #: Runs this backend's endpoints; built by the subclass, called the same way.
    endpoints: EndpointsService
    #: Runs batch transform jobs and processing jobs; built by the subclass, called the
    #: same way.
    transforms: TransformService
    processing: ProcessingService

    def __init__(
        self,
        *,
        region: str | None = None,
        ledger: Ledger | None = None,
        options: BackendOptions | None = None,
    ) -> None:
        self.region = region
        self.ledger: Ledger = ledger or Ledger()
        self.options = options or BackendOptions()

    def refresh(self, record: JobRecord | EndpointRecord) -> JobRecord | EndpointRecord | None:
        """Describe the resource of a ledger row, so that the row follows; return it again.

        This is the one way to bring a row up to date: the describe syncs it, and a
        resource gone from the service comes back as a ``Deleted`` row (the ``NotFound``
        is the answer, not an error, here). Returns ``None`` if the row is not in the
        ledger any more. Other errors (no credentials, throttling) propagate: the caller
        decides whether the ledger's word is good enough meanwhile.
        """
        from sm_magics.errors import NotFound

        ledger = self.ledger
        try:
            if isinstance(record, EndpointRecord):
                self.describe_endpoint(record.name)
            else:
                kinds.describe(self, record.kind, record.name)
        except NotFound:
            pass
        if isinstance(record, EndpointRecord):
            return ledger.get_endpoint(record.name)
        return ledger.get_job(record.name)

    @abc.abstractmethod
    def create_training_job(self, spec: TrainingSpec) -> None:
        """Start a training job and return as soon as it is accepted (never waits for it).

        Raises
        ------
        AlreadyExists
            A job of that name exists.
        InvalidRequest
            The spec cannot run here (a missing input path, an unsupported URI scheme).
            Nothing is left behind: no ledger row, no folder, no process.
        """

    def notes_for(self, spec: TrainingSpec) -> list[str]:
        """Return remarks for the user about how this backend treats ``spec``.

        The local backend uses this to say which SageMaker-only options it recorded but
        did not act on. Empty by default.
        """
        return []

    def status_token(self, name: str) -> object | None:
        """Return a cheap value that changes whenever job ``name``'s status may have.

        Followers and waits compare it every few tens of milliseconds and describe the job
        only when it changed (or at :attr:`status_poll_interval`), so a job's end is seen at
        once. ``None`` (the default, and on SageMaker): the backend cannot tell cheaply.
        """
        return None

    def change_watch(self, name: str) -> ChangeWatch | None:
        """Return a watch that wakes when job ``name``'s logs or status change, or ``None``.

        A follower blocks on it before the job's first lines instead of polling, so the
        first line shows the moment it is written. The caller closes it. ``None`` (the
        default, on SageMaker, and where the platform has no cheap way): it polls.
        """
        return None

    @abc.abstractmethod
    def describe_training_job(self, name: str) -> TrainingJobDescription:
        """Return the job as SageMaker's ``DescribeTrainingJob`` would.

        Raises
        ------
        NotFound
            No job of that name on this backend.
        """

    @abc.abstractmethod
    def stop_training_job(self, name: str) -> None:
        """Ask a job to stop: ``Stopping`` at once, ``Stopped`` when its processes are gone.

        Idempotent: stopping a job that already ended does nothing.
        """

    @abc.abstractmethod
    def read_training_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """Return the log lines written since ``cursor`` (all lines when ``None``).

        Lines of all hosts come merged in timestamp order. A line is returned once and only
        once across a sequence of calls that pass back each returned cursor.
        """

    # -- endpoints: the backend's EndpointsService (``self.endpoints``) ---------------------

    def create_endpoint(self, spec: EndpointSpec) -> None:
        """Start creating an endpoint; return at once (status ``Creating``).

        Raises
        ------
        AlreadyExists
            A live endpoint has that name.
        InvalidRequest
            A model or entry point that does not exist; nothing is left behind.
        """
        self.endpoints.create_endpoint(spec)

    def update_endpoint(self, name: str, variants: list[VariantSpec]) -> None:
        """Move a live endpoint to ``variants`` (the whole desired list) without downtime.

        New variants are up before traffic moves to them; removed ones drain first. If
        the new configuration cannot start, the endpoint keeps serving the old one.
        """
        self.endpoints.update_endpoint(name, variants)

    def variant_environments(self, name: str) -> dict[str, dict[str, str]]:
        """Return the environment each variant of endpoint ``name`` runs with, by variant.

        The ledger keeps only the *names* of a variant's ``--env`` variables (values may
        be credentials, and the ledger is read by every process and the side panel); an
        update that redeploys an existing variant reads the values here, from where this
        backend keeps them (the endpoint folder's config, mode 0600; the SageMaker model's
        container environment). May hold more than the user gave (what the container was
        given besides): callers take the names they need.

        Raises
        ------
        NotFound
            No endpoint of that name on this backend.
        """
        return self.endpoints.variant_environments(name)

    def fetch(self, uri: str, dest: Path) -> None:
        """Copy the artifact at ``uri`` (a ``model.tar.gz``, an output) to the file ``dest``.

        The base implementation reads ``file://`` URIs and local paths; backends that keep
        artifacts elsewhere (S3) override it.
        """
        import shutil
        from urllib.parse import unquote, urlparse

        from sm_magics.errors import InvalidRequest, NotFound

        parsed = urlparse(uri)
        if parsed.scheme not in ("", "file"):
            raise InvalidRequest(f"The {self.name} backend cannot fetch {uri}.")
        source = Path(unquote(parsed.path) if parsed.scheme else uri).expanduser()
        if not source.is_file():
            raise NotFound(f"{uri} does not exist.")
        shutil.copyfile(source, dest)

    def set_autoscaling(self, name: str, variant: str, min_capacity: int, max_capacity: int) -> str:
        """Let a variant of an ``InService`` endpoint scale between two instance counts.

        Returns a line for the user. Backends without autoscaling raise
        ``InvalidRequest``.
        """
        from sm_magics.errors import InvalidRequest

        raise InvalidRequest(f"The {self.name} backend cannot autoscale endpoints.")

    def describe_endpoint(self, name: str) -> EndpointDescription:
        """Return the endpoint as SageMaker's ``DescribeEndpoint`` would.

        Raises
        ------
        NotFound
            No live endpoint of that name.
        """
        return self.endpoints.describe_endpoint(name)

    def delete_endpoint(self, name: str) -> None:
        """Delete the endpoint and everything it runs; when this returns nothing is left.

        Raises
        ------
        NotFound
            No live endpoint of that name.
        """
        self.endpoints.delete_endpoint(name)

    def invoke_endpoint(
        self,
        name: str,
        body: bytes,
        *,
        content_type: str,
        accept: str | None = None,
        target_variant: str | None = None,
    ) -> InvokeResult:
        """Send one request, as ``sagemaker-runtime`` ``InvokeEndpoint``.

        Raises
        ------
        ModelError
            The model's handlers failed on this request.
        NotFound
            No live endpoint of that name.
        InvalidRequest
            Unknown variant, or an endpoint not ``InService``.
        """
        return self.endpoints.invoke_endpoint(
            name, body, content_type=content_type, accept=accept, target_variant=target_variant
        )

    def invoke_endpoint_async(
        self,
        name: str,
        body: bytes,
        *,
        content_type: str,
        accept: str | None = None,
    ) -> AsyncInvokeResult:
        """Queue one request to an asynchronous endpoint, as ``InvokeEndpointAsync``.

        Returns where the answer will be written (``output_location``, or
        ``failure_location`` if the model fails on it); read it with :meth:`fetch`.
        Not abstract: a backend without asynchronous endpoints refuses clearly.

        Raises
        ------
        InvalidRequest
            The endpoint was not deployed with an asynchronous configuration, or the
            backend has none.
        NotFound
            No live endpoint of that name.
        """
        from sm_magics.errors import InvalidRequest

        raise InvalidRequest(
            f"The {self.name} backend has no asynchronous endpoints; deploy without "
            "--async-output and invoke in real time."
        )

    def read_endpoint_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """Return the endpoint's log lines after ``cursor`` (every variant and worker)."""
        return self.endpoints.read_endpoint_logs(name, cursor)

    # -- batch transform: the backend's TransformService (``self.transforms``) ---------------

    def create_transform_job(self, spec: TransformSpec) -> None:
        """Start a batch transform job; return at once (status ``InProgress``).

        Every file of ``input_uri`` goes through the model; results land in
        ``output_uri`` as ``<input file>.out``.
        """
        self.transforms.create_transform_job(spec)

    def describe_transform_job(self, name: str) -> TransformJobDescription:
        """Return the job as SageMaker's ``DescribeTransformJob`` would."""
        return self.transforms.describe_transform_job(name)

    def stop_transform_job(self, name: str) -> None:
        """Ask a transform job to stop; idempotent on a job that ended."""
        self.transforms.stop_transform_job(name)

    def read_transform_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """Return a transform job's log lines after ``cursor``."""
        return self.transforms.read_transform_logs(name, cursor)

    # -- processing: the backend's ProcessingService (``self.processing``) ------------------

    def create_processing_job(self, spec: ProcessingSpec) -> None:
        """Start a processing job; return as soon as it is accepted (status ``InProgress``).

        The script runs on ``spec.instance_count`` hosts with each input under its
        ``/opt/ml/processing/...`` destination (a ``ShardedByS3Key`` input split across
        hosts); when it succeeds, each output's folder is stored at the output's URI,
        which :meth:`describe_processing_job` names in ``ProcessingOutputConfig``.

        Raises
        ------
        AlreadyExists
            A job of that name exists.
        InvalidRequest
            An input that does not exist, a URI this backend cannot read or write.
            Nothing is left behind: no ledger row, no folder, no process, no job.
        """
        self.processing.create_processing_job(spec)

    def describe_processing_job(self, name: str) -> ProcessingJobDescription:
        """Return the job as SageMaker's ``DescribeProcessingJob`` would; syncs its row.

        Raises
        ------
        NotFound
            No processing job of that name on this backend.
        """
        return self.processing.describe_processing_job(name)

    def stop_processing_job(self, name: str) -> None:
        """Ask a processing job to stop; idempotent on a job that ended."""
        self.processing.stop_processing_job(name)

    def read_processing_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """Return a processing job's log lines after ``cursor`` (every host, merged)."""
        return self.processing.read_processing_logs(name, cursor)

    # -- tuning: the backend's TuningService (``self.tuning``) ------------------------------

    def create_tuning_job(self, spec: TuningSpec) -> None:
        """Start a hyperparameter tuning job; return as soon as it is accepted.

        Trials are training jobs of ``spec.training`` with each trial's sample of
        ``spec.ranges`` added to its hyperparameters, at most ``spec.max_parallel`` at a
        time, ``spec.max_jobs`` in all; each trial's objective is the last value of the
        ``spec.objective`` metric in its logs.

        Raises
        ------
        AlreadyExists
            A job of that name exists.
        InvalidRequest
            A spec this backend cannot run; nothing is left behind.
        BackendUnavailable
            The local backend without Optuna (the optional ``tuning`` extra).
        """
        self.tuning.create_tuning_job(spec)

    def describe_tuning_job(self, name: str) -> TuningJobDescription:
        """Return the job as ``DescribeHyperParameterTuningJob`` would; syncs its row.

        Raises
        ------
        NotFound
            No tuning job of that name on this backend.
        """
        return self.tuning.describe_tuning_job(name)

    def stop_tuning_job(self, name: str) -> None:
        """Stop the tuning job and every running trial; idempotent once it ended."""
        self.tuning.stop_tuning_job(name)

    def list_tuning_trials(self, name: str) -> Sequence[TrialSummary]:
        """Return ``ListTrainingJobsForHyperParameterTuningJob``'s summaries, newest first.

        Each trial is also a training job of this backend (describe it, read its logs,
        deploy it) with a ledger row tagged ``sm-magics:tuning-job``.
        """
        return self.tuning.list_tuning_trials(name)

    def read_tuning_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """Return the trials' log lines after ``cursor``, merged, each host named by trial.

        A line of host ``algo-1`` of trial ``tune-003-1a2b3c4d`` comes as host
        ``003/algo-1``. Trials that ended and were read to their end are not read again.
        """
        state = cursor or {}
        trials, ended = state.get("trials"), state.get("done")
        per_trial: dict[str, LogCursor] = dict(trials) if isinstance(trials, dict) else {}
        done: set[str] = set(ended) if isinstance(ended, list) else set()
        events: list[LogEvent] = []
        for summary in reversed(self.list_tuning_trials(name)):
            trial = summary["TrainingJobName"]
            if trial in done:
                continue
            batch = self.read_training_logs(trial, per_trial.get(trial))
            per_trial[trial] = batch.cursor
            number = trial[len(name) + 1 :].split("-")[0] or trial
            events.extend(
                LogEvent(e.timestamp, f"{number}/{e.host}", e.message) for e in batch.events
            )
            if summary["TrainingJobStatus"] in TERMINAL_STATUSES and not batch.events:
                done.add(trial)
        events.sort(key=lambda e: e.timestamp)
        return LogBatch(events, {"trials": per_trial, "done": sorted(done)})

    # -- model registry: the backend's RegistryService (``self.packages``) ------------------

    def register_model(self, spec: PackageSpec, *, by: str) -> PackageRecord:
        """Register a new version of ``spec.group`` (the group is made on first use).

        Returns the version as the ledger records it (ARN, version number, status, the
        approval history starting with ``by``). Nothing registered is ever deleted by
        ``%sm_cleanup``.

        Raises
        ------
        InvalidRequest
            No model at ``spec.model_data``, or one this backend cannot register.
        """
        return self.packages.register_model(spec, by=by)

    def set_model_approval(
        self, arn: str, status: str, *, by: str, note: str | None = None
    ) -> PackageRecord:
        """Set a version's approval status (``Approved``, ``Rejected``, ...), recording who.

        Raises
        ------
        NotFound
            No model package with that ARN.
        """
        return self.packages.set_model_approval(arn, status, by=by, note=note)

    def list_model_packages(self, group: str | None = None) -> list[PackageRecord]:
        """Return the versions of ``group`` (every group's when ``None``), newest first."""
        return self.packages.list_model_packages(group)
