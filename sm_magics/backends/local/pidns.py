"""A training host in a PID namespace of its own: nothing the script started outlives it.

Marking a job's processes by an environment variable and sweeping them (see
:mod:`.processes`) misses a daemon that wipes its environment and double-forks. The kernel
offers a sure mechanism instead: when the first process (the "init") of a PID namespace
ends, every other process in it is killed. :func:`.namespaces.setup` with ``pid`` enters a
new PID namespace (with the user and mount ones, no root needed); :func:`launch`, called
next in the same process (the host process the starter forked, or the ``-m namespaces``
launcher), makes three processes::

    host process (what the supervisor sees: its pid, its group, its exit code)
     └─ init (pid 1 in the namespace, its own /proc)
         └─ the script (pid 2, in a process group of its own)

- The host process forwards the signals it gets (a stop's SIGTERM to the host's group) to
  the init, which forwards them to the script's group: each arrives once.
- When the script ends, the init sends SIGTERM to whatever the script left in the
  namespace, waits up to :data:`LEFTOVER_GRACE` seconds and exits; the kernel then kills
  what is left. As in SageMaker's containers: the job's end is the end of its processes.
- The host process exits as the script did (same code, or killed by the same signal), so
  the supervisor's view of a host does not change. If the host process is killed (SIGKILL
  after the stop's grace, or with its supervisor), the init dies with it
  (``PR_SET_PDEATHSIG``), and with the init the namespace.

Pids a script prints are the namespace's (the script is pid 2), as in a container.
Only ``os``, ``time`` and ``_signal`` are used: this runs in a forked child of the job's
starter, before the script's first line.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # not signal: it imports enum (a few ms)
import contextlib
import os
import time
from typing import NoReturn

#: Signals passed on from the host process to the init and from the init to the script.
FORWARDED = tuple(
    getattr(_signal, name)
    for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
)
#: Seconds the script's leftovers get between SIGTERM and the namespace's end.
LEFTOVER_GRACE = 1.0
_PR_SET_PDEATHSIG = 1


def _say(errors: int | None, text: str) -> None:
    """Report a failed start: on the starter's error pipe, else on stderr."""
    data = text.encode(errors="replace")
    with contextlib.suppress(OSError):
        os.write(errors if errors is not None else 2, data if errors is not None else data + b"\n")


def _forward(target: int, group: bool) -> None:
    def handler(signum: int, _frame: object) -> None:
        try:
            if group:
                os.killpg(target, signum)
            else:
                os.kill(target, signum)
        except OSError:
            pass

    for sig in FORWARDED:
        _signal.signal(sig, handler)


def _script(command: list[str], env: dict[str, str] | None, errors: int | None) -> NoReturn:
    """In the script's process: own group, default signals, then exec the command."""
    try:
        os.setpgid(0, 0)
        for sig in FORWARDED:
            _signal.signal(sig, _signal.SIG_DFL)
        if env is None:
            os.execvp(command[0], command)  # noqa: S606 - the job's own command
        else:
            os.execve(command[0], command, env)  # noqa: S606 - the job's own command
    except BaseException as exc:  # noqa: BLE001 - reported, then we end
        _say(errors, f"{type(exc).__name__}: {exc}")
    finally:
        os._exit(127)


def _init(
    command: list[str], env: dict[str, str] | None, errors: int | None, report: int
) -> NoReturn:
    """PID 1 of the namespace: start the script, reap, end the namespace after it."""
    from sm_magics.backends.local import syscalls

    status: int | None = None
    try:
        libc = syscalls.load()
        libc.prctl(_PR_SET_PDEATHSIG, _signal.SIGKILL, 0, 0, 0)
        os.setpgid(0, 0)  # out of the host process's group: a group signal reaches us once
        syscalls.mount_proc()
        script = os.fork()
        if script == 0:
            _script(command, env, errors)
        if errors is not None:
            os.close(errors)  # the script holds it until its exec succeeds (close-on-exec)
            errors = None
        _forward(script, group=True)
        while status is None:
            try:
                pid, raw = os.wait()  # reaps orphans too: we are their init
            except ChildProcessError:
                break
            if pid == script:
                status = raw
        for sig in FORWARDED:
            _signal.signal(sig, _signal.SIG_IGN)
        with contextlib.suppress(OSError):
            os.kill(-1, _signal.SIGTERM)  # every process of the namespace but us
        deadline = time.monotonic() + LEFTOVER_GRACE
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.02)
    except BaseException as exc:  # noqa: BLE001 - reported, then we end
        _say(errors, f"sm-magics could not run the PID namespace: {type(exc).__name__}: {exc}")
    finally:
        # The script's raw wait status, for the host process to end the same way.
        if status is not None:
            with contextlib.suppress(OSError):
                os.write(report, str(status).encode())
        os._exit(0 if status is not None else 1)


def launch(command: list[str], env: dict[str, str] | None, errors: int | None) -> NoReturn:
    """Run ``command`` as the script of the new PID namespace; exit as it exited.

    Called right after :func:`.namespaces.setup` with ``pid``: our next child is the
    init. ``env`` ``None`` keeps our environment (and searches ``PATH``); ``errors`` is the
    starter's pipe for a failed start (``None``: stderr).
    """
    read_end, report = os.pipe()
    init = os.fork()
    if init == 0:
        os.close(read_end)
        _init(command, env, errors, report)
    os.close(report)
    if errors is not None:
        os.close(errors)  # the init and the script hold it until the script runs
    _forward(init, group=False)
    while True:
        try:
            _, raw = os.waitpid(init, 0)
            break
        except InterruptedError:
            continue
    reported = os.read(read_end, 64).strip()
    if reported:
        raw = int(reported)  # the script's own status (the init exits 0 after it)
    if os.WIFSIGNALED(raw):
        signum = os.WTERMSIG(raw)
        with contextlib.suppress(OSError, ValueError):  # SIGKILL/SIGSTOP: no handler to reset
            _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        os._exit(128 + signum)
    os._exit(os.WEXITSTATUS(raw) if os.WIFEXITED(raw) else 1)
