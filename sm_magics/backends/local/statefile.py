"""What every writer of a local job's ``state.json`` does: atomic writes and transitions.

It imports only ``os`` and ``json``: a training job's starter (:mod:`.starter`) records
its hosts and their statuses here before the supervisor, and its imports, are loaded.
"""

# ruff: noqa: PTH108, PTH118, PTH119, PTH120

from __future__ import annotations

import json
import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: A training job's transitions before its script runs (the starter writes them too).
DOWNLOADING_MESSAGE = "Downloading input data"
TRAINING_MESSAGE = "Training image download completed. Training in progress."


def write_json_atomic(path: str | os.PathLike[str], data: object) -> None:
    """Write JSON to ``path`` through a temporary file and a rename.

    The temporary name is made here (``O_EXCL``, mode 0600) rather than by ``tempfile``,
    which the job supervisor would otherwise import before its hosts start.
    """
    path = os.fspath(path)
    folder, name = os.path.dirname(path), os.path.basename(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1, sort_keys=True, default=str)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):  # noqa: PTH110
            os.unlink(tmp)
        raise


def add_transition(
    state: dict[str, Any], secondary: str, message: str, at: float | None = None
) -> float:
    """End the current secondary status in ``state`` and start ``secondary``; return when."""
    now = time.time() if at is None else at
    transitions: list[dict[str, Any]] = state.setdefault("transitions", [])
    if transitions and transitions[-1].get("EndTime") is None:
        transitions[-1]["EndTime"] = now
    transitions.append({"Status": secondary, "StartTime": now, "StatusMessage": message})
    state["secondary_status"] = secondary
    return now


def overwrite_in_place(path: str | os.PathLike[str], data: object) -> None:
    """Write JSON over the file's old bytes, padded with spaces: the last resort of a full disk.

    No new block is needed, and JSON allows the trailing blanks. A reader may meet a
    half-written document for a moment, which is better than a job that never ends.
    """
    encoded = json.dumps(data, indent=1, sort_keys=True, default=str).encode()
    with open(path, "r+b") as handle:
        size = os.fstat(handle.fileno()).st_size
        handle.write(encoded + b" " * max(0, size - len(encoded)))
