"""When a CloudWatch Logs reader calls: page limits, poll intervals, the cursor it starts with.

The numbers that decide how many calls :class:`~sm_magics.backends.sagemaker.cwlogs.LogReader`
spends and how late lines arrive (the SDK v2's call budget, back-off after throttling, the
combined read's window), kept in one place with the reasons for each, apart from the
reading itself; also how a stream's name tells its host.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Literal, TypedDict, cast

if TYPE_CHECKING:
    from sm_magics.backends.results import LogCursor

#: ``GetLogEvents`` page limits: events and bytes (each event counts 26 bytes extra).
MAX_PAGE_EVENTS = 10_000
MAX_PAGE_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
#: A page within this many bytes of the limit may have been cut short by a large next
#: event (256 KB is CloudWatch's classic largest event), so it is not taken as the end.
FULL_PAGE_MARGIN_BYTES = 256 * 1024
#: Pages read from one stream in one call; a stream with a longer backlog stays due, so
#: the caller's next call (made at once when lines came) goes on where this one stopped.
MAX_PAGES_PER_CALL = 10

#: The SDK v2's poll interval, whose call budget :func:`active_interval` keeps within.
SDK_POLL_INTERVAL = 10.0
#: A stream that brought lines is never read again sooner than this (seconds).
MIN_ACTIVE_INTERVAL = 2.0
#: The longest wait between two reads of a quiet stream (the SDK polls every 10 s).
IDLE_MAX_INTERVAL = 10.0
#: First wait between two listings while some hosts have no stream yet; doubles up to
#: :data:`IDLE_MAX_INTERVAL` while listings find nothing new.
LIST_MIN_INTERVAL = 2.0
#: Back-off after throttling: first wait, and the longest one.
THROTTLE_MIN_WAIT = 1.0
THROTTLE_MAX_WAIT = 30.0
#: How long a read of a finished job keeps retrying through throttling before giving up.
FINISHED_THROTTLE_BUDGET = 60.0
#: How often a managed spot job's streams are listed again once all are known.
SPOT_RELIST_INTERVAL = 60.0
#: The combined (``FilterLogEvents``) read's fastest poll, in seconds: never more than
#: one call a second per follower, a small share of the API's per-account quota.
MIN_COMBINED_INTERVAL = 1.0
#: How far behind the newest line read the combined query may start (milliseconds). A
#: host whose lines arrive later than the others' (each host's log agent flushes on its
#: own clock) is still read from its own position if it is within this window; beyond
#: it, the final exact read after the job ends picks its lines up.
LATE_WINDOW = 30_000
#: Most ``DescribeLogStreams`` pages one listing reads (50 streams a page).
MAX_LIST_PAGES = 100
CURSOR_VERSION = 1

_EPOCH_SUFFIX = re.compile(r"^(?P<host>.+)-\d+$")
_HOST_NUMBER = re.compile(r"^algo-(\d+)")


def active_interval(streams: int) -> float:
    """Return how long to wait before re-reading a stream that just brought lines.

    The SDK v2 spends ``1 + 2N`` calls every 10 s on a job of N hosts. We spend one call
    per stream per poll, so polling every ``10 N / (2N + 1)`` seconds stays within that
    budget while every host writes: 3.3 s for one host, 4 s for two, 4.4 s for four, never
    more than 5 s. Lines then arrive in about half the SDK's time for no more calls, and
    quiet streams (read less and less often) cost less than the SDK's.
    """
    budget = SDK_POLL_INTERVAL * streams / (2 * streams + 1)
    return min(max(MIN_ACTIVE_INTERVAL, budget), IDLE_MAX_INTERVAL)


def combined_interval(streams: int) -> float:
    """Return the poll interval of the one-call-for-all-hosts read of a running job.

    Within the SDK v2's budget of ``1 + 2N`` calls every 10 s, spent on one
    ``FilterLogEvents`` a poll: 3.3 s for one host, 2 s for two, 1.1 s for four, and
    :data:`MIN_COMBINED_INTERVAL` from five hosts on.
    """
    budget = SDK_POLL_INTERVAL / (2 * max(streams, 1) + 1)
    return min(max(MIN_COMBINED_INTERVAL, budget), IDLE_MAX_INTERVAL)


def host_of(job: str, stream: str) -> str:
    """Return the host of a stream: ``"<job>/algo-2-1700000000"`` → ``"algo-2"``."""
    rest = stream[len(job) + 1 :] if stream.startswith(f"{job}/") else stream
    match = _EPOCH_SUFFIX.match(rest)
    return match["host"] if match else rest


def stream_order(job: str, stream: str) -> tuple[int, str]:
    """Sort key: ``algo-2`` before ``algo-10``, as SageMaker numbers hosts."""
    match = _HOST_NUMBER.match(host_of(job, stream))
    return (int(match.group(1)) if match else 1 << 30, stream)


class StreamPosition(TypedDict, total=False):
    """Where the reader is in one stream (``cursor["streams"][name]``)."""

    token: str | None  # GetLogEvents' nextForwardToken, None before the first read
    ts: int | None  # the last line's timestamp (ms): to resume when a token expired
    skip: int  # lines at ``ts`` already read
    due: float  # when the stream is read next (wall-clock seconds)
    quiet: int  # polls in a row that found nothing (the back-off's exponent)
    since: int | None  # the startTime that goes with ``token`` (a read by time)
    repeat: list[int]  # [timestamp, lines at it still to drop] after a read by time


class CombinedQuery(TypedDict, total=False):
    """A ``FilterLogEvents`` query in progress (``cursor["filter"]``)."""

    start: int  # its startTime (ms)
    token: str | None  # nextToken of its next page
    #: The positions it started from: stream -> [timestamp, lines at it, seen again].
    base: dict[str, list[int]]
    reached: int  # the newest timestamp its pages returned


class ReaderCursor(TypedDict, total=False):
    """The cursor of :class:`~sm_magics.backends.sagemaker.cwlogs.LogReader`: JSON-safe.

    Opaque to callers (the contract's ``dict``), which hand it back unchanged; the keys
    from ``v`` to ``streams`` are there from :func:`new_cursor` on.
    """

    v: int
    hosts: int | None  # streams the job will have (its instance count), if known
    complete: bool  # every host's stream is known: no more listing
    list_due: float
    list_interval: float
    relist_due: float
    throttled_until: float
    backoff: float
    streams: dict[str, StreamPosition]
    mode: Literal["combined", "final"]  # absent: the per-stream read
    filter: CombinedQuery
    due: float  # the combined read's next poll
    quiet: int
    backlog: bool  # pages are left: read again at once


def reader_cursor(cursor: LogCursor) -> ReaderCursor:
    """Return a copy of a cursor this reader handed out, as the type it was written as.

    The one place the contract's opaque cursor becomes the reader's own type again
    (a copy: the caller's cursor is left as it was if the read fails).
    """
    return cast(ReaderCursor, copy.deepcopy(cursor))


def new_stream() -> StreamPosition:
    """Return the position of a stream nothing was read from yet."""
    return {"token": None, "ts": None, "skip": 0, "due": 0.0, "quiet": 0}


def new_cursor(expected_streams: int | None = None) -> ReaderCursor:
    """Return the cursor of a reader that has read nothing yet."""
    return {
        "v": CURSOR_VERSION,
        "hosts": expected_streams,
        "complete": False,
        "list_due": 0.0,
        "list_interval": LIST_MIN_INTERVAL,
        "relist_due": 0.0,
        "throttled_until": 0.0,
        "backoff": 0.0,
        "streams": {},
    }


def is_due(due: float, now: float) -> bool:
    """Return whether a due time has come.

    A due time further ahead than any wait (a clock that went back) counts as come.
    """
    return due <= now or due > now + 3 * max(IDLE_MAX_INTERVAL, THROTTLE_MAX_WAIT)
