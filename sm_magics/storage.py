"""What a failing file becomes for the user: one :class:`~sm_magics.errors.StorageError`.

The ledger, the job and endpoint folders and their state files live on the user's disk,
which fills up, and in files a crash, a sync tool or a user may damage. ``sqlite3`` and
``OSError`` say so in their own words, from deep inside the package; these functions say
it in ours: which file, what is wrong with it, and what to do next. They never hide a
programming error: anything they do not recognise is returned as ``None`` and re-raised
by the caller as it was.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
from pathlib import Path

from sm_magics.errors import StorageError

#: What to run once a damaged ledger has been moved aside (or to rebuild it in place).
REBUILD = "python -m sm_magics.ledger rebuild"

#: Modes of everything under the home: the ledger, logs, code, specs and models may hold
#: secrets (``--env`` values, data, credentials a script printed); other users read none.
FILE_MODE = 0o600
DIR_MODE = 0o700

_FULL = (errno.ENOSPC, errno.EDQUOT)
_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)


def disk_full(path: Path | str) -> StorageError:
    """Return the error for a write that found no space left."""
    return StorageError(
        f"No space left on the device that holds {path}: free some space, then run it "
        "again (nothing was half-written: the ledger and state files are replaced whole).",
        path,
    )


def from_os_error(exc: OSError, path: Path | str | None = None) -> StorageError | None:
    """Return the user's error for an ``OSError`` about a file we keep, or ``None``."""
    where = path or exc.filename or "a file of SM_MAGICS_HOME"
    if exc.errno in _FULL:
        return disk_full(where)
    if exc.errno in _DENIED:
        return StorageError(
            f"Cannot write {where}: {exc.strerror or exc}. Check the folder's permissions "
            "and that its disk is not read-only (SM_MAGICS_HOME moves the whole home).",
            where,
        )
    return None


def from_sqlite_error(exc: sqlite3.Error, path: Path) -> StorageError | None:
    """Return the user's error for a failure of the ledger file ``path``, or ``None``.

    ``IntegrityError`` (a taken name) and ``ProgrammingError`` are the package's own
    business and come back as ``None``.
    """
    if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError):
        return None
    text = str(exc).lower()
    if "full" in text:
        return disk_full(path)
    if "locked" in text or "busy" in text:
        return StorageError(
            f"The ledger {path} stayed locked by another process for 30 s ({exc}); a job "
            "supervisor or kernel may be stuck writing it. Try again; if it persists, "
            "restart the kernels that use it.",
            path,
        )
    if "unable to open" in text or "readonly" in text or "read-only" in text:
        return StorageError(
            f"Cannot open the ledger {path} for writing ({exc}). Check that its folder "
            "exists and that you may write to it (SM_MAGICS_HOME moves the whole home).",
            path,
        )
    if isinstance(exc, sqlite3.DatabaseError):
        return StorageError(
            f"The ledger {path} is damaged ({exc}). Rebuild it from the job and endpoint "
            f"folders, which are the truth: {REBUILD} (the damaged file is kept beside it).",
            path,
        )
    return None


def damaged_json(path: Path, exc: Exception) -> StorageError:
    """Return the error for a state, spec or config file that is not our JSON object."""
    return StorageError(
        f"The file {path} is damaged ({exc}); sm-magics cannot read the status of "
        f"{path.parent.name!r} from it. Move the folder {path.parent} aside (or delete it), "
        f"then run {REBUILD} to bring the ledger back in line with the folders.",
        path,
    )


def file_identity(path: Path) -> tuple[int, int] | None:
    """Return ``(device, inode)`` of a linked file, ``None`` when missing or unlinked.

    A process that holds a file open keeps using it after it is deleted or replaced; the
    identity tells it that the name now means another file (or none).
    """
    try:
        info = path.stat()
    except OSError:
        return None
    if info.st_nlink == 0:
        return None
    return info.st_dev, info.st_ino


def _restrict(path: Path, mode: int, info: os.stat_result) -> None:
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & ~mode:
        path.chmod(stat.S_IMODE(info.st_mode) & mode)


def secure_dir(path: Path) -> None:
    """Create ``path`` (and parents) as needed; make it ``0700`` if it is ours."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _restrict(path, DIR_MODE, path.stat())


def secure_file(path: Path) -> None:
    """Create ``path`` empty with mode ``0600`` if missing, else take group/other bits off.

    SQLite creates the ledger's ``-wal`` and ``-shm`` files with the database's mode, so a
    ledger created through this is private with all its companions.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        _restrict(path, FILE_MODE, path.stat())


def secure_tree(root: Path) -> None:
    """Take group and other permissions off every folder and file under ``root``.

    For what the kernel copies in (staged code keeps its source's mode); processes that
    sm-magics starts detached run with umask ``077`` and need no sweep.
    """
    for folder, _dirs, files in os.walk(root):
        base = Path(folder)
        _restrict(base, DIR_MODE, base.lstat())
        for name in files:
            info = (base / name).lstat()
            if stat.S_ISREG(info.st_mode):
                _restrict(base / name, FILE_MODE, info)
