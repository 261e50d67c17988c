"""Issue 13 items 1 and 4: the end is seen from the status token, memory stays bounded.

No timing is asserted: a follower or a wait whose status pace is an hour must still
return when the job ends (only the status token can tell it), and a long log must reach
the callbacks batch by batch, never gathered whole.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from sm_magics import logs
from sm_magics.backends import kinds
from sm_magics.logs import LogFollower

MANY_LINES = "for i in range(200000):\n    print('line', i)\n"


def _train(ip: Any, script: str) -> Any:
    return ip.run_cell_magic("sm_train", "--wait", script)


def test_the_follower_sees_the_end_without_a_status_poll(ip) -> None:
    from sm_magics.api import Session

    job = Session(backend="local").train("import time\ntime.sleep(0.5)\nprint('bye')\n")
    statuses: list[str] = []
    lines: list[str] = []
    follower = LogFollower(
        job,
        lambda events: lines.extend(e.message for e in events),
        lambda d: statuses.append(kinds.status_of(d)),
        status_interval=3600,  # only the state file's change can end this follower
    )
    follower.start()
    follower.join(timeout=120)
    assert not follower.is_alive() and follower.error is None
    assert statuses[-1] == "Completed"
    assert "bye" in lines


def test_wait_returns_at_the_end_without_a_status_poll(ip) -> None:
    from sm_magics.api import Session

    job = Session(backend="local").train("import time\ntime.sleep(0.5)\n")
    assert job.wait(timeout=120, poll=3600).status == "Completed"


def test_a_long_log_is_handed_over_batch_by_batch(ip, capsys) -> None:
    job = _train(ip, MANY_LINES)
    capsys.readouterr()
    sizes: list[int] = []
    follower = LogFollower(job, lambda events: sizes.append(len(events)), lambda d: None)
    follower._follow()
    assert sum(sizes) >= 200000
    assert len(sizes) > 1 and max(sizes) < 200000


def test_a_view_starts_from_the_end_with_earlier_lines_on_request(ip, capsys) -> None:
    job = _train(ip, "for i in range(1000):\n    print('n', i)\n")
    capsys.readouterr()
    first: list[list[str]] = []
    skipped: list[str] = []
    follower = LogFollower(
        job,
        lambda events: first.append([e.message for e in events]),
        lambda d: None,
        tail_lines=10,
        on_skipped=lambda events: skipped.extend(e.message for e in events),
    )
    follower._follow()
    numbered = [m for m in first[0] if m.startswith("n ")]
    assert numbered[-1] == "n 999" and len(first[0]) <= 10
    assert "n 0" in skipped and "n 999" not in skipped  # each line seen once
    earlier = [e.message for e in follower.tail.earlier(3)]
    assert len(earlier) == 3 and earlier[-1] not in first[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the change watch is inotify")
def test_the_first_line_is_read_when_the_watch_wakes_not_at_the_poll_pace(
    ip, monkeypatch, tmp_path: Path
) -> None:
    # Poll paces of an hour: only the change watch can bring the script's first line
    # before the job ends, and the job ends only once the test has seen that line.
    from sm_magics.api import Session

    monkeypatch.setattr(logs, "FAST_INTERVAL", 3600)
    monkeypatch.setattr(logs, "WATCHED_INTERVAL", 3600)
    seen = tmp_path / "seen"
    script = (
        "import os, time\nprint('first', flush=True)\n"
        f"while not os.path.exists({str(seen)!r}): time.sleep(0.02)\n"
    )
    job = Session(backend="local").train(script)
    lines: list[str] = []

    def on_events(events: list[Any]) -> None:
        lines.extend(e.message for e in events)
        if "first" in lines:
            seen.touch()

    follower = LogFollower(job, on_events, lambda d: None, status_interval=3600)
    follower.start()
    follower.join(timeout=60)
    seen.touch()  # on failure, let the job end
    assert not follower.is_alive(), "the first line was not read until the job ended"
    assert follower.error is None and "first" in lines
