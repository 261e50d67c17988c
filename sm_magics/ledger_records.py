"""What a ledger row holds: job and endpoint records, their JSON columns typed.

The records are what every layer passes around (backends write them, views and costs
read them); this module holds them and their conversion to and from SQLite values, apart
from the connection (:mod:`sm_magics.ledger`) and the schema
(:mod:`sm_magics.ledger_schema`), so that code that only handles records does not
import the connection.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypedDict

#: Every kind of job the ledger's ``kind`` column holds; the column and the filters on it
#: are plain text, so a new kind (processing, tuning, ...) is one more name here.
JOB_KINDS = ("training", "transform", "processing", "tuning")

#: The status of a row whose resource its backend no longer has (deleted, or removed out
#: of band); only the ledger keeps it, as history for cost totals.
DELETED = "Deleted"
#: Job statuses after which nothing changes any more.
TERMINAL_JOB_STATUSES = frozenset({"Completed", "Failed", "Stopped", DELETED})

# -- the JSON columns, typed: each backend writes them (sm_magics.backends.rows) ------------


class VariantJson(TypedDict):
    """One variant as an endpoint's ``spec`` keeps it (``VariantSpec.to_json()``)."""

    name: str
    model_data: str | None
    job: str | None
    entry_point: str | None
    instance_type: str
    instance_count: int
    weight: float
    serverless_memory_mb: int | None
    max_concurrency: int | None
    environment: dict[str, str]


class AsyncJson(TypedDict):
    """An asynchronous endpoint's configuration (``AsyncInferenceSpec.to_json()``)."""

    output_uri: str
    failure_uri: str | None
    max_concurrency: int | None


#: The ``spec`` column of an endpoint row. ``ttl`` is in seconds; ``async`` is present
#: only for an asynchronous endpoint (a keyword, hence the functional form).
EndpointRowSpec = TypedDict(
    "EndpointRowSpec",
    {"variants": list[VariantJson], "ttl": "int | None", "async": AsyncJson},
    total=False,
)


class VariantSummary(TypedDict):
    """One entry of an endpoint row's ``variants`` column: what costs and lists read."""

    VariantName: str
    CurrentWeight: float
    InstanceType: str | None
    DesiredInstanceCount: int


class TrainingRowSpec(TypedDict, total=False):
    """The ``spec`` column of a training job row (``TrainingSpec.to_json()``)."""

    name: str
    entry_point: str
    script: str | None
    source_dir: str | None
    hyperparameters: dict[str, Any]
    inputs: dict[str, str]
    instance_type: str
    instance_count: int
    requirements: str | None
    image: str | None
    framework: str | None
    framework_version: str | None
    py_version: str | None
    metric_definitions: dict[str, str]
    environment: dict[str, str]
    spot: bool
    max_wait: int | None
    keep_alive: int | None
    max_run: int | None
    checkpoint_uri: str | None
    tags: dict[str, str]
    region: str | None
    notebook: str | None
    resolved_image: str  # sagemaker: the image the job runs


class TransformRowSpec(TypedDict, total=False):
    """The ``spec`` column of a transform job row."""

    input: str
    output: str
    content_type: str
    split_type: str
    model_name: str  # sagemaker: the model made for the job, deleted once it ends
    input_s3: str  # sagemaker: the input as uploaded
    model_deleted: bool


class JobRowSpec(TrainingRowSpec, TransformRowSpec, total=False):
    """The ``spec`` column of a job row: a training or a transform job's (see ``kind``)."""


@dataclass
class JobRecord:
    """One row of the ``jobs`` table: what the ledger knows of a training or transform job."""

    name: str
    backend: str
    status: str
    created_at: float
    kind: str = "training"
    region: str | None = None
    secondary_status: str | None = None
    instance_type: str | None = None
    instance_count: int = 1
    spot: bool = False
    started_at: float | None = None
    ended_at: float | None = None
    failure_reason: str | None = None
    model_data: str | None = None
    source_hash: str | None = None
    notebook: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0
    deleted_at: float | None = None
    #: Final value of each ``--metric`` (``FinalMetricDataList``), written when it ends.
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        """Whether the job reached a status that never changes again."""
        return self.status in TERMINAL_JOB_STATUSES


@dataclass
class EndpointRecord:
    """One row of the ``endpoints`` table."""

    name: str
    backend: str
    status: str
    created_at: float
    region: str | None = None
    url: str | None = None
    variants: list[dict[str, Any]] = field(default_factory=list)
    failure_reason: str | None = None
    deleted_at: float | None = None
    ttl_at: float | None = None
    notebook: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0
    id: int | None = None

    @property
    def is_live(self) -> bool:
        """Whether the endpoint may still be running or billing."""
        return self.status != DELETED


JSON_COLUMNS = {"tags", "spec", "variants", "metrics"}
JOB_COLUMNS = tuple(f.name for f in fields(JobRecord))
ENDPOINT_COLUMNS = tuple(f.name for f in fields(EndpointRecord))


def without_secrets(spec: Any) -> Any:
    """Return a job spec with its ``environment`` values replaced by their names only.

    ``--env`` values may be credentials; the ledger is read by every process and the side
    panel, so it keeps which variables were set and the job folder (``spec.json``, mode
    0600) keeps their values.
    """
    if isinstance(spec, dict) and isinstance(spec.get("environment"), dict):
        return {**spec, "environment": dict.fromkeys(sorted(spec["environment"]), REDACTED)}
    return spec


#: What the ledger stores in place of an ``--env`` value.
REDACTED = "(set)"


def to_row(record: JobRecord | EndpointRecord) -> dict[str, Any]:
    """Return a record as the column values SQLite stores (JSON text, ``spot`` as 0/1)."""
    row = asdict(record)
    if isinstance(record, JobRecord):
        row["spec"] = without_secrets(row["spec"])
    for column in JSON_COLUMNS & row.keys():
        row[column] = json.dumps(row[column], sort_keys=True)
    if isinstance(record, JobRecord):
        row["spot"] = int(record.spot)
    else:
        row.pop("id")
    return row


def row_values(row: sqlite3.Row) -> dict[str, Any]:
    """Return a row's columns, the JSON ones decoded."""
    values = {key: row[key] for key in row.keys()}  # noqa: SIM118 - Row is not a Mapping
    for column in JSON_COLUMNS & values.keys():
        values[column] = json.loads(values[column] or "null")
    return values


def job_from_row(row: sqlite3.Row) -> JobRecord:
    """Return the :class:`JobRecord` of a ``jobs`` row."""
    values = row_values(row)
    values["spot"] = bool(values["spot"])
    return JobRecord(**values)


def job_taken_message(name: str) -> str:
    """Return what a user is told when a job name is already in the ledger."""
    return (
        f"A training job named {name!r} already exists; pick another name "
        "or leave the name out to get a generated one."
    )


def endpoint_taken_message(name: str) -> str:
    """Return what a user is told when a live endpoint already has the name."""
    return (
        f"An endpoint named {name!r} already exists; delete it first "
        "(%sm_delete), pick another name, or add a variant to it with --variant."
    )
