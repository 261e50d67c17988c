"""Issue 13 item 2: a follower is woken by the job folder's changes (``inotify``, Linux).

The watch must wake on what the job's writers do (a log pump appending, the supervisor
replacing ``state.json``), consume what woke it, and be absent, not broken, off Linux.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from sm_magics.backends.local import folder_watch

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="inotify is Linux's; elsewhere followers poll"
)


@linux_only
def test_an_append_wakes_the_watch_once(tmp_path: Path) -> None:
    log = tmp_path / "algo-1.log"
    log.write_text("")
    watch = folder_watch.open_watch([tmp_path])
    assert watch is not None
    try:
        assert watch.wait(0) is False  # nothing happened yet
        with log.open("a") as handle:
            handle.write("first\n")
        assert watch.wait(60) is True
        assert watch.wait(0) is False  # what woke it was consumed
    finally:
        watch.close()


@linux_only
def test_an_atomic_replace_in_another_folder_wakes_it(tmp_path: Path) -> None:
    logs, root = tmp_path / "logs", tmp_path
    logs.mkdir()
    watch = folder_watch.open_watch([logs, root])
    assert watch is not None
    try:
        staged = root / "state.json.tmp"
        staged.write_text("{}")
        watch.wait(0)  # the staging file's own events
        os.replace(staged, root / "state.json")
        assert watch.wait(60) is True
    finally:
        watch.close()


@linux_only
def test_a_closed_watch_never_blocks(tmp_path: Path) -> None:
    watch = folder_watch.open_watch([tmp_path])
    assert watch is not None
    watch.close()
    watch.close()  # idempotent
    assert watch.wait(3600) is False


def test_no_watch_where_it_cannot_be(tmp_path: Path, monkeypatch) -> None:
    assert folder_watch.open_watch([tmp_path / "missing"]) is None
    monkeypatch.setattr(sys, "platform", "darwin")
    assert folder_watch.open_watch([tmp_path]) is None
