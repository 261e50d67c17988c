"""Job statuses as SageMaker names them: the one place they are spelled.

A module of constants only, importing nothing, so that the job supervisor can name its
transitions without importing the backend contract (dataclasses, the ledger, sqlite3)
before its hosts start. :mod:`sm_magics.backends.base` re-exports every name.
"""

from __future__ import annotations

IN_PROGRESS = "InProgress"
COMPLETED = "Completed"
FAILED = "Failed"
STOPPING = "Stopping"
STOPPED = "Stopped"

# Secondary statuses, as SageMaker reports them.
STARTING = "Starting"
DOWNLOADING = "Downloading"
TRAINING = "Training"
UPLOADING = "Uploading"
MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"
