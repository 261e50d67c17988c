"""The one contract every backend honours, in SageMaker's own vocabulary.

A backend is where jobs run: this machine (``local``) or Amazon SageMaker (``sagemaker``).
Both speak the words of the SageMaker API so that a notebook, the widget and the side panel
never need to know which one they talk to:

* training status: ``InProgress`` → ``Completed`` | ``Failed`` | ``Stopping`` → ``Stopped``;
* secondary status: ``Starting`` (waiting for capacity), ``Downloading`` (channels),
  ``Training``, ``Uploading`` (the model), then ``Completed``, ``Failed``, ``Stopped``,
  ``MaxRuntimeExceeded``;
* :meth:`Backend.describe_training_job` returns the ``DescribeTrainingJob`` response shape
  (``TrainingJobStatus``, ``SecondaryStatus``, ``FailureReason``, ``ModelArtifacts``, ...);
* errors are the classes of :mod:`sm_magics.errors`, never a backend's own exceptions.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sm_magics.ledger import TERMINAL_JOB_STATUSES

IN_PROGRESS = "InProgress"
COMPLETED = "Completed"
FAILED = "Failed"
STOPPING = "Stopping"
STOPPED = "Stopped"
TERMINAL_STATUSES = TERMINAL_JOB_STATUSES

# Secondary statuses, as SageMaker reports them.
STARTING = "Starting"
DOWNLOADING = "Downloading"
TRAINING = "Training"
UPLOADING = "Uploading"
MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"


@dataclass
class TrainingSpec:
    """Everything a backend needs to create one training job, already validated.

    The training code is either ``script`` (the text of a ``%%sm_train`` cell, which becomes
    ``entry_point`` inside the code folder) or a file ``entry_point`` inside
    ``source_dir`` run unchanged. Options that only mean something on SageMaker (``image``,
    ``spot``, ...) are carried anyway: the local backend records them and says which ones
    it did not use.
    """

    name: str
    entry_point: str
    script: str | None = None
    source_dir: Path | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    requirements: Path | None = None
    image: str | None = None
    framework: str | None = None
    framework_version: str | None = None
    py_version: str | None = None
    metric_definitions: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    spot: bool = False
    max_wait: int | None = None
    max_run: int | None = None
    checkpoint_uri: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    notebook: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the spec as JSON-safe data, as recorded in the ledger and job folder."""
        data = dict(self.__dict__)
        for key in ("source_dir", "requirements"):
            if data[key] is not None:
                data[key] = str(data[key])
        return data


@dataclass(frozen=True)
class LogEvent:
    """One log line of one host, as CloudWatch Logs has it."""

    timestamp: int  # milliseconds since the epoch, when the line was written
    host: str  # "algo-1"
    message: str  # the line, without its newline


@dataclass
class LogBatch:
    """What one :meth:`Backend.read_training_logs` call returned.

    ``cursor`` is opaque: pass it back to the next call to get only newer lines.
    """

    events: list[LogEvent]
    cursor: dict[str, Any]


class Backend(abc.ABC):
    """Where training jobs run; subclasses are stateless handles on that place.

    Every method is safe to call from any thread and from several processes at once (the
    kernel, the side panel's server, a job supervisor). Names are unique per backend.
    """

    #: The name users pass to ``-b``.
    name: ClassVar[str]

    def __init__(self, region: str | None = None, **options: Any) -> None:
        self.region = region
        self.options = options

    @abc.abstractmethod
    def create_training_job(self, spec: TrainingSpec) -> None:
        """Start a training job and return as soon as it is accepted (never waits for it).

        Raises
        ------
        AlreadyExists
            A job of that name exists.
        InvalidRequest
            The spec cannot run here (a missing input path, an unsupported URI scheme).
            Nothing is left behind: no ledger row, no folder, no process.
        """

    def notes_for(self, spec: TrainingSpec) -> list[str]:
        """Return remarks for the user about how this backend treats ``spec``.

        The local backend uses this to say which SageMaker-only options it recorded but
        did not act on. Empty by default.
        """
        return []

    @abc.abstractmethod
    def describe_training_job(self, name: str) -> dict[str, Any]:
        """Return the job as SageMaker's ``DescribeTrainingJob`` would.

        Raises
        ------
        NotFound
            No job of that name on this backend.
        """

    @abc.abstractmethod
    def stop_training_job(self, name: str) -> None:
        """Ask a job to stop: ``Stopping`` at once, ``Stopped`` when its processes are gone.

        Idempotent: stopping a job that already ended does nothing.
        """

    @abc.abstractmethod
    def read_training_logs(self, name: str, cursor: dict[str, Any] | None = None) -> LogBatch:
        """Return the log lines written since ``cursor`` (all lines when ``None``).

        Lines of all hosts come merged in timestamp order. A line is returned once and only
        once across a sequence of calls that pass back each returned cursor.
        """
