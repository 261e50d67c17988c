"""Ends a job's processes when its supervisor ends without ending them (a crash, ``kill -9``).

Each job gets one watchdog, started right after its hosts (by the job's starter, which
then becomes its supervisor), with the read end of a pipe as its standard input; only the
supervisor holds the write end. The kernel closes that end
when the supervisor dies, however it dies, so the watchdog's read returns at that moment:
no polling and no timer. It then ends every process marked with the job's
:data:`~sm_magics.backends.local.processes.ENV_JOB_ID` (the hosts and anything they
started, in their own sessions or not). After a clean end the supervisor writes ``done``
first, and the watchdog exits without looking.

This is what makes "host processes never outlive their supervisor" true on macOS too,
where ``PR_SET_PDEATHSIG`` does not exist.

Run as ``python -m sm_magics.backends.local.watchdog MARK`` with the pipe as stdin (the
supervisor's ordinary path, :func:`start`), or forked from a job's starter before it has
threads (:func:`fork`: no interpreter start next to the hosts' own).
"""

from __future__ import annotations

import os
import subprocess
import sys


def start(mark: str) -> int:
    """Start the watchdog of the job marked ``mark``; return the pipe's write end.

    Raises
    ------
    OSError
        It could not be started.
    """
    read_end, write_end = os.pipe()  # not inheritable: only the caller holds the write end
    try:
        subprocess.Popen(
            [sys.executable, "-m", "sm_magics.backends.local.watchdog", mark],
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a stop's group signal must not end it first
            close_fds=True,
        )
    except OSError:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    return write_end


def fork(mark: str) -> int:
    """Fork the watchdog of the job marked ``mark``; return the pipe's write end.

    For a single-threaded caller (the job's starter, before its log pumps): the child
    keeps only the pipe (not the slot's lock, nor the hosts' pipes), leaves the caller's
    session and signal handlers, and waits as :func:`main` does.
    """
    read_end, write_end = os.pipe()  # not inheritable: only the caller holds the write end
    pid = os.fork()
    if pid == 0:  # the watchdog
        code = 1
        try:
            os.setsid()  # a stop's group signal must not end it first
            os.dup2(read_end, 0)
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.closerange(3, _MAX_FD)
            code = _watch(mark)
        finally:
            os._exit(code)
    os.close(read_end)
    return write_end


#: Above every descriptor a starter holds when it forks the watchdog (a few per host).
_MAX_FD = 4096


def _watch(mark: str) -> int:
    """Wait for the supervisor's end (EOF on stdin), then sweep the job's marked processes."""
    import _signal  # type: ignore[import-not-found]  # no enum: nothing before the wait

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)  # a notebook's interrupt is not for us
    _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)  # not the starter's handler (forked)
    try:
        said = os.read(0, 16)  # blocks until the supervisor says "done" or dies (EOF)
    except OSError:
        said = b""
    if said:
        return 0  # a clean end: the supervisor swept the job's processes itself
    if "site" not in sys.modules:  # forked from a starter run with -S: psutil is in site
        import site

        site.main()
    from sm_magics.backends.local.processes import sweep_marked

    sweep_marked(mark, grace=1.0)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Wait for the supervisor's end (EOF on stdin), then sweep the job's marked processes."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sm_magics.backends.local.watchdog MARK", file=sys.stderr)
        return 2
    return _watch(args[0])


if __name__ == "__main__":
    sys.exit(main())
