"""The few C library calls namespaces need: ``unshare``, ``mount``, ``prctl``, through ctypes.

Its own module so that both :mod:`.namespaces` (entering user, mount and UTS namespaces)
and :mod:`.pidns` (the PID namespace's init, which mounts its ``/proc``) use it without
importing each other. Only ``os`` at import time: a job's starter imports this before its
hosts' first line, and ``ctypes`` is loaded by :func:`load` when first needed.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ctypes

MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8


class NamespaceError(OSError):
    """The kernel refused a namespace step; the message says which."""


_loaded: list[ctypes.CDLL] = []


def load() -> ctypes.CDLL:
    """Return the C library, loaded once; call it before forking (no ``dlopen`` in a child)."""
    if not _loaded:
        import ctypes

        _loaded.append(ctypes.CDLL(None, use_errno=True))
    return _loaded[0]


def check(result: int, what: str) -> None:
    """Raise :class:`NamespaceError` naming ``what`` when a C call returned non-zero."""
    if result != 0:
        import ctypes  # loaded by load(): a lookup in sys.modules

        errno = ctypes.get_errno()
        raise NamespaceError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int) -> None:
    """``mount(2)``, raising :class:`NamespaceError` with what was mounted where."""
    import ctypes

    check(
        load().mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            None,
        ),
        f"mount {source or fstype} on {target}",
    )


def mount_proc() -> None:
    """Mount a ``/proc`` of the new PID namespace (run by its init).

    Without it ``/proc/<pid>`` would name the machine's processes, and ``psutil`` in the
    script would read the wrong ones (its own pid is 2 in the namespace).
    """
    target = os.path.join("/", "proc")  # noqa: PTH118 - no pathlib on the starter's path
    mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
