"""The kernel's side of a training job's starter: one kept ready, and the hand-over.

A starter (:mod:`.starter`) spends its first tens of milliseconds starting an interpreter,
and the script's first line waits for that and for the host's own start. So the kernel
keeps one starter started ahead (``--ready``: it waits on its stdin); the next job is
handed to a process already running, and its first line waits for one interpreter start
instead of two. At most one waits per kernel, for one home and one Python; it ends by
itself when the kernel ends (its stdin closes), and the first job of a kernel starts its
own (the same hand-over, started just before the job is laid out).

The message (:mod:`marshal`, over the pipe, never on disk: it holds the environment) is
``{"root", "home", "environ", "plan"}``; ``plan`` is ``None`` when the supervisor must do
everything itself (a venv to build).
"""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from sm_magics import config
from sm_magics.backends.local import processes
from sm_magics.backends.local.jobdir import JobDir

_lock = threading.Lock()
#: ``(key, process, write end)`` of the starter kept ready, if any.
_ready: list[tuple[tuple[str, str], subprocess.Popen[bytes], int]] = []


def _key() -> tuple[str, str]:
    return sys.executable, str(config.home_dir())


def _spawn(log: Path | None) -> tuple[subprocess.Popen[bytes], int]:
    from sm_magics.backends.local import starter

    read_end, write_end = os.pipe()
    command = [sys.executable, "-S", str(Path(starter.__file__).resolve())]
    try:
        process = processes.spawn_detached(
            [*command, *([] if log is not None else ["--ready"])],
            log if log is not None else Path(os.devnull),
            stdin=read_end,
        )
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    return process, write_end


class Handoff:
    """The pipe to one job's starter: :meth:`send` once laid out, or :meth:`abandon`."""

    def __init__(self, process: subprocess.Popen[bytes], write_end: int, job: JobDir) -> None:
        self.process = process
        self._pipe = os.fdopen(write_end, "wb")
        self._job = job

    def send(self, plan: dict[str, Any] | None) -> None:
        """Hand the job over (``plan``: the hosts' launch, or None for the supervisor's path)."""
        message = {
            "root": str(self._job.root),
            "home": str(config.home_dir()),
            "environ": dict(os.environ),
            "plan": plan,
        }
        with self._pipe:
            self._pipe.write(marshal.dumps(message))

    def abandon(self) -> None:
        """Close the pipe without a word: the starter ends (the creation failed)."""
        self._pipe.close()


def begin(job: JobDir) -> Handoff:
    """Return the hand-over to the job's starter: the one kept ready, else a new one."""
    with _lock:
        ready = _ready.pop() if _ready else None
    if ready is not None:
        key, process, write_end = ready
        if key == _key() and process.poll() is None:
            return Handoff(process, write_end, job)
        os.close(write_end)  # another home or Python: it ends
    process, write_end = _spawn(job.supervisor_log)
    return Handoff(process, write_end, job)


#: Seconds after a job's creation before the next job's starter is started. A starter
#: kept ready loads everything while it waits (about 80 ms of CPU): started at once, it
#: would compete with the job's hosts for the CPU just when their first line is due.
READY_DELAY = 0.2


def keep_one_ready() -> None:
    """Start a starter for the next job, in the background, unless one waits already.

    After :data:`READY_DELAY`: past the job's first line, and long before a person submits
    the next one (a job submitted sooner starts its own starter, as the first one does).
    """

    def spawn() -> None:
        with _lock:
            if _ready:
                return
            try:
                process, write_end = _spawn(None)
            except OSError:
                return  # the next job starts its own
            _ready.append((_key(), process, write_end))

    timer = threading.Timer(READY_DELAY, spawn)
    timer.name = "sm-magics-starter"
    timer.daemon = True
    timer.start()
