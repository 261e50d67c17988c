"""Process identity, process-group signalling and job marks, through ``psutil``.

A pid alone is not an identity: after a crash the number may be reused by an unrelated
process. Jobs record ``(pid, start time)`` as ``psutil`` reports it (the same on Linux,
macOS and the BSDs); a process is "the same" only if both match, and a zombie counts as
dead. ``/proc`` is never read, so stop, dead-supervisor detection and the end of a grace
period work wherever ``psutil`` does.

Every process of a job carries :data:`ENV_JOB_ID` in its environment (inherited by
whatever it starts, even in a new session), so a stop or the job's end can find and end
daemons a script started with ``setsid`` (Ray, Dask), which group signals never reach.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

#: The job's name, for scripts (``SM_MAGICS_JOB``), and the mark of this run of it.
ENV_JOB = "SM_MAGICS_JOB"
ENV_JOB_ID = "SM_MAGICS_JOB_ID"
#: Recorded start times agree to this many seconds (``psutil`` derives them from ticks).
_START_TOLERANCE = 0.05
_PR_SET_PDEATHSIG = 1


def start_time(pid: int) -> str | None:
    """Return the process's start time (seconds since the epoch, as text), or ``None``."""
    import psutil

    try:
        return f"{psutil.Process(pid).create_time():.2f}"
    except (psutil.Error, OSError):
        return None


#: The older name, kept for the endpoint and transform code that records identities.
start_ticks = start_time


def _same_start(recorded: str, pid: int) -> bool:
    """Whether ``pid`` started at ``recorded`` (an identity an older version wrote: yes)."""
    if "." not in recorded:  # clock ticks from /proc, before psutil: cannot compare
        return True
    current = start_time(pid)
    if current is None:
        return True
    try:
        return abs(float(current) - float(recorded)) <= _START_TOLERANCE
    except ValueError:
        return True


def _running(process: psutil.Process) -> bool:
    import psutil

    try:
        return process.status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # exists, but we may not look (another user's): count it as running


def is_alive(pid: int | None, ticks: str | None = None) -> bool:
    """Whether ``pid`` runs and, when ``ticks`` (its start time) is given, started then."""
    import psutil

    if not pid:
        return False
    try:
        process = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True
    if not _running(process):
        return False
    return ticks is None or _same_start(ticks, pid)


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; return whether any process was there."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _members(pgid: int) -> list[psutil.Process]:
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid:
                found.append(process)
        except (ProcessLookupError, PermissionError, OSError):
            continue
    return found


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running.

    A zombie does not count: ``killpg(pgid, 0)`` succeeds while an exited process waits
    to be reaped (by the supervisor after this returns, or never when it was orphaned under
    an init that does not reap), and counting it would make every stop wait the full grace.
    """
    if not signal_group(pgid, 0):
        return False
    return any(_running(process) for process in _members(pgid))


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


# -- job marks ---------------------------------------------------------------------------------


def mark_env(job: str, mark: str) -> dict[str, str]:
    """Return the variables that mark a process (and all it starts) as one of a job's."""
    return {ENV_JOB: job, ENV_JOB_ID: mark}


def marked(mark: str) -> list[psutil.Process]:
    """Return the running processes whose environment carries ``mark``.

    Processes of other users cannot be read and are skipped: a job only starts processes
    as the user who runs it.
    """
    import psutil

    found = []
    me = os.getpid()
    for process in psutil.process_iter():
        if process.pid == me:
            continue
        try:
            if process.environ().get(ENV_JOB_ID) == mark and _running(process):
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def sweep_marked(mark: str | None, grace: float) -> int:
    """End every process carrying ``mark``: SIGTERM, ``grace`` seconds, then SIGKILL.

    Returns how many were found. Processes that a script detached from its group (a new
    session, a double fork) are found this way although no group signal reaches them.
    """
    import psutil

    if not mark:
        return 0
    found = marked(mark)
    for process in found:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(found, timeout=grace) if grace > 0 else ([], found)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    if alive:
        psutil.wait_procs(alive, timeout=1.0)
    return len(found)


def die_with_parent() -> Callable[[], None] | None:
    """Return a ``preexec_fn`` that kills the child when its parent dies (Linux), or ``None``.

    ``PR_SET_PDEATHSIG`` ends a host at once when its supervisor dies however it dies
    (``kill -9``, the OOM killer). Elsewhere the job's watchdog does it (see
    :mod:`~sm_magics.backends.local.watchdog`).
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call: die now
            os._exit(1)

    return preexec


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


def spawn_detached(
    argv: list[str], log_path: Path, *, stdin: int | None = None
) -> subprocess.Popen[bytes]:
    """Start a process that outlives this one (a job supervisor, a router, a transform).

    It gets its own session, so the kernel's signals (and its death) never reach it; its
    output goes to ``log_path``; ``SM_MAGICS_HOME`` is pinned so it uses the same ledger
    and folders as we do. The process is tracked so it is reaped when it ends. ``stdin``:
    a pipe's read end to hand it something (default: ``/dev/null``).
    """
    from sm_magics import config

    with open(os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            umask=0o077,  # logs, models and outputs private, as the home (issue 12 #11)
            env={**os.environ, config.ENV_HOME: str(config.home_dir())},
        )
    track_child(process)
    return process
