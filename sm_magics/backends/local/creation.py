"""One create-and-roll-back for every local resource: jobs, transforms and endpoints.

A local create makes three things in order: the resource's ledger row, its folder, then
its detached process. If any later step fails, what *this* call made must go again, and
nothing else: a folder that was already there (left by a deleted ledger, or copied there
by hand) is someone else's.

The row comes first: its insert is the atomic reservation of the name (two kernels that
pick the same generated name get ``AlreadyExists``, and retry with another). The folder is
reserved next with an exclusive ``mkdir``, outside any ``try``: if it exists, only the row
is undone and the folder is left as it was. Only then does the ``with`` body run; on any
failure it undoes the process, the folder and the row, newest first.

Between the row's insert and the folder's ``mkdir`` a row has no folder for an instant;
a reader that finds a row without its folder therefore treats a row still in its first
status and younger than :data:`CREATION_GRACE_SECONDS` as being created, and any other
as removed out of band (:func:`vanished`).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sm_magics import storage
from sm_magics.backends import rows
from sm_magics.backends.local import processes
from sm_magics.backends.local.jobdir import StateFolder
from sm_magics.errors import InvalidRequest
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointRecord, JobRecord

#: How long a row in its first status may be without its folder: being created.
CREATION_GRACE_SECONDS = 30.0


@dataclass
class Creation:
    """What the body of :func:`creating` made that the roll-back must also undo."""

    root: Path
    process: subprocess.Popen[bytes] | None = None


@contextmanager
def creating(
    ledger: Ledger,
    record: JobRecord | EndpointRecord,
    root: Path,
    *,
    clear_stale: Callable[[], object] | None = None,
) -> Iterator[Creation]:
    """Reserve ``root`` and the ledger row of ``record``; undo only them if the body fails.

    Parameters
    ----------
    ledger
        Where the row goes.
    record
        The row to insert (a job's or an endpoint's); its name is the resource's.
    root
        The resource's folder; it must not exist.
    clear_stale
        Called first when ``root`` exists: it may move a folder that is provably dead out
        of the way (an endpoint that deleted itself at its TTL).

    Raises
    ------
    AlreadyExists
        The ledger has the name; nothing was made.
    InvalidRequest
        ``root`` exists without a ledger row: a folder not ours, left untouched.
    """
    if root.exists() and clear_stale is not None:
        clear_stale()
    if isinstance(record, JobRecord):
        ledger.insert_job(record)  # AlreadyExists: nothing was made
    else:
        ledger.insert_endpoint(record)
    try:
        storage.secure_dir(root.parent)  # jobs/ or endpoints/: private, as the home
        root.mkdir(mode=storage.DIR_MODE)
    except BaseException as exc:
        _delete_row(ledger, record)
        if isinstance(exc, FileExistsError):  # not ours: left exactly as it was
            raise InvalidRequest(
                f"{root} exists but no ledger row does; remove it or pick another name."
            ) from None
        raise
    made = Creation(root)
    try:
        yield made
    except BaseException:
        if made.process is not None:
            processes.terminate_groups([made.process.pid], grace=0)
        shutil.rmtree(root, ignore_errors=True)
        _delete_row(ledger, record)
        raise


def _delete_row(ledger: Ledger, record: JobRecord | EndpointRecord) -> None:
    if isinstance(record, JobRecord):
        ledger.delete_job(record.name)
    else:
        ledger.delete_endpoint_row(record.name)


def vanished(ledger: Ledger, folder: StateFolder, region: str | None) -> None:
    """Mark the row of a local job whose folder is gone (removed out of band) ``Deleted``.

    Only a folder that is not there at all counts (one without its state yet is being
    filled), and not for a row being created this very moment (see above).
    """
    if not folder.root.exists():
        rows.mark_job_deleted(
            ledger,
            folder.name,
            backend="local",
            region=region,
            why=f"Its folder {folder.root} was removed.",
            creation_grace=CREATION_GRACE_SECONDS,
        )
