"""Following a job's logs: incremental reads, adaptive polling, one thread per job.

Reading is cursor-based (the backend returns only new lines), so following costs nothing
while a job is quiet but the poll itself. The interval adapts: fast while lines arrive,
doubling up to a ceiling while idle, so a chatty job feels live and a silent one costs
almost nothing. After the job ends there is always one more read, so lines written just
before the end are never lost (the SDK's ``logs_for_job`` does the same).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sm_magics.backends import base

if TYPE_CHECKING:
    from sm_magics.api import Job
    from sm_magics.endpoint import Endpoint

MIN_INTERVAL = 0.2
MAX_INTERVAL = 2.0


class LogTail:
    """Reads a job's new log lines and its status, remembering where it stopped."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.cursor: dict[str, Any] | None = None

    def read(self) -> list[base.LogEvent]:
        """Return every line written since the last call (all of them at first)."""
        events: list[base.LogEvent] = []
        while True:
            batch = self.job.read_logs(self.cursor)
            self.cursor = batch.cursor
            if not batch.events:
                return events
            events.extend(batch.events)


class LogFollower(threading.Thread):
    """A daemon thread that feeds a job's new lines and status to callbacks until it ends.

    Parameters
    ----------
    job
        The job to follow.
    on_events
        Called with each non-empty list of new lines.
    on_status
        Called with each ``DescribeTrainingJob`` response (about once a second), and once
        more after the final read.
    """

    def __init__(
        self,
        job: Job,
        on_events: Callable[[list[base.LogEvent]], None],
        on_status: Callable[[dict[str, Any]], None],
        *,
        min_interval: float = MIN_INTERVAL,
        max_interval: float = MAX_INTERVAL,
        status_interval: float | None = None,
    ) -> None:
        super().__init__(name=f"sm-magics-follow-{job.name}", daemon=True)
        self.tail = LogTail(job)
        self.on_events = on_events
        self.on_status = on_status
        self.min_interval = min_interval
        self.max_interval = max_interval
        #: Default: the backend's own pace (1 s locally, 5 s on SageMaker).
        self.status_interval = (
            status_interval if status_interval is not None else job.backend.status_poll_interval
        )
        self._stop_event = threading.Event()
        #: The exception that ended the thread early, if any (for tests and the widget).
        self.error: BaseException | None = None

    def stop(self) -> None:
        """Ask the thread to end after its current poll."""
        self._stop_event.set()

    def run(self) -> None:
        """Poll until the job reaches a terminal status, then read once more and return."""
        try:
            self._follow()
        except BaseException as exc:  # noqa: BLE001 - a dead thread must say why
            self.error = exc

    def _follow(self) -> None:
        interval = self.min_interval
        next_status = 0.0
        while not self._stop_event.is_set():
            events = self.tail.read()
            if events:
                self.on_events(events)
                interval = self.min_interval
            else:
                interval = min(interval * 2, self.max_interval)
            now = time.monotonic()
            if now >= next_status:
                description = self.tail.job.describe()
                next_status = now + self.status_interval
                if base.job_status(description) in base.TERMINAL_STATUSES:
                    final = self.tail.read()  # lines written between our read and the end
                    if final:
                        self.on_events(final)
                    self.on_status(description)
                    return
                self.on_status(description)
                interval = min(interval, self.status_interval)
            self._stop_event.wait(interval)


def has_several_hosts(job: Job) -> bool:
    """Whether the job runs on more than one host (its lines then carry ``[algo-N]``)."""
    return base.job_resources(job.describe())[1] > 1 and job.kind == "training"


def stream_until_done(
    job: Job,
    write: Callable[[str], None],
    *,
    with_host: bool | None = None,
    on_status: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Print a job's lines as they come, in the calling thread, until it ends.

    Used by ``--wait`` and ``%sm_logs -f``: output from the calling thread lands in the cell
    that runs, which is what a plain-text frontend (nbconvert, a terminal, CI) needs.
    Returns the final ``DescribeTrainingJob`` response.
    """
    from sm_magics.display import format_log_line

    if with_host is None:
        with_host = has_several_hosts(job)
    result: dict[str, Any] = {}

    def emit(events: list[base.LogEvent]) -> None:
        for event in events:
            write(format_log_line(event, bool(with_host)))

    def status(description: dict[str, Any]) -> None:
        result.update(description)
        if on_status is not None:
            on_status(description)

    follower = LogFollower(job, emit, status)
    follower._follow()
    return result


def follow_in_background(job: Job, write: Callable[[str], None]) -> LogFollower:
    """Print a job's lines from a daemon thread, each prefixed ``[job]``, then its status.

    For terminals only: in a notebook, output printed from a thread lands in whichever
    cell runs at that moment, which is why notebooks get the widget instead.
    """
    from sm_magics.display import format_log_line

    multi = has_several_hosts(job)

    def emit(events: list[base.LogEvent]) -> None:
        for event in events:
            write(f"[{job.name}] {format_log_line(event, multi)}")

    def status(description: dict[str, Any]) -> None:
        if base.job_status(description) in base.TERMINAL_STATUSES:
            reason = description.get("FailureReason")
            write(
                f"[{job.name}] {base.job_status(description)}" + (f": {reason}" if reason else "")
            )

    follower = LogFollower(job, emit, status)
    follower.start()
    return follower


def follow_endpoint_logs(
    endpoint: Endpoint, write: Callable[[str], None], *, interval: float = MIN_INTERVAL
) -> None:
    """Print an endpoint's lines as they come until it is deleted (or an interrupt).

    Endpoints do not end by themselves, so this follows until ``KeyboardInterrupt`` (the
    notebook's stop button) or until the endpoint is gone.
    """
    from sm_magics.errors import NotFound

    cursor: dict[str, Any] | None = None
    idle = interval
    try:
        while True:
            batch = endpoint.read_logs(cursor)
            cursor = batch.cursor
            for event in batch.events:
                write(f"[{event.host}] {event.message}")
            if batch.events:
                idle = interval
                continue
            try:
                endpoint.describe()
            except NotFound:
                write(f"Endpoint {endpoint.name} was deleted.")
                return
            time.sleep(idle)
            idle = min(idle * 2, MAX_INTERVAL)
    except KeyboardInterrupt:
        write(f"Stopped following {endpoint.name}.")
