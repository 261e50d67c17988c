"""One create-and-roll-back for every local resource: jobs, transforms and endpoints.

A local create makes three things in order: the resource's folder, its ledger row, then
its detached process. If any later step fails, what *this* call made must go again, and
nothing else: a folder that was already there (left by a deleted ledger, or by another
process creating the same name this very moment) is someone else's.

Hence the order. The folder is reserved first, with an exclusive ``mkdir`` outside any
``try``: if it exists, nothing was made and nothing is undone. The ledger row comes next,
so that whenever a row exists its folder exists too, and a reader that finds a row
without a folder can trust that the folder was removed out of band (the backend then
marks the row ``Deleted``). Only then does the ``with`` body run; on any failure it undoes
the process, the folder and the row, newest first.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sm_magics import storage
from sm_magics.backends.local import processes
from sm_magics.errors import AlreadyExists, InvalidRequest
from sm_magics.ledger import (
    EndpointRecord,
    JobRecord,
    Ledger,
    endpoint_taken_message,
    job_taken_message,
)


@dataclass
class Creation:
    """What the body of :func:`creating` made that the roll-back must also undo."""

    root: Path
    process: subprocess.Popen[bytes] | None = None


def _conflict(ledger: Ledger, record: JobRecord | EndpointRecord, root: Path) -> Exception:
    """Return the error for a folder that exists: the ledger's own if the name is taken."""
    if isinstance(record, JobRecord):
        if ledger.get_job(record.name) is not None:
            return AlreadyExists(job_taken_message(record.name))
    else:
        row = ledger.get_endpoint(record.name)
        if row is not None and row.is_live:
            return AlreadyExists(endpoint_taken_message(record.name))
    return InvalidRequest(f"{root} exists but no ledger row does; remove it or pick another name.")


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
        The ledger has the name (the folder, if any, is left as it was).
    InvalidRequest
        ``root`` exists without a ledger row: a folder not ours, left untouched.
    """
    if root.exists() and clear_stale is not None:
        clear_stale()
    storage.secure_dir(root.parent)  # jobs/ or endpoints/: private, as the home
    try:
        root.mkdir(mode=storage.DIR_MODE)
    except FileExistsError:
        raise _conflict(ledger, record, root) from None
    try:
        if isinstance(record, JobRecord):
            ledger.insert_job(record)
        else:
            ledger.insert_endpoint(record)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)  # ours: made just above
        raise
    made = Creation(root)
    try:
        yield made
    except BaseException:
        if made.process is not None:
            processes.terminate_groups([made.process.pid], grace=0)
        shutil.rmtree(root, ignore_errors=True)
        if isinstance(record, JobRecord):
            ledger.delete_job(record.name)
        else:
            ledger.delete_endpoint_row(record.name)
        raise
