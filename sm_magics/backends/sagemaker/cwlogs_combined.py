"""The combined read: one ``FilterLogEvents`` a poll for every host of a running job.

While a job of several hosts runs, :class:`~sm_magics.backends.sagemaker.cwlogs.LogReader`
reads all its streams with one query instead of one ``GetLogEvents`` per stream (see that
module's docstring for why, and for the known limit of a paged query). This module is that
query: where it starts, how each event is checked against its stream's position so that
no line comes twice, and when a stream must be caught up by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sm_magics.backends.results import LogEvent
from sm_magics.backends.sagemaker.cwlogs_calls import ExpiredToken, call_logs, message_of
from sm_magics.backends.sagemaker.cwlogs_pacing import (
    IDLE_MAX_INTERVAL,
    LATE_WINDOW,
    MAX_PAGES_PER_CALL,
    CombinedQuery,
    ReaderCursor,
    StreamPosition,
    combined_interval,
    host_of,
    is_due,
    new_stream,
    stream_order,
)

if TYPE_CHECKING:
    from mypy_boto3_logs.type_defs import FilteredLogEventTypeDef, FilterLogEventsRequestTypeDef

    from sm_magics.backends.sagemaker.cwlogs import LogReader

# What the combined read makes of one event (see apply_combined).
NEW, SEEN, CATCH_UP = "new", "seen", "catch-up"


def poll_combined(
    reader: LogReader, job: str, state: ReaderCursor, out: list[LogEvent], now: float
) -> None:
    """One ``FilterLogEvents`` query (and its pages) for every host of a running job.

    ``state["filter"]`` holds a query in progress: its ``startTime``, its ``nextToken``
    and the stream positions it started from (``base``), which is what each event is
    checked against; a page's events are applied to the positions and appended to
    ``out`` in the same step, so a throttle between pages loses nothing.
    """
    if not is_due(state.get("due", 0.0), now):
        return
    streams = state["streams"]
    query = state.get("filter")
    if query is not None and query.get("token") and query.get("reached", 0) > query["start"]:
        # A query paged across calls. Lines stamped in the very millisecond its pages had
        # reached may have arrived since in streams its token has already passed (the
        # token orders events by timestamp, then stream): go on with a query that starts
        # at that millisecond. Each restart starts later than the last, so a backlog
        # still drains; a call whose pages all held one millisecond keeps its token.
        query = state["filter"] = new_query(state, int(query["reached"]))
    elif query is None or not query.get("token"):  # only a paged query goes on
        query = state["filter"] = new_query(state, combined_start(state))
    got = 0
    catch_up: set[str] = set()
    for _ in range(MAX_PAGES_PER_CALL):
        params: FilterLogEventsRequestTypeDef = {
            "logGroupName": reader.group,
            "logStreamNamePrefix": f"{job}/",
            "startTime": query["start"],
            "limit": reader.page_limit,
        }
        if query["token"]:
            params["nextToken"] = query["token"]
        try:
            page = call_logs(reader.client.filter_log_events, **params)
        except ExpiredToken:
            state.pop("filter", None)  # start again from the positions
            state["due"] = 0.0
            return
        if page is None:  # no log group yet
            query["token"] = None
            break
        for event in page.get("events", []):
            query["reached"] = max(int(query.get("reached", 0)), int(event["timestamp"]))
            verdict = apply_combined(job, streams, query, event, out)
            if verdict == NEW:
                got += 1
            elif verdict == CATCH_UP:
                catch_up.add(str(event["logStreamName"]))
        token = page.get("nextToken")
        if not token or token == query["token"]:
            query["token"] = None
            break
        query["token"] = token
    backlog = bool(query["token"])
    for name in sorted(catch_up, key=lambda n: stream_order(job, n)):
        # A stream seen for the first time, or fallen behind the query's window: read
        # it exactly from its own position, so lines that reached CloudWatch late are
        # not skipped. The query is then started afresh from the new positions.
        stream = streams[name]
        stream["token"] = None
        state.pop("filter", None)
        try:
            read, more = reader.read_stream(job, name, stream, out, False)
        finally:  # throttled half-way too: positions, not tokens, carry this read
            stream["token"] = None
        got += read
        backlog = backlog or more
    hosts = max(len(streams), int(state.get("hosts") or 1))
    interval = combined_interval(hosts)
    if backlog:
        state["due"] = 0.0  # a backlog: go on at the caller's next call
        state["backlog"] = True
        return
    state.pop("filter", None)
    if got:
        state["quiet"] = 0
        state["due"] = now + interval
    else:
        state["quiet"] = min(state.get("quiet", 0) + 1, 8)
        state["due"] = now + min(interval * 2 ** state["quiet"], IDLE_MAX_INTERVAL)


def new_query(state: ReaderCursor, start: int) -> CombinedQuery:
    """Return a query from ``start``, checked against the streams' positions at or after it.

    A stream whose position lies before ``start`` (or that has none) is not in ``base``:
    its events make :func:`apply_combined` ask for it to be caught up by itself.
    """
    streams = state["streams"]
    base = {
        name: [stream["ts"], stream["skip"], 0]
        for name, stream in streams.items()
        if stream["ts"] is not None and stream["ts"] >= start
    }
    return {"start": start, "token": None, "base": base}


def combined_start(state: ReaderCursor) -> int:
    """Return the ``startTime`` of the next query: the least advanced stream, bounded.

    ``0`` before any line was read (a follower that starts late gets the whole log).
    """
    positions = [s["ts"] for s in state["streams"].values() if s["ts"] is not None]
    if not positions:
        return 0
    return int(max(min(positions), max(positions) - LATE_WINDOW))


def apply_combined(
    job: str,
    streams: dict[str, StreamPosition],
    query: CombinedQuery,
    event: FilteredLogEventTypeDef,
    out: list[LogEvent],
) -> str:
    """Append ``event`` to ``out`` unless its stream's position says it was read.

    Returns :data:`NEW` (appended), :data:`SEEN` (read before) or :data:`CATCH_UP`:
    the stream's position lies before the query's start (a new stream, or one that
    fell behind), so lines between the two may be missing from this query and the
    stream must be read by itself.
    """
    name = str(event.get("logStreamName", ""))
    if not name:
        return SEEN
    timestamp = int(event["timestamp"])
    stream = streams.setdefault(name, new_stream())
    base = query["base"]
    known = base.get(name)
    if known is not None:
        if timestamp < known[0]:
            return SEEN  # before the position the query started from: read already
        if timestamp == known[0] and known[2] < known[1]:
            known[2] += 1  # one of the lines at that timestamp already read
            return SEEN
    elif query["start"] > 0:
        return CATCH_UP
    out.append(
        LogEvent(
            timestamp=timestamp,
            host=host_of(job, name),
            message=message_of(event),
        )
    )
    if timestamp == stream["ts"]:
        stream["skip"] += 1
    else:
        stream["ts"], stream["skip"] = timestamp, 1
    return NEW
