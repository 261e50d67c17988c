"""Ends a job's processes when its supervisor ends without ending them (a crash, ``kill -9``).

The supervisor starts one watchdog per job, after the hosts, with the read end of a pipe
as its standard input; only the supervisor holds the write end. The kernel closes that end
when the supervisor dies, however it dies, so the watchdog's read returns at that moment:
no polling and no timer. It then ends every process marked with the job's
:data:`~sm_magics.backends.local.processes.ENV_JOB_ID` (the hosts and anything they
started, in their own sessions or not). After a clean end the supervisor writes ``done``
first, and the watchdog exits without looking.

This is what makes "host processes never outlive their supervisor" true on macOS too,
where ``PR_SET_PDEATHSIG`` does not exist.

Run as ``python -m sm_magics.backends.local.watchdog MARK`` with the pipe as stdin.
"""

from __future__ import annotations

import os
import signal
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


def main(argv: list[str] | None = None) -> int:
    """Wait for the supervisor's end (EOF on stdin), then sweep the job's marked processes."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sm_magics.backends.local.watchdog MARK", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        said = os.read(0, 16)  # blocks until the supervisor says "done" or dies (EOF)
    except OSError:
        said = b""
    if said:
        return 0  # a clean end: the supervisor swept the job's processes itself
    from sm_magics.backends.local.processes import sweep_marked

    sweep_marked(args[0], grace=1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
