"""Job kinds: what differs between training, batch transform and processing jobs, as data.

Every job, whatever its kind, takes the same path — a spec, ``Session``, the
:class:`~sm_magics.backends.base.Backend` contract, a ledger row, the views — and differs
only in the words SageMaker uses for it: ``DescribeTrainingJob`` answers with
``TrainingJobStatus`` and ``ResourceConfig``, ``DescribeProcessingJob`` with
``ProcessingJobStatus`` and ``ProcessingResources.ClusterConfig``. A :class:`JobKind` holds
those words, so code that handles "a job" (the ``Job`` handle, ``%sm_jobs``, the widget,
the REST JSON, costs, cleanup) asks the kind instead of testing ``if kind == ...``.

A kind's backend methods are named after it: ``create_<kind>_job``,
``describe_<kind>_job``, ``stop_<kind>_job``, ``read_<kind>_logs``
(:func:`describe`, :func:`stop`, :func:`read_logs` dispatch to them). Adding a kind
(tuning) is one :class:`JobKind` entry here, those four methods on each backend, a spec
type, and its own view parts; nothing else branches on the kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from sm_magics.backends.base import Backend
    from sm_magics.backends.descriptions import JobDescription
    from sm_magics.backends.results import LogBatch, LogCursor


@dataclass(frozen=True)
class JobKind:
    """The SageMaker vocabulary of one job kind.

    Attributes
    ----------
    name
        The ledger's ``kind`` column and the stem of the backend methods (``processing``).
    noun
        SageMaker's API noun (``ProcessingJob``): ``<noun>Name``, ``<noun>Status``,
        ``<noun>Arn`` are the description's keys.
    label
        How messages and tables name it (``Processing``).
    resources
        The path to ``{InstanceType, InstanceCount}`` in a description.
    start_key, end_key
        The description's start and end timestamps.
    usage
        The price list a running instance of this kind bills from (``pricing``):
        processing instances cost what training instances cost, transform ones what
        hosting ones cost.
    log_group
        Its CloudWatch log group on SageMaker.
    name_prefix
        The prefix of generated job names.
    """

    name: str
    noun: str
    label: str
    resources: tuple[str, ...]
    start_key: str
    end_key: str
    usage: Literal["training", "hosting"]
    log_group: str
    name_prefix: str

    @property
    def status_key(self) -> str:
        """``TrainingJobStatus``, ``ProcessingJobStatus``, ..."""
        return f"{self.noun}Status"

    @property
    def name_key(self) -> str:
        """``TrainingJobName``, ``ProcessingJobName``, ..."""
        return f"{self.noun}Name"


TRAINING = JobKind(
    name="training",
    noun="TrainingJob",
    label="Training",
    resources=("ResourceConfig",),
    start_key="TrainingStartTime",
    end_key="TrainingEndTime",
    usage="training",
    log_group="/aws/sagemaker/TrainingJobs",
    name_prefix="sm-train",
)
TRANSFORM = JobKind(
    name="transform",
    noun="TransformJob",
    label="Transform",
    resources=("TransformResources",),
    start_key="TransformStartTime",
    end_key="TransformEndTime",
    usage="hosting",
    log_group="/aws/sagemaker/TransformJobs",
    name_prefix="sm-batch",
)
PROCESSING = JobKind(
    name="processing",
    noun="ProcessingJob",
    label="Processing",
    resources=("ProcessingResources", "ClusterConfig"),
    start_key="ProcessingStartTime",
    end_key="ProcessingEndTime",
    usage="training",
    log_group="/aws/sagemaker/ProcessingJobs",
    name_prefix="sm-process",
)

#: A tuning job runs no instance of its own: its trials are training jobs, each with its
#: own ledger row and cost; its description names the trials' resources.
TUNING = JobKind(
    name="tuning",
    noun="HyperParameterTuningJob",
    label="Tuning",
    resources=("TrainingJobDefinition", "ResourceConfig"),
    start_key="CreationTime",
    end_key="HyperParameterTuningEndTime",
    usage="training",
    log_group="/aws/sagemaker/TrainingJobs",
    name_prefix="sm-tune",
)

#: Every kind, by its ledger name.
KINDS: dict[str, JobKind] = {k.name: k for k in (TRAINING, TRANSFORM, PROCESSING, TUNING)}


def get(name: str) -> JobKind:
    """Return the kind called ``name`` (a ledger ``kind`` value).

    Raises
    ------
    KeyError
        No such kind (a programming error: the ledger only holds known kinds).
    """
    return KINDS[name]


def of_description(description: Mapping[str, object]) -> JobKind:
    """Return the kind a ``Describe*Job`` response belongs to (training if it says nothing)."""
    for kind in KINDS.values():
        if kind.status_key in description:
            return kind
    return TRAINING


def status_of(description: Mapping[str, object]) -> str:
    """Return the status of any kind's description (``Unknown`` if it has none)."""
    return str(description.get(of_description(description).status_key) or "Unknown")


def resources_of(description: Mapping[str, object]) -> tuple[str, int]:
    """Return ``(instance type, count)`` of any kind's description."""
    node: object = description
    for key in of_description(description).resources:
        node = node.get(key) if isinstance(node, Mapping) else None
    if not isinstance(node, Mapping):
        return "", 1
    count = node.get("InstanceCount", 1)
    return str(node.get("InstanceType", "")), int(count) if isinstance(count, int) else 1


def model_uri_of(description: Mapping[str, object]) -> str | None:
    """Return a training description's ``ModelArtifacts.S3ModelArtifacts`` (else ``None``)."""
    artifacts = description.get("ModelArtifacts")
    uri = artifacts.get("S3ModelArtifacts") if isinstance(artifacts, Mapping) else None
    return uri if isinstance(uri, str) and uri else None


def describe(backend: Backend, kind: str, name: str) -> JobDescription:
    """Return ``backend.describe_<kind>_job(name)``."""
    result: JobDescription = getattr(backend, f"describe_{get(kind).name}_job")(name)
    return result


def stop(backend: Backend, kind: str, name: str) -> None:
    """Call ``backend.stop_<kind>_job(name)`` (idempotent on every backend)."""
    getattr(backend, f"stop_{get(kind).name}_job")(name)


def read_logs(backend: Backend, kind: str, name: str, cursor: LogCursor | None = None) -> LogBatch:
    """Return ``backend.read_<kind>_logs(name, cursor)``."""
    batch: LogBatch = getattr(backend, f"read_{get(kind).name}_logs")(name, cursor)
    return batch
