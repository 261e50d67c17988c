"""Process identity and process-group signalling for detached local jobs.

A pid alone is not an identity: after a crash the number may be reused by an unrelated
process. Jobs record ``(pid, start time)`` read from ``/proc/<pid>/stat``; a process is
"the same" only if both match, and a zombie counts as dead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable
from pathlib import Path


def start_ticks(pid: int) -> str | None:
    """Return the process start time in clock ticks since boot, or ``None`` if unknown."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()[0]


def is_alive(pid: int | None, ticks: str | None = None) -> bool:
    """Whether ``pid`` runs and, when ``ticks`` is given, is the process that started then."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if _state(pid) in {"Z", "X"}:
        return False
    return ticks is None or start_ticks(pid) in (None, ticks)


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; return whether any process was there."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running.

    A zombie does not count: ``killpg(pgid, 0)`` succeeds while an exited process waits
    to be reaped (by the supervisor after this returns, or never when it was orphaned under
    an init that does not reap), and counting it would make every stop wait the full grace.
    """
    if not signal_group(pgid, 0):
        return False
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:
        return True
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            with open(entry / "stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in {"Z", "X"}:
            return True
    return False


def terminate_groups(pgids: Iterable[int], grace: float) -> None:
    """SIGTERM every group, wait up to ``grace`` seconds, then SIGKILL what is left.

    The grace period is what SageMaker gives a container on ``StopTrainingJob``: time to
    write a checkpoint or the model before being killed.
    """
    groups = [g for g in pgids if signal_group(g, signal.SIGTERM)]
    deadline = time.monotonic() + grace
    while groups and time.monotonic() < deadline:
        groups = [g for g in groups if group_alive(g)]
        if groups:
            time.sleep(0.05)
    for group in groups:
        signal_group(group, signal.SIGKILL)


# Popen objects of the detached supervisors and routers this process started: polled so
# they never linger as zombies (which would look alive to ``kill(pid, 0)``).
_children: list[subprocess.Popen[bytes]] = []
_children_lock = threading.Lock()  # follower threads describe (and so reap) concurrently


def reap_children() -> None:
    """Collect the exit status of supervisors and routers we started that have ended."""
    with _children_lock:
        _children[:] = [child for child in _children if child.poll() is None]


def track_child(process: subprocess.Popen[bytes]) -> None:
    """Remember a detached process we started, so it is reaped when it ends."""
    with _children_lock:
        _children.append(process)


def spawn_detached(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start a process that outlives this one (a job supervisor, a router, a transform).

    It gets its own session, so the kernel's signals (and its death) never reach it; its
    output goes to ``log_path``; ``SM_MAGICS_HOME`` is pinned so it uses the same ledger
    and folders as we do. The process is tracked so it is reaped when it ends.
    """
    from sm_magics import config

    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, config.ENV_HOME: str(config.home_dir())},
        )
    track_child(process)
    return process
