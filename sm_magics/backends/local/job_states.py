"""What every kind of local job kept in a job folder shares: its state, read and acted on.

Training, transform and processing jobs each have a job folder whose ``state.json`` the
job's supervisor writes. Reading it (and noticing a supervisor that died), bringing the
ledger row up to it, and asking the job to stop are the same for every kind: the backend's
parts each hold one :class:`JobStates` rather than borrowing these from one another.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import warnings
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

from sm_magics.backends import statuses
from sm_magics.backends.local import processes
from sm_magics.backends.local.jobdir import JobDir, disk_full
from sm_magics.ledger import Ledger


@contextlib.contextmanager
def unless_disk_full() -> Iterator[None]:
    """Skip a write the disk has no room for, with a warning; raise anything else."""
    try:
        yield
    except Exception as exc:
        if not disk_full(exc):
            raise
        warnings.warn(f"not recorded, the disk is full: {exc}", RuntimeWarning, stacklevel=3)


#: How long a job may sit without a supervisor pid before it counts as never started.
SPAWN_GRACE_SECONDS = 30.0


def lost_owner(
    read_state: Callable[[], dict[str, Any]],
    *,
    owner: str,
    label: str,
    log: Path,
    terminal: Collection[str],
) -> tuple[dict[str, Any], str | None]:
    """Return a local resource's state, and why the process that owns it is gone.

    ``owner`` names the state's ``<owner>_pid`` and ``<owner>_start`` (a job's supervisor,
    a tuning job's tuner). The reason is ``None`` while the state is final, the owner
    runs, or it may still be starting (:data:`SPAWN_GRACE_SECONDS`); otherwise the
    caller ends the resource with it. One rule for every detached owner, so a job and a
    tuning job read "died" the same way.
    """
    state = read_state()
    if state["status"] in terminal:
        return state, None
    pid = state.get(f"{owner}_pid")
    if pid is None:
        if time.time() - state["created"] < SPAWN_GRACE_SECONDS:
            return state, None
        return state, f"{label} never started"
    if processes.is_alive(pid, state.get(f"{owner}_start")):
        return state, None
    state = read_state()  # it may have finished cleanly between our two reads
    if state["status"] in terminal:
        return state, None
    return state, f"{label} (pid {pid}) exited unexpectedly; see {log}"


class JobStates:
    """The state of local job folders, and their ledger rows kept in step with it."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @staticmethod
    def merge_state(job: JobDir, ours: dict[str, Any]) -> None:
        """Add the supervisor's identity without undoing what it may have written."""
        current = job.read_state()
        if current.get("supervisor_pid") in (None, ours["supervisor_pid"]):
            current["supervisor_pid"] = ours["supervisor_pid"]
            current["supervisor_start"] = ours["supervisor_start"]
            job.write_state(current)

    def checked_state(self, job: JobDir) -> dict[str, Any]:
        """Return the state, marking the job Failed if its supervisor is gone."""
        processes.reap_children()
        state, reason = lost_owner(
            job.read_state,
            owner="supervisor",
            label="the local job supervisor",
            log=job.supervisor_log,
            terminal=statuses.TERMINAL_STATUSES,
        )
        if reason is None:
            return state
        processes.terminate_groups(state.get("host_pgids") or [], grace=0)
        processes.sweep_marked(state.get("job_mark"), grace=0)  # daemons it started too
        now = time.time()
        if job.stop_marker.exists():
            # Stopped before it could install its SIGTERM handler: the stop killed it.
            outcome, failure_reason = statuses.STOPPED, None
            reason = "Training job stopped"
        else:
            outcome, failure_reason = statuses.FAILED, f"InternalServerError: {reason}"
        state.update(
            status=outcome, secondary_status=outcome, ended=now, failure_reason=failure_reason
        )
        state.setdefault("transitions", []).append(
            {"Status": outcome, "StartTime": now, "EndTime": now, "StatusMessage": reason}
        )
        with unless_disk_full():  # the outcome is known: describe it even if not stored
            job.write_state(state)
        with unless_disk_full():
            self.ledger.update_job(
                job.name,
                status=outcome,
                secondary_status=outcome,
                ended_at=now,
                failure_reason=failure_reason,
            )
        return state

    def sync_ledger(self, name: str, state: dict[str, Any]) -> None:
        """Bring the ledger row up to the job folder's truth if a write was missed."""
        record = self.ledger.get_job(name)
        if record is None:
            return
        if (record.status, record.secondary_status) == (state["status"], state["secondary_status"]):
            return
        with unless_disk_full():  # the job folder is the truth; the index catches up later
            self.ledger.update_job(
                name,
                status=state["status"],
                secondary_status=state["secondary_status"],
                ended_at=state.get("ended"),
                failure_reason=state.get("failure_reason"),
                model_data=state.get("model_data"),
                started_at=state.get("training_start"),
                metrics={m["MetricName"]: m["Value"] for m in state.get("final_metrics", [])},
            )

    def signal_stop(self, job: JobDir) -> None:
        """Mark a job folder's job as stopping and SIGTERM its supervisor (any kind)."""
        state = self.checked_state(job)
        if state["status"] in statuses.TERMINAL_STATUSES:
            return
        job.stop_marker.touch()
        pid = state.get("supervisor_pid")
        if pid and processes.is_alive(pid, state.get("supervisor_start")):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
