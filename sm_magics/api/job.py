"""The ``Job`` handle: one job of any kind (training, transform, processing), by name.

A ``Job`` is a light handle (a name and a backend): it holds no state of its own, so two
handles of one job never disagree, and a handle made after a kernel restart works.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sm_magics import display
from sm_magics.backends import base, kinds, processing, statuses
from sm_magics.backends.results import LogBatch, LogCursor, LogEvent
from sm_magics.display.jobs import JobRow
from sm_magics.durations import parse_duration
from sm_magics.errors import InvalidRequest, JobFailed, WaitTimeout
from sm_magics.metrics import MetricParser, MetricPoint, metric_definitions

if TYPE_CHECKING:
    from sm_magics.api.session import Session
    from sm_magics.backends.descriptions import JobDescription
    from sm_magics.ledger_records import JobRecord


class JobOutputs(dict[str, str]):
    """A processing job's outputs: ``{name: URI}``, also read as attributes.

    ``prep.outputs.train`` is the URI the next step reads, e.g.
    ``%%sm_train --input train={prep.outputs.train}``.
    """

    def __getattr__(self, name: str) -> str:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"No output named {name!r}; the job has: {', '.join(self) or 'none'}."
            ) from None


class Job:
    """A handle on one job; every property asks the backend, never a cache.

    ``kind`` (the ledger's: ``training``, ``transform``, ``processing``, ...) chooses the
    backend methods, through :mod:`sm_magics.backends.kinds`; nothing else differs.

    Displayed in a notebook, a ``Job`` is a live widget (status, elapsed time, cost, metric
    curves, log tail, a Stop button); elsewhere it is one line of text.
    """

    def __init__(
        self,
        session: Session,
        name: str,
        backend: str,
        *,
        kind: str = "training",
        region: str | None = None,
    ) -> None:
        self.session = session
        self.name = name
        self.backend_name = backend
        #: The job's kind (:data:`sm_magics.backends.kinds.KINDS`): ``"training"``, ...
        self.kind = kind
        #: The region the job runs in (``None``: the session's), so a job started in
        #: another region is still described and stopped where it runs.
        self.region = region
        #: Remarks from the backend at creation (options it recorded but did not use).
        self.notes: list[str] = []

    @classmethod
    def from_record(cls, session: Session, record: JobRecord) -> Job:
        """Return the handle of a ledger row: its backend, kind and region."""
        return cls(session, record.name, record.backend, kind=record.kind, region=record.region)

    @property
    def backend(self) -> base.Backend:
        """The backend that runs this job (in the job's region)."""
        return self.session.backend(self.backend_name, self.region)

    def describe(self) -> JobDescription:
        """Return the backend's ``Describe<Kind>Job`` response (``DescribeTrainingJob``, ...)."""
        return kinds.describe(self.backend, self.kind, self.name)

    @property
    def status(self) -> str:
        """``InProgress``, ``Completed``, ``Failed``, ``Stopping`` or ``Stopped``."""
        return kinds.status_of(self.describe())

    @property
    def secondary_status(self) -> str:
        """SageMaker's finer status: ``Starting``, ``Downloading``, ``Training``, ..."""
        description = self.describe()
        return str(description.get("SecondaryStatus") or kinds.status_of(description))

    @property
    def failure_reason(self) -> str | None:
        """Why the job failed, as SageMaker words it; ``None`` unless it failed."""
        reason = self.describe().get("FailureReason")
        return str(reason) if reason else None

    @property
    def model_data(self) -> str | None:
        """URI of ``model.tar.gz`` (``file://`` locally, ``s3://`` on SageMaker)."""
        if self.kind != kinds.TRAINING.name:
            return None
        artifacts = self.backend.describe_training_job(self.name).get("ModelArtifacts")
        return artifacts["S3ModelArtifacts"] if artifacts else None

    def download_model(self, dest: str | Path = "model") -> Path:
        """Extract the job's ``model.tar.gz`` into the folder ``dest``; return that folder.

        Works the same for a local job (``file://``) and a SageMaker job (``s3://``), so a
        notebook loads its model the same way on both backends.

        Raises
        ------
        InvalidRequest
            The job has no model (yet).
        """
        import tempfile

        from sm_magics.packaging import safe_extract

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
            safe_extract(archive, target)
        return target

    @property
    def outputs(self) -> JobOutputs:
        """A processing job's outputs, ``{name: URI}`` (``job.outputs.train`` reads one).

        Known from the moment the job is created (the ledger has them), so the next
        step can be written at once; the files are there once the job has completed.
        """
        record = self.session.ledger.get_job(self.name)
        if record is not None and record.spec.get("outputs"):
            return JobOutputs({o["name"]: o["uri"] for o in record.spec["outputs"]})
        return JobOutputs(processing.output_uris(self.describe()))

    def download_output(self, name: str, filename: str, dest: str | Path | None = None) -> Path:
        """Copy one file of a processing job's output ``name`` here; return its path.

        Works the same for a local output (``file://``) and one in S3, so a notebook reads
        what a job wrote (an ``evaluation.json``) the same way on both backends.

        Raises
        ------
        InvalidRequest
            The job has no output of that name.
        NotFound
            The output has no such file (yet: outputs are stored when the job completes).
        """
        outputs = self.outputs
        if name not in outputs:
            raise InvalidRequest(
                f"{self.name} has no output named {name!r}; it has: {', '.join(outputs) or 'none'}."
            )
        uri = outputs[name]
        target = Path(dest).expanduser() if dest is not None else Path(Path(filename).name)
        if target.is_dir():
            target = target / Path(filename).name
        target.parent.mkdir(parents=True, exist_ok=True)
        self.backend.fetch(f"{uri.rstrip('/')}/{filename}", target)
        return target

    def read_logs(self, cursor: LogCursor | None = None) -> LogBatch:
        """Return log lines after ``cursor``; pass the returned cursor back for more."""
        return kinds.read_logs(self.backend, self.kind, self.name, cursor)

    def iter_log_events(self) -> Iterator[LogEvent]:
        """Yield every log line written so far, all hosts merged by time."""
        batch = self.read_logs()
        while batch.events:
            yield from batch.events
            batch = self.read_logs(batch.cursor)

    def logs(self) -> str:
        """Return all log lines so far; lines are prefixed ``[algo-N]`` when several hosts."""
        events = list(self.iter_log_events())
        multi = len({e.host for e in events}) > 1
        return "\n".join(display.format_log_line(e, multi) for e in events)

    def metrics(self) -> dict[str, list[MetricPoint]]:
        """Return each ``--metric`` as a time series parsed from the logs so far."""
        definitions = metric_definitions(self.describe())
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
        on_poll: Callable[[JobDescription], None] | None = None,
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
        if poll is None:  # the backend's pace (1 s locally, 5 s on SageMaker)
            poll = self.backend.status_poll_interval
        deadline = time.monotonic() + parse_duration(timeout) if timeout is not None else None
        token = self.backend.status_token(self.name)
        while True:
            description = self.describe()
            if on_poll is not None:
                on_poll(description)
            status = kinds.status_of(description)
            if status in statuses.TERMINAL_STATUSES:
                if raise_on_failure and status == statuses.FAILED:
                    raise JobFailed(
                        self.name,
                        status,
                        description.get("FailureReason"),
                        kinds.get(self.kind).label,
                    )
                return self
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"{kinds.get(self.kind).label} job {self.name!r} is still {status} after "
                    f"{timeout}; it goes on."
                )
            token = self._sleep_until_change(token, poll, deadline)

    def _sleep_until_change(
        self, token: object | None, poll: float, deadline: float | None
    ) -> object | None:
        """Sleep until the status may have changed, ``poll`` passed, or ``deadline``.

        Where the backend has a cheap status token (locally: the state file's identity) it
        is checked every :data:`~sm_magics.logs.TOKEN_INTERVAL` seconds, so the end is seen
        within tens of milliseconds; elsewhere this is a plain sleep of ``poll``.
        """
        from sm_magics.logs import TOKEN_INTERVAL

        until = time.monotonic() + poll
        if deadline is not None:
            until = min(until, deadline)
        if token is None:
            time.sleep(max(0.0, until - time.monotonic()))
            return self.backend.status_token(self.name)
        while time.monotonic() < until:
            time.sleep(TOKEN_INTERVAL)
            current = self.backend.status_token(self.name)
            if current != token:
                return current
        return token

    def stop(self) -> Job:
        """Ask the job to stop (``Stopping``, then ``Stopped``); return ``self`` at once."""
        kinds.stop(self.backend, self.kind, self.name)
        return self

    def row(self) -> JobRow:
        """Return this job as a table row (status, duration, cost) from a fresh describe."""
        record = self.session.ledger.get_job(self.name)
        return JobRow.from_description(self.describe(), self.backend_name, record)

    # -- display ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        # The ledger row, never the backend: a variable inspector calls repr on every
        # refresh, which must cost no AWS call and write nothing.
        try:
            record = self.session.ledger.get_job(self.name)
        except Exception:  # noqa: BLE001 - a repr must never raise
            record = None
        if record is None:
            return f"<Job {self.name} ({self.backend_name})>"
        secondary = record.secondary_status or record.status
        return f"<Job {self.name} ({self.backend_name}) {record.status}/{secondary}>"

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, Any]:
        make_widget = None
        if display.widgets_available():
            from sm_magics.widgets import JobWidget

            make_widget = functools.partial(JobWidget, self)
        return display.widget_bundle(
            repr(self), make_widget, include, exclude, html=self._snapshot_html()
        )

    def _snapshot_html(self) -> str | None:
        """Return the static HTML shown where the widget cannot be (no kernel, nbconvert)."""
        from sm_magics.display.jobs import job_header_html, snapshot_html

        try:
            header = job_header_html(self.describe(), self.backend_name)
        except Exception:  # noqa: BLE001 - a display must never raise
            return None
        return snapshot_html(header, self.name)
