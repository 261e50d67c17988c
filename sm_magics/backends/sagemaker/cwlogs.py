"""Reading a SageMaker job's CloudWatch logs: every line once, few calls, little delay.

SageMaker writes each host's output to its own stream of one log group, for training
``/aws/sagemaker/TrainingJobs`` with streams ``<job>/algo-<N>-<epoch>``. A stream appears
when its host's container starts, so the streams of a 4-host job show up one by one.

How the SDKs read them, and what we do instead (``research/sagemaker-sdk-and-moto.md``):

* SDK v2 lists the streams (``DescribeLogStreams``) on *every* poll, forever, and reads
  each stream until it gets an empty page: 1 + 2N calls every 10 s for N hosts, lines
  5 s late on average. We list only until every host has a stream (their number is the
  job's ``InstanceCount``), then never again.
* Both SDKs end each stream's read on an empty page, which is one wasted call per stream
  per poll. ``GetLogEvents`` returns up to 10,000 events or 1 MB per page, so a page
  clearly short of both limits already says "that was everything": we stop there and save
  the empty call. (A page that was short for another reason only delays the rest to the
  next poll; nothing is lost, because the stream's ``nextForwardToken`` is what we keep.)
* Polls adapt to the job. A stream that just brought lines is read again after
  :func:`active_interval` seconds (3.3 s for one host up to 5 s for many: the SDK v2's
  own call budget, spent on reads instead of empty pages and listings, so lines come in
  about half the time for no more calls); a stream that brought nothing is read half as
  often each time, down to once every :data:`IDLE_MAX_INTERVAL` seconds (the SDK's
  cadence). ``DescribeLogStreams`` and ``GetLogEvents`` have low per-account, per-region
  rate quotas that every notebook, console tab and script of the account share, so a
  reader must not spend them on idle streams.
* Throttling ends the poll: the lines read so far are returned with a cursor that points
  just after them, and the next polls wait (1 s, doubling up to 30 s) before calling again.
* A job of several hosts is read with **one call per poll for all hosts** while it runs:
  ``FilterLogEvents(logStreamNamePrefix="<job>/", startTime=...)`` returns every host's
  new lines interleaved, and finds the streams by itself (no ``DescribeLogStreams`` at
  all while the job runs). One call instead of one per stream buys a poll every
  :func:`combined_interval` seconds (1.1 s for 4 hosts) within the same SDK v2 budget,
  so lines come in well under 2 s. Each stream's position is kept as (last timestamp,
  lines at that timestamp), as the SDK v2 keeps it for ``GetLogEvents``, and the query
  starts at the *least advanced* stream's position, so a host whose lines reach
  CloudWatch later than the others' is not skipped; that start is never more than
  :data:`LATE_WINDOW` behind the newest line, so a host that went quiet does not make
  every poll re-read the others' output. Results are paged with ``nextToken`` (kept in
  the cursor across calls for a long backlog) and deduplicated per stream against the
  positions, so a line is never repeated. Once the job has ended, the final read is the
  exact one: every stream is listed and read with ``GetLogEvents`` from its position to
  the end, which also picks up whatever arrived later than the live window.
  One-host jobs and endpoints (whose instances come and go) keep the per-stream path.
  A query paged across calls (a backlog of more than :data:`MAX_PAGES_PER_CALL` pages)
  goes on from the millisecond its pages had reached, not from its token, so lines
  stamped in that millisecond that arrived meanwhile in streams the token had passed are
  read. Known limits: a line that reaches CloudWatch stamped *before* that millisecond,
  followed by newer lines of its stream, is skipped; and so is a line arriving in a
  millisecond that holds more than a call's pages of lines (100,000 at AWS's page size).

The cursor is a JSON-safe dict, opaque to callers, that holds for each stream its
``nextForwardToken`` (plus the last timestamp, to resume if a token has expired) and when
it is next due, and whether every host's stream has been found. Callers may call as often
as they like (the :class:`~sm_magics.logs.LogFollower` polls every 0.2 to 2 s and reads again
at once after lines came): a call made before anything is due returns an empty batch
without calling AWS. Once the job has ended (``finished=True``) nothing is paced any more
and an empty batch means "there is nothing else", which is what the follower's final read
and ``%sm_logs`` rely on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sm_magics.backends.results import LogBatch, LogCursor, LogEvent
from sm_magics.backends.sagemaker.cwlogs_calls import (
    ExpiredToken,
    Transient,
    call_logs,
    message_of,
)
from sm_magics.backends.sagemaker.cwlogs_combined import poll_combined
from sm_magics.backends.sagemaker.cwlogs_pacing import (
    EVENT_OVERHEAD_BYTES,
    FINISHED_THROTTLE_BUDGET,
    FULL_PAGE_MARGIN_BYTES,
    IDLE_MAX_INTERVAL,
    LIST_MIN_INTERVAL,
    MAX_LIST_PAGES,
    MAX_PAGE_BYTES,
    MAX_PAGE_EVENTS,
    MAX_PAGES_PER_CALL,
    SPOT_RELIST_INTERVAL,
    THROTTLE_MAX_WAIT,
    THROTTLE_MIN_WAIT,
    ReaderCursor,
    StreamPosition,
    active_interval,
    host_of,
    is_due,
    new_cursor,
    new_stream,
    reader_cursor,
    stream_order,
)
from sm_magics.errors import BackendUnavailable, InvalidRequest

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import (
        DescribeLogStreamsRequestTypeDef,
        GetLogEventsRequestTypeDef,
        OutputLogEventTypeDef,
    )

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"


class LogReader:
    """Reads the streams of one job at a time from a CloudWatch Logs group.

    Parameters
    ----------
    client
        A boto3 ``logs`` client (its own retries should be few: see
        :data:`sm_magics.backends.sagemaker.aws.MAX_ATTEMPTS`).
    group
        The log group; training jobs by default.
    clock, sleep
        Wall-clock seconds and a sleep, replaceable so tests can run hours in no time.
        Wall time, not monotonic, because due times live in cursors that another process
        may hold; a due time further ahead than any interval (a clock that went back) is
        treated as due.
    page_limit
        The ``limit`` of each ``GetLogEvents`` / ``FilterLogEvents`` call; lower only in
        tests, to make pages.
    combined
        Read a running job of several hosts with one ``FilterLogEvents`` a poll (see the
        module docstring); ``False`` keeps one ``GetLogEvents`` per stream throughout.
    """

    def __init__(
        self,
        client: CloudWatchLogsClient,
        *,
        group: str = TRAINING_LOG_GROUP,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        page_limit: int = MAX_PAGE_EVENTS,
        combined: bool = True,
    ) -> None:
        self.client = client
        self.group = group
        self.clock = clock
        self.sleep = sleep
        self.page_limit = page_limit
        self.combined = combined

    def read(
        self,
        job: str,
        cursor: LogCursor | None = None,
        *,
        expected_streams: int | None = None,
        finished: bool = False,
        relist_every: float | None = None,
    ) -> LogBatch:
        """Return the lines of ``job``'s streams written since ``cursor``, by timestamp.

        Parameters
        ----------
        job
            The stream name prefix (``<job>/`` is listed).
        cursor
            What the previous call returned; ``None`` to read from the beginning.
        expected_streams
            How many streams the job will have (its instance count); listing stops for
            good once that many are known. ``None`` keeps listing (at the idle pace).
        finished
            The job has ended: read everything now, ignoring the pacing, and retry
            through throttling rather than return an empty batch that would read as "no
            more lines".
        relist_every
            Keep listing every so many seconds even when all streams are known. For
            managed spot jobs, whose hosts restart on new instances (new streams) after
            an interruption.

        Raises
        ------
        AccessDenied, InvalidRequest, BackendUnavailable
            A failure that is not transient (a missing permission), or throttling that
            outlasted :data:`FINISHED_THROTTLE_BUDGET` on a finished job. The caller's
            cursor is left as it was, so nothing is lost or repeated by retrying.
        """
        state = reader_cursor(cursor) if cursor else new_cursor(expected_streams)
        if state.get("hosts") is None and expected_streams is not None:
            state["hosts"] = expected_streams
        waited = 0.0
        backlogs = 0
        while True:
            now = self.clock()
            if not finished and not is_due(state.get("throttled_until", 0.0), now):
                return LogBatch([], dict(state))
            events: list[LogEvent] = []
            try:
                self._poll(job, state, events, now, finished, relist_every)
            except Transient:
                backoff = min(
                    max(state.get("backoff", 0.0) * 2, THROTTLE_MIN_WAIT), THROTTLE_MAX_WAIT
                )
                state["backoff"] = backoff
                state["throttled_until"] = now + backoff
                if finished and not events:
                    if waited >= FINISHED_THROTTLE_BUDGET:
                        raise BackendUnavailable(
                            f"CloudWatch Logs kept throttling the reads of {job}'s logs for "
                            f"{waited:.0f} s; try again in a minute."
                        ) from None
                    self.sleep(backoff)
                    waited += backoff
                    continue
            else:
                state["backoff"] = 0.0
                state["throttled_until"] = 0.0
                if finished and not events and state.pop("backlog", False) and backlogs < 100:
                    # Pages that held nothing new (empty pages with a token, repeats): an
                    # empty batch would read as "the end", so go on reading.
                    backlogs += 1
                    continue
            state.pop("backlog", None)
            events.sort(key=lambda event: event.timestamp)  # stable: host order on ties
            return LogBatch(events, dict(state))

    # -- one poll -----------------------------------------------------------------------------

    def _poll(
        self,
        job: str,
        state: ReaderCursor,
        out: list[LogEvent],
        now: float,
        finished: bool,
        relist_every: float | None,
    ) -> None:
        streams = state["streams"]
        if state.get("mode") == "combined" and finished:
            # The end: from the combined read's positions, read every stream exactly.
            state["mode"] = "final"
            state["complete"] = False
            state.pop("filter", None)
        elif state.get("mode") == "combined" or (
            self.combined
            and not finished
            and not streams
            and state.get("mode") is None
            and int(state.get("hosts") or 1) > 1
        ):
            state["mode"] = "combined"
            poll_combined(self, job, state, out, now)
            return
        if not state["complete"]:
            if finished or is_due(state["list_due"], now):
                self._list(job, state, now)
        elif relist_every and (finished or is_due(state["relist_due"], now)):
            self._list(job, state, now)
            state["relist_due"] = now + relist_every
        interval = active_interval(len(streams) or int(state.get("hosts") or 1))
        if not finished and not any(is_due(s["due"], now) for s in streams.values()):
            return
        # Read every stream due within half an interval too: streams read in one poll get
        # the same due time, so the hosts that write share one cadence and each batch
        # holds every host's lines up to the same moment (in timestamp order across hosts).
        horizon = now + interval / 2
        for name in sorted(streams, key=lambda s: stream_order(job, s)):
            stream = streams[name]
            if not finished and not is_due(stream["due"], horizon):
                continue
            got, more = self.read_stream(job, name, stream, out, finished)
            if more:
                stream["due"] = 0.0  # a backlog: go on at the caller's next call
                state["backlog"] = True
            elif got:
                stream["quiet"] = 0
                stream["due"] = now + interval
            else:
                stream["quiet"] = min(stream.get("quiet", 0) + 1, 8)
                stream["due"] = now + min(interval * 2 ** stream["quiet"], IDLE_MAX_INTERVAL)

    def _list(self, job: str, state: ReaderCursor, now: float) -> None:
        """Add the streams of ``job`` not known yet; mark the set complete when it is."""
        streams = state["streams"]
        before = len(streams)
        token: str | None = None
        for _ in range(MAX_LIST_PAGES):
            params: DescribeLogStreamsRequestTypeDef = {
                "logGroupName": self.group,
                "logStreamNamePrefix": f"{job}/",
            }
            if token:
                params["nextToken"] = token
            page = call_logs(self.client.describe_log_streams, **params)
            if page is None:  # no log group yet: no job of this region has logged yet
                break
            for described in page.get("logStreams", []):
                streams.setdefault(described["logStreamName"], new_stream())
            next_token = page.get("nextToken")
            if not next_token or next_token == token:
                break
            token = next_token
        hosts = state.get("hosts")
        state["complete"] = hosts is not None and len(streams) >= int(hosts)
        if len(streams) > before:
            state["list_interval"] = LIST_MIN_INTERVAL  # the other hosts follow soon
        else:
            state["list_interval"] = min(state["list_interval"] * 2, IDLE_MAX_INTERVAL)
        state["list_due"] = now + state["list_interval"]

    def read_stream(
        self, job: str, name: str, stream: StreamPosition, out: list[LogEvent], exact: bool
    ) -> tuple[int, bool]:
        """Read one stream from its token on; return ``(lines read, backlog left)``.

        ``exact`` (a finished job) reads until AWS says "the end" in so many words; a
        running job's read also stops at what merely looks like the end, which saves a call
        and at worst leaves lines for the next poll.

        The stream's state advances page by page, each page's events appended to ``out``
        in the same step, so an exception between pages leaves state and ``out``
        consistent with each other (the caller returns both, or neither).
        """
        host = host_of(job, name)
        got = 0
        retried_token = False
        # Resuming by time re-reads the lines at the last timestamp seen: that many are
        # dropped, across however many pages (and calls) they span, so the count to drop
        # lives in the stream's cursor.
        pages = 0
        while pages < MAX_PAGES_PER_CALL:
            pages += 1
            params: GetLogEventsRequestTypeDef = {
                "logGroupName": self.group,
                "logStreamName": name,
                "startFromHead": True,
                "limit": self.page_limit,
            }
            token, last, since = stream["token"], stream["ts"], stream.get("since")
            if token:
                params["nextToken"] = token
                if since is not None:
                    # A token from a read by time goes with that time, as the SDK sends it
                    # (and as moto needs: its tokens count within the time-filtered list).
                    params["startTime"] = since
            elif last is not None:
                params["startTime"] = last  # a lost token: go on from the last line
                stream["since"] = last
                stream["repeat"] = [last, stream["skip"]]
            else:
                stream["since"] = None
            try:
                page = call_logs(self.client.get_log_events, **params)
            except ExpiredToken as exc:
                if retried_token:
                    raise InvalidRequest(f"GetLogEvents refused {name}'s token: {exc}") from None
                # Tokens expire after a day: resume after the last line seen (or from the
                # start of a stream nothing was read from yet).
                stream["token"] = None
                retried_token = True
                continue
            if page is None:
                return got, False
            events = page.get("events", [])
            repeat = stream.get("repeat")
            if repeat and repeat[1]:
                events = self._after_last(repeat, events)
                if page.get("events") and not events:
                    pages -= 1  # only repeats: free, or a finished read could end early
            new_token = page.get("nextForwardToken")
            old_token = stream["token"]
            for event in events:
                out.append(
                    LogEvent(
                        timestamp=int(event["timestamp"]),
                        host=host,
                        message=message_of(event),
                    )
                )
                if event["timestamp"] == stream["ts"]:
                    stream["skip"] += 1
                else:
                    stream["ts"], stream["skip"] = int(event["timestamp"]), 1
            stream["token"] = new_token or old_token
            got += len(events)
            if not page.get("events"):
                if not new_token or new_token == old_token or (old_token is None and not exact):
                    # The end: AWS hands back the token it was given (or, while the job
                    # runs, a first read found a stream with nothing in it yet).
                    return got, False
                continue  # "empty results while more events are available", says AWS
            if not self._maybe_full(page["events"]):
                return got, False
        return got, True

    @staticmethod
    def _after_last(
        repeat: list[int], events: list[OutputLogEventTypeDef]
    ) -> list[OutputLogEventTypeDef]:
        """Drop what a ``startTime`` read repeats: the events at the last timestamp seen.

        ``repeat`` is ``[timestamp, lines at it still to drop]``, counted down in place so
        that a repeat spanning pages is dropped exactly once.
        """
        kept = []
        for event in events:
            if repeat[1] and event["timestamp"] == repeat[0]:
                repeat[1] -= 1
                continue
            kept.append(event)
        return kept

    def _maybe_full(self, events: list[OutputLogEventTypeDef]) -> bool:
        if len(events) >= self.page_limit:
            return True
        size = sum(len(str(e.get("message", "")).encode()) + EVENT_OVERHEAD_BYTES for e in events)
        return size >= MAX_PAGE_BYTES - FULL_PAGE_MARGIN_BYTES


def read_training_logs(
    client: CloudWatchLogsClient,
    job: str,
    cursor: LogCursor | None = None,
    *,
    instance_count: int | None,
    finished: bool = False,
    spot: bool = False,
) -> LogBatch:
    """Read a training job's new lines: :meth:`LogReader.read` on the training log group.

    Managed spot jobs keep listing once a minute after every host has a stream, because a
    spot interruption restarts the hosts on new instances, with new streams.
    """
    return LogReader(client).read(
        job,
        cursor,
        expected_streams=instance_count,
        finished=finished,
        relist_every=SPOT_RELIST_INTERVAL if spot else None,
    )
