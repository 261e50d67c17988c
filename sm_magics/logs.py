"""Following a job's logs: incremental reads, adaptive polling, one thread per job.

Reading is cursor-based (the backend returns only new lines), so following costs nothing
while a job is quiet but the poll itself. The interval adapts: every
:data:`FAST_INTERVAL` until the first :data:`FAST_LINES` lines (or for :data:`FAST_SECONDS`),
so the script's first line shows as soon as it exists, even after the lines the backend
writes itself before it ("Invoking script with ..."); where the backend offers a change
watch (locally on Linux: ``inotify``), the follower blocks on it instead in that phase and
reads the moment a line is written; then fast while lines arrive,
doubling up to a ceiling while idle. Where the backend has a cheap status token (locally:
the state file's identity), it is compared every :data:`TOKEN_INTERVAL`, so the job's end
is seen within tens of milliseconds instead of at the next status poll. After the job
ends there is always one more read, so lines written just before the end are never lost
(the SDK's ``logs_for_job`` does the same).

Memory stays bounded however fast a job prints: each batch is handed over as soon as it
is read (a batch is at most one read chunk per host), never gathered first.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from sm_magics.backends import kinds, statuses
from sm_magics.backends.results import ChangeWatch, LogEvent

if TYPE_CHECKING:
    from sm_magics.api import Job
    from sm_magics.backends.descriptions import JobDescription
    from sm_magics.backends.results import LogCursor
    from sm_magics.endpoint import Endpoint

MIN_INTERVAL = 0.2
MAX_INTERVAL = 2.0
#: Poll pace before the first lines, for at most :data:`FAST_SECONDS`.
FAST_INTERVAL = 0.01
FAST_SECONDS = 3.0
#: Lines after which the fast start ends: more than the backend's own lines before the
#: script's first (one or two locally), few enough that a job printing at full speed is
#: read at the adaptive pace (bigger batches) within its first poll or two.
FAST_LINES = 20
#: Pace of the status-token check (one ``stat`` locally).
TOKEN_INTERVAL = 0.02
#: Read pace before the first lines where the backend's change watch wakes the follower
#: (a safety net: a change it missed, on a network file system, is read this late).
WATCHED_INTERVAL = 0.1


class LogTail:
    """Reads a job's new log lines, remembering where it stopped."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.cursor: LogCursor | None = None
        #: Lines passed over by :meth:`skip_to_end` (what :meth:`earlier` can bring back).
        self.skipped = 0

    def batches(self) -> Iterator[list[LogEvent]]:
        """Yield each non-empty batch written since the last call, as it is read."""
        while True:
            batch = self.job.read_logs(self.cursor)
            self.cursor = batch.cursor
            if not batch.events:
                return
            yield batch.events

    def read(self) -> list[LogEvent]:
        """Return every line written since the last call (all of them at first).

        Holds them all: for a bounded read, iterate :meth:`batches` instead.
        """
        return [event for events in self.batches() for event in events]

    def skip_to_end(
        self, keep: int, on_batch: Callable[[list[LogEvent]], None] | None = None
    ) -> list[LogEvent]:
        """Move past every line written so far; return only the last ``keep`` of them.

        A view opened on a long log starts from its end at the cost of one pass, holding
        ``keep`` lines, not the log. :meth:`earlier` brings back the lines before them.
        ``on_batch`` sees every line passed over, once (a view's metric curves need them).
        """
        last: deque[LogEvent] = deque(maxlen=keep)
        count = 0
        for events in self.batches():
            count += len(events)
            overflow = len(last) + len(events) - keep
            if on_batch is not None and overflow > 0:
                on_batch([*last, *events][:overflow])
            last.extend(events)
        self.skipped = count - len(last)
        return list(last)

    def earlier(self, count: int, before: int | None = None) -> list[LogEvent]:
        """Return up to ``count`` lines before line number ``before`` (default: the skip).

        Reads from the start with its own cursor (backends' cursors only go forward), so
        it costs one pass up to ``before`` and holds ``count`` lines.
        """
        end = self.skipped if before is None else before
        wanted: deque[LogEvent] = deque(maxlen=max(0, count))
        seen = 0
        cursor: LogCursor | None = None
        while seen < end:
            batch = self.job.read_logs(cursor)
            cursor = batch.cursor
            if not batch.events:
                break
            wanted.extend(batch.events[: end - seen])
            seen += len(batch.events)
        return list(wanted)


class LogFollower(threading.Thread):
    """A daemon thread that feeds a job's new lines and status to callbacks until it ends.

    Parameters
    ----------
    job
        The job to follow.
    on_events
        Called with each non-empty list of new lines (one read batch at a time).
    on_status
        Called with each ``DescribeTrainingJob`` response (when the status token changes,
        at least every ``status_interval``), and once more after the final read.
    tail_lines
        Start from the end of the log: hand over only its last ``tail_lines`` lines at
        first (``tail.earlier`` brings back the rest); ``None``: from its start.
    on_skipped
        With ``tail_lines``: called with each batch passed over, before the last lines.
    """

    def __init__(
        self,
        job: Job,
        on_events: Callable[[list[LogEvent]], None],
        on_status: Callable[[JobDescription], None],
        *,
        min_interval: float = MIN_INTERVAL,
        max_interval: float = MAX_INTERVAL,
        status_interval: float | None = None,
        tail_lines: int | None = None,
        on_skipped: Callable[[list[LogEvent]], None] | None = None,
    ) -> None:
        super().__init__(name=f"sm-magics-follow-{job.name}", daemon=True)
        self.tail = LogTail(job)
        self.on_events = on_events
        self.on_status = on_status
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.tail_lines = tail_lines
        self.on_skipped = on_skipped
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

    def _emit_new(self) -> int:
        """Hand over each new batch as it is read; return how many lines there were."""
        got = 0
        for events in self.tail.batches():
            got += len(events)
            self.on_events(events)
        return got

    def _token(self) -> object | None:
        return self.tail.job.backend.status_token(self.tail.job.name)

    def _follow(self) -> None:
        job = self.tail.job
        # Opened before the first read, so that no line written after it goes unnoticed.
        changes = job.backend.change_watch(job.name)
        try:
            self._follow_with(changes)
        finally:
            if changes is not None:
                changes.close()

    def _follow_with(self, changes: ChangeWatch | None) -> None:
        """Follow; ``changes`` (if any) wakes the loop before the first lines, then is closed."""
        job = self.tail.job
        started = time.monotonic()
        if self.tail_lines is not None:
            last = self.tail.skip_to_end(self.tail_lines, self.on_skipped)
            if last:
                self.on_events(last)
        token = self._token()
        watch = token is not None
        lines = 0
        interval = self.min_interval
        next_read = next_status = 0.0
        while not self._stop_event.is_set():
            now = time.monotonic()
            if now >= next_read:
                if got := self._emit_new():
                    lines += got
                    interval = self.min_interval
                else:
                    interval = min(interval * 2, self.max_interval)
                early = lines < FAST_LINES and now - started < FAST_SECONDS
                if not early and changes is not None:
                    changes.close()  # past the first lines: read at the adaptive pace
                    changes = None
                pace = (WATCHED_INTERVAL if changes else FAST_INTERVAL) if early else interval
                next_read = time.monotonic() + pace
            current = self._token() if watch else None
            if now >= next_status or current != token:
                token = current
                description = job.describe()
                next_status = time.monotonic() + self.status_interval
                if kinds.status_of(description) in statuses.TERMINAL_STATUSES:
                    self._emit_new()  # lines written between our read and the end
                    self.on_status(description)
                    return
                self.on_status(description)
            wake = min(next_read, next_status)
            if watch:
                wake = min(wake, time.monotonic() + TOKEN_INTERVAL)
            timeout = max(0.0, wake - time.monotonic())
            if changes is not None:
                if changes.wait(timeout):
                    next_read = 0.0  # a line, or a new state: read (and check) at once
            else:
                self._stop_event.wait(timeout)


def has_several_hosts(job: Job) -> bool:
    """Whether the job runs on more than one host (its lines then carry ``[algo-N]``)."""
    # A transform's streams are per instance id, not algo-N; every other kind names hosts.
    if job.kind == "transform":
        return False
    # The ledger row (one query), not a describe: this runs before a --wait's first line.
    record = job.session.ledger.get_job(job.name)
    count = record.instance_count if record is not None else None
    return (count or kinds.resources_of(job.describe())[1]) > 1


def stream_until_done(
    job: Job,
    write: Callable[[str], None],
    *,
    with_host: bool | None = None,
    on_status: Callable[[JobDescription], None] | None = None,
) -> Mapping[str, object]:
    """Print a job's lines as they come, in the calling thread, until it ends.

    Used by ``--wait`` and ``%sm_logs -f``: output from the calling thread lands in the cell
    that runs, which is what a plain-text frontend (nbconvert, a terminal, CI) needs.
    Returns the final ``DescribeTrainingJob`` response.
    """
    from sm_magics.display import format_log_line

    if with_host is None:
        with_host = has_several_hosts(job)
    result: dict[str, object] = {}

    def emit(events: list[LogEvent]) -> None:
        for event in events:
            write(format_log_line(event, bool(with_host)))

    def status(description: JobDescription) -> None:
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

    def emit(events: list[LogEvent]) -> None:
        for event in events:
            write(f"[{job.name}] {format_log_line(event, multi)}")

    def status(description: JobDescription) -> None:
        if kinds.status_of(description) in statuses.TERMINAL_STATUSES:
            reason = description.get("FailureReason")
            write(
                f"[{job.name}] {kinds.status_of(description)}" + (f": {reason}" if reason else "")
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

    cursor: LogCursor | None = None
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
