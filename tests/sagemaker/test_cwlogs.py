"""The CloudWatch log reader: every line exactly once, in order, with few calls.

Run against :class:`sm_fakes.FakeLogs` (CloudWatch Logs in memory, paging as AWS pages,
requests validated against the real ``logs`` service model) and a clock the tests move by
hand, so hours of polling take milliseconds and every schedule is reproducible.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sm_fakes import FakeClock, FakeLogs

from sm_magics.backends.base import LogEvent
from sm_magics.backends.sagemaker import cwlogs
from sm_magics.backends.sagemaker.cwlogs import TRAINING_LOG_GROUP as GROUP
from sm_magics.backends.sagemaker.cwlogs import LogReader
from sm_magics.errors import AccessDenied, BackendUnavailable

JOB = "job-7"


def stream(host: int, epoch: int = 1_800_000_000) -> str:
    return f"{JOB}/algo-{host}-{epoch}"


class Run:
    """A fake job's logs, a reader, and everything it returned so far."""

    def __init__(self, hosts: int, *, page_limit: int = 10_000, list_page_size: int = 50) -> None:
        self.hosts = hosts
        self.clock = FakeClock()
        self.logs = FakeLogs(list_page_size=list_page_size)
        self.reader = LogReader(
            self.logs, clock=self.clock, sleep=self.clock.sleep, page_limit=page_limit
        )
        self.cursor: dict[str, Any] | None = None
        self.written: list[LogEvent] = []
        self.batches: list[list[LogEvent]] = []
        self._seq = 0

    def start(self, host: int) -> None:
        self.logs.create_stream(GROUP, stream(host))

    def write(self, host: int, count: int = 1) -> None:
        for _ in range(count):
            self._seq += 1
            message = f"line {self._seq} of algo-{host}"
            self.logs.put(GROUP, stream(host), self.clock.ms, message)
            self.written.append(LogEvent(self.clock.ms, f"algo-{host}", message))

    def read(self, *, finished: bool = False) -> list[LogEvent]:
        batch = self.reader.read(JOB, self.cursor, expected_streams=self.hosts, finished=finished)
        self.cursor = batch.cursor
        if batch.events:
            self.batches.append(batch.events)
        return batch.events

    def drain(self) -> None:
        """The follower's final read: read a finished job until a read brings nothing."""
        while self.read(finished=True):
            pass

    @property
    def received(self) -> list[LogEvent]:
        return [event for batch in self.batches for event in batch]

    def assert_exactly_once(self) -> None:
        received = self.received
        assert len(received) == len(set(received)), "a line came twice"
        assert sorted(received, key=_key) == sorted(self.written, key=_key)

    def assert_ordered(self) -> None:
        for batch in self.batches:
            assert [e.timestamp for e in batch] == sorted(e.timestamp for e in batch)
        for host in {e.host for e in self.written}:
            mine = [e.message for e in self.received if e.host == host]
            assert mine == [e.message for e in self.written if e.host == host]


def _key(event: LogEvent) -> tuple[int, str, str]:
    return (event.timestamp, event.host, event.message)


# -- exactly once, in order -------------------------------------------------------------------


@pytest.mark.parametrize("hosts", [2, 4])
def test_steady_hosts_every_line_once_in_timestamp_order(hosts: int) -> None:
    run = Run(hosts)
    for host in range(1, hosts + 1):
        run.start(host)
    for _ in range(400):  # 80 s of a follower polling every 0.2 s
        run.clock.advance(0.2)
        for host in range(1, hosts + 1):
            run.write(host)
        run.read()
    run.drain()
    run.assert_exactly_once()
    run.assert_ordered()
    timestamps = [e.timestamp for e in run.received]
    assert timestamps == sorted(timestamps)  # all hosts write, so all share one cadence


@pytest.mark.parametrize("hosts", [2, 4])
def test_streams_appear_late_and_listing_stops_once_all_are_known(hosts: int) -> None:
    run = Run(hosts, list_page_size=1)  # one stream per DescribeLogStreams page
    run.logs.create_stream(GROUP, f"{JOB}-2/algo-1-1800000000")  # another job, same prefix
    run.read()  # no log group yet: an empty batch, not an error
    assert run.logs.calls["describe_log_streams"] == 1
    appear_at = {host: 5 * host for host in range(1, hosts + 1)}  # one host every 5 s
    for tick in range(1, 301):  # 60 s
        run.clock.advance(0.2)
        for host, second in appear_at.items():
            if tick * 0.2 >= second:
                if stream(host) not in run.logs.streams.get(GROUP, {}):
                    run.start(host)
                run.write(host)
        run.read()
        if run.cursor and run.cursor["complete"]:
            break
    assert run.cursor is not None and run.cursor["complete"]
    assert set(run.cursor["streams"]) == {stream(h) for h in range(1, hosts + 1)}
    listings = run.logs.calls["describe_log_streams"]
    for _ in range(600):  # two more minutes, lines all the way
        run.clock.advance(0.2)
        for host in range(1, hosts + 1):
            run.write(host)
        run.read()
    run.drain()
    assert run.logs.calls["describe_log_streams"] == listings  # never again
    run.assert_exactly_once()
    run.assert_ordered()
    # Pagination passed each page's nextToken on (a restart would never see algo-2).
    tokens = [p.get("nextToken") for op, p in run.logs.requests if op == "describe_log_streams"]
    assert any(tokens)


def test_page_boundaries_no_wasted_empty_page() -> None:
    run = Run(1, page_limit=7)
    run.start(1)
    run.write(1, 25)  # pages of 7, 7, 7, 4: the short page is the end
    assert len(run.read()) == 25
    assert run.logs.calls["get_log_events"] == 4
    run.clock.advance(60)
    run.write(1, 14)  # exactly two full pages: only an empty page can tell the end
    assert len(run.read()) == 14
    assert run.logs.calls["get_log_events"] == 4 + 3
    run.clock.advance(60)
    assert run.read() == []
    assert run.logs.calls["get_log_events"] == 8  # the one call of an idle poll
    run.assert_exactly_once()


def test_a_long_backlog_is_read_across_calls() -> None:
    run = Run(2, page_limit=5)
    run.start(1)
    run.start(2)
    run.write(1, 5 * cwlogs.MAX_PAGES_PER_CALL * 3 + 2)
    run.write(2, 3)
    first = run.read()
    assert len(first) == 5 * cwlogs.MAX_PAGES_PER_CALL + 3  # one call's worth, then stop
    while run.read():  # the follower reads again at once while lines come
        pass
    run.assert_exactly_once()
    run.assert_ordered()


def test_empty_page_with_a_new_token_is_not_the_end() -> None:
    """AWS: "This operation can return empty results while there are more log events"."""
    run = Run(1)
    run.start(1)
    run.write(1)
    assert len(run.read()) == 1
    run.clock.advance(30)
    run.write(1, 3)
    run.logs.empty_page_next[stream(1)] = 2
    calls = run.logs.calls["get_log_events"]
    assert len(run.read()) == 3
    assert run.logs.calls["get_log_events"] == calls + 3  # two empty pages, then the lines


def test_group_or_stream_missing_is_an_empty_batch() -> None:
    run = Run(2)
    assert run.read() == []
    run.clock.advance(30)
    run.start(1)
    run.logs.fail_next["get_log_events"] = ["ResourceNotFoundException"]
    assert run.read() == []  # listed, but its stream vanished: no error, try later
    run.write(1, 2)
    run.clock.advance(30)
    assert len(run.read()) == 2


# -- throttling -------------------------------------------------------------------------------


def test_throttling_mid_poll_returns_what_was_read_and_backs_off() -> None:
    run = Run(4)
    for host in range(1, 5):
        run.start(host)
        run.write(host, 3)
    run.logs.fail_next["get_log_events"] = ["", "", "ThrottlingException"]
    first = run.read()
    assert {e.host for e in first} == {"algo-1", "algo-2"}  # what came before the throttle
    calls = run.logs.calls["get_log_events"]
    assert run.read() == []  # backing off: no call at all
    assert run.logs.calls["get_log_events"] == calls
    run.clock.advance(cwlogs.THROTTLE_MIN_WAIT)
    second = run.read()
    assert {e.host for e in second} == {"algo-3", "algo-4"}
    run.drain()
    run.assert_exactly_once()


def test_throttling_backs_off_exponentially_and_recovers() -> None:
    run = Run(1)
    run.start(1)
    run.write(1)
    run.logs.fail_next["describe_log_streams"] = ["ThrottlingException"] * 3
    waits = []
    for _ in range(3):
        assert run.read() == []
        assert run.cursor is not None
        waits.append(run.cursor["throttled_until"] - run.clock.now)
        run.clock.advance(waits[-1])
    assert waits == [1.0, 2.0, 4.0]
    assert len(run.read()) == 1
    assert run.cursor is not None and run.cursor["backoff"] == 0.0


def test_a_finished_job_waits_out_throttling_instead_of_returning_nothing() -> None:
    run = Run(1)
    run.start(1)
    run.write(1, 2)
    run.logs.fail_next["describe_log_streams"] = ["ThrottlingException", "ThrottlingException"]
    assert len(run.read(finished=True)) == 2  # an empty batch would read as "no more lines"
    assert run.clock.slept == [1.0, 2.0]


def test_a_finished_job_throttled_for_too_long_raises() -> None:
    run = Run(1)
    run.logs.fail_next["describe_log_streams"] = ["ThrottlingException"] * 100
    with pytest.raises(BackendUnavailable, match="kept throttling"):
        run.read(finished=True)


def test_access_denied_raises_and_keeps_the_cursor() -> None:
    run = Run(2)
    run.start(1)
    run.start(2)
    run.write(1, 2)
    run.write(2, 2)
    run.logs.fail_next["get_log_events"] = ["", "AccessDeniedException"]
    cursor_before = run.cursor
    with pytest.raises(AccessDenied, match="logs:GetLogEvents"):
        run.read()
    assert run.cursor is cursor_before
    run.clock.advance(1)
    run.drain()  # retrying from the old cursor: algo-1's lines once, not twice
    run.assert_exactly_once()


# -- pacing -----------------------------------------------------------------------------------


def test_an_immediate_second_read_costs_nothing() -> None:
    run = Run(2)
    run.start(1)
    run.start(2)
    run.write(1, 3)
    run.write(2, 3)
    assert len(run.read()) == 6
    calls = sum(run.logs.calls.values())
    assert run.read() == []  # what LogTail does after every batch
    assert sum(run.logs.calls.values()) == calls


def test_quiet_streams_back_off_to_the_idle_pace() -> None:
    run = Run(4)
    for host in range(1, 5):
        run.start(host)
        run.write(host)
    run.read()
    before = run.logs.calls["get_log_events"]
    for _ in range(600):  # ten idle minutes, polled every second
        run.clock.advance(1)
        run.read()
    idle_calls = run.logs.calls["get_log_events"] - before
    assert idle_calls <= 4 * (600 / cwlogs.IDLE_MAX_INTERVAL + 4)  # about 6 a minute a stream
    run.write(3)  # a quiet host speaks again: read within the idle interval
    delivered_after = 0.0
    while not run.read():
        run.clock.advance(0.2)
        delivered_after += 0.2
    assert delivered_after <= cwlogs.IDLE_MAX_INTERVAL + 0.2


def test_a_chatty_host_does_not_make_quiet_hosts_expensive() -> None:
    """Rank 0 logs, the others say nothing: the others are read at the idle pace."""
    run = Run(4)
    for host in range(1, 5):
        run.start(host)
    for _ in range(3000):  # ten minutes, algo-1 writes every 0.2 s
        run.clock.advance(0.2)
        run.write(1)
        run.read()
    per_stream = {stream(h): 0 for h in range(1, 5)}
    for op, params in run.logs.requests:
        if op == "get_log_events":
            per_stream[params["logStreamName"]] += 1
    assert per_stream[stream(1)] >= 10 * 60 / cwlogs.active_interval(4) * 0.9
    # Quiet streams: once per idle interval, read up to half an active interval early to
    # share the chatty stream's poll.
    earliest = cwlogs.IDLE_MAX_INTERVAL - cwlogs.active_interval(4) / 2
    for host in (2, 3, 4):
        assert per_stream[stream(host)] <= 10 * 60 / earliest + 5


def test_spot_jobs_keep_listing_slowly_for_restarted_hosts() -> None:
    run = Run(1)
    run.start(1)
    run.write(1)
    assert len(run.reader.read(JOB, None, expected_streams=1, relist_every=60).events) == 1
    cursor = run.reader.read(JOB, None, expected_streams=1, relist_every=60).cursor
    run.logs.create_stream(GROUP, stream(1, epoch=1_800_000_900))  # the host restarted
    run.logs.put(GROUP, stream(1, epoch=1_800_000_900), run.clock.ms, "resumed from checkpoint")
    run.clock.advance(61)
    batch = run.reader.read(JOB, cursor, expected_streams=1, relist_every=60)
    assert [e.message for e in batch.events] == ["resumed from checkpoint"]


def test_an_expired_token_resumes_by_time_without_repeats() -> None:
    run = Run(1)
    run.start(1)
    for _ in range(3):  # three lines in the same millisecond, then one more
        run.write(1)
    run.clock.advance(1)
    run.write(1)
    assert len(run.read()) == 4
    assert run.cursor is not None
    run.cursor["streams"][stream(1)]["token"] = "expired/1"  # a day-old token
    run.write(1, 2)
    run.clock.advance(30)
    assert len(run.read()) == 2
    run.assert_exactly_once()


def test_a_clock_gone_back_does_not_stall_the_reader() -> None:
    run = Run(1)
    run.start(1)
    run.write(1)
    run.read()
    run.clock.advance(-3600)  # a cursor from another process's clock, or NTP
    run.write(1)
    assert len(run.read()) == 1


def test_host_names_and_order() -> None:
    assert cwlogs.host_of("j", "j/algo-12-1700000000") == "algo-12"
    assert cwlogs.host_of("j", "j/odd") == "odd"
    # Within the SDK v2's budget of 1 + 2N calls per 10 s, spent on one read per stream.
    for hosts in (1, 2, 4, 8, 64):
        interval = cwlogs.active_interval(hosts)
        assert hosts / interval <= (1 + 2 * hosts) / cwlogs.SDK_POLL_INTERVAL
        assert cwlogs.MIN_ACTIVE_INTERVAL <= interval <= cwlogs.SDK_POLL_INTERVAL / 2


# -- any schedule -----------------------------------------------------------------------------

_ACTIONS = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=4.0),  # seconds until the next poll
        st.lists(st.integers(min_value=1, max_value=4), max_size=6),  # hosts writing a line
        st.sampled_from(["", "", "", "ThrottlingException", "ServiceUnavailableException"]),
        st.booleans(),  # an empty page with a new token on host 1
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=60, deadline=None)
@given(actions=_ACTIONS, page_limit=st.integers(min_value=1, max_value=6), seed=st.integers())
def test_any_schedule_every_line_exactly_once(
    actions: list[tuple[float, list[int], str, bool]], page_limit: int, seed: int
) -> None:
    rng = random.Random(seed)
    run = Run(4, page_limit=page_limit, list_page_size=rng.choice([1, 2, 50]))
    for advance, writers, failure, empty_page in actions:
        run.clock.advance(advance)
        for host in writers:
            if stream(host) not in run.logs.streams.get(GROUP, {}):
                run.start(host)
            run.write(host, rng.randint(1, 3))
        if failure:
            operation = rng.choice(["get_log_events", "describe_log_streams"])
            run.logs.fail_next.setdefault(operation, []).append(failure)
        if empty_page:
            run.logs.empty_page_next[stream(1)] += 1
        run.read()
    run.logs.fail_next.clear()
    run.clock.advance(60)
    run.drain()
    run.assert_exactly_once()
    run.assert_ordered()
