"""Wake a log follower the moment a job's folders change (Linux ``inotify``).

Before a job's first line, a follower would otherwise poll every few milliseconds and see
the line on average half a poll late (about 5 ms of the ~40 ms between a submission and
its first line). With a watch it blocks until the starter's log pump appends the line or
the supervisor replaces the state file, and reads at once.

``inotify`` is a Linux system call without a standard-library binding; it is reached
through ``ctypes``, loaded in the follower's thread when its first watch opens (never by
``%load_ext``). Elsewhere (macOS, BSD) :func:`open_watch` returns ``None`` and the
follower keeps polling at its fast pace: the first line is then up to one poll later,
nothing else differs. A watch is an open descriptor; the user's ``inotify`` instances are
limited (128 by default), so followers hold one only until the first lines arrive, and a
refused watch is the same as no watch.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ctypes

# From <sys/inotify.h>: a file in the folder was written, made, or moved in (an atomic
# replace), or closed after writing.
IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
CHANGES = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE

_libc: list[ctypes.CDLL] = []


class FolderWatch:
    """An ``inotify`` instance watching some folders' entries; see the module."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)

    def wait(self, timeout: float) -> bool:
        """Block until a watched folder changes or ``timeout`` seconds pass.

        Returns whether something changed (the pending events are consumed: the next
        wait blocks until the next change).
        """
        if self._fd < 0:
            return False
        if not self._poll.poll(max(0, int(timeout * 1000))):
            return False
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while os.read(self._fd, 1 << 16):
                pass
        return True

    def close(self) -> None:
        """Release the descriptor (idempotent)."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1


def open_watch(folders: list[Path]) -> FolderWatch | None:
    """Watch ``folders`` for writes, new and replaced files; ``None`` if not possible.

    Not possible off Linux, when a folder is missing, or when the kernel refuses another
    instance; the caller polls instead.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = _load()
    except OSError:
        return None
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        return None
    for folder in folders:
        if libc.inotify_add_watch(fd, os.fsencode(folder), CHANGES) < 0:
            os.close(fd)
            return None
    return FolderWatch(fd)


def _load() -> ctypes.CDLL:
    if not _libc:
        import ctypes

        _libc.append(ctypes.CDLL(None, use_errno=True))
    return _libc[0]
