"""Job statuses as SageMaker names them: the one place they are spelled.

A module of constants only, importing nothing, so that the job supervisor can name its
transitions without importing the backend contract (dataclasses, the ledger, sqlite3)
before its hosts start. Job statuses first, then the endpoints'.
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

# Endpoint statuses, as SageMaker reports them (plus Deleted, which only the ledger keeps).
CREATING = "Creating"
IN_SERVICE = "InService"
UPDATING = "Updating"
DELETING = "Deleting"
DELETED = "Deleted"
LIVE_ENDPOINT_STATUSES = frozenset({CREATING, IN_SERVICE, UPDATING, DELETING})

# A job is over in these (Deleted: the ledger's word for a job whose resource is gone).
TERMINAL_STATUSES = frozenset({COMPLETED, FAILED, STOPPED, DELETED})
