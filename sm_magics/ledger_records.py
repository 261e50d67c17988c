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
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict, cast

if TYPE_CHECKING:
    from mypy_boto3_sagemaker.type_defs import ParameterRangesOutputTypeDef

    from sm_magics.json_types import JsonValue

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


class LiveVariantSummary(VariantSummary, total=False):
    """A ``variants`` entry as the backend last saw the variant serve.

    The four keys of :class:`VariantSummary` are always there (the backend writes them at
    create and update); the local router adds what ``DescribeEndpoint`` shows of a
    running variant (instances up, traffic, latencies, which serving defaults).
    """

    CurrentInstanceCount: int
    DesiredWeight: float
    Invocations: int
    Errors: int
    LatencyP50Ms: float | None
    LatencyP99Ms: float | None
    ModelData: str | None
    ServingDefaults: str | None
    ServingDefaultsReason: str | None


class _CodeJobRowSpec(TypedDict, total=False):
    """What training and processing rows share: the code, where it runs, its settings."""

    name: str
    entry_point: str
    script: str | None
    source_dir: str | None
    instance_type: str
    instance_count: int
    requirements: str | None
    image: str | None
    framework: str | None
    framework_version: str | None
    py_version: str | None
    environment: dict[str, str]  # names only: the ledger redacts the values
    max_run: int | None
    tags: dict[str, str]
    region: str | None
    notebook: str | None
    resolved_image: str  # sagemaker: the image the job runs
    input_digests: dict[str, str]  # each input as submitted (sm_magics.input_digests)


class _TrainingOptions(TypedDict, total=False):
    """A training job's own options (also a tuning job's template's)."""

    hyperparameters: dict[str, JsonValue]
    metric_definitions: dict[str, str]
    spot: bool
    max_wait: int | None
    keep_alive: int | None
    checkpoint_uri: str | None
    distribution: str | None
    driver: str | None


class TrainingRowSpec(_CodeJobRowSpec, _TrainingOptions, total=False):
    """The ``spec`` column of a training job row (``TrainingSpec.to_json()``).

    A tuning trial's row holds only ``hyperparameters`` (the trial's own values).
    """

    inputs: dict[str, str]


class TransformRowSpec(TypedDict, total=False):
    """The ``spec`` column of a transform job row."""

    input: str
    output: str
    content_type: str
    split_type: str
    model_name: str  # sagemaker: the model made for the job, deleted once it ends
    input_s3: str  # sagemaker: the input as uploaded
    model_deleted: bool


class ProcessingInputJson(TypedDict):
    """One processing input as a row keeps it (``ProcessingInput.to_json()``)."""

    name: str
    source: str
    destination: str
    distribution: str


class ProcessingOutputJson(TypedDict, total=False):
    """One processing output: ``uri`` is where it is stored, fixed at create."""

    name: str
    source: str
    destination: str | None
    uri: str


class ProcessingRowSpec(_CodeJobRowSpec, total=False):
    """The ``spec`` column of a processing job row (``ProcessingSpec.to_json()``)."""

    inputs: list[ProcessingInputJson]
    outputs: list[ProcessingOutputJson]
    arguments: list[str]


class _TuningOptions(TypedDict, total=False):
    """A tuning job's own settings."""

    training: TrainingRowSpec
    objective: str
    objective_type: str
    parameter_ranges: ParameterRangesOutputTypeDef
    max_jobs: int
    max_parallel: int
    strategy: str
    early_stopping: str
    warm_start: list[str]
    max_runtime: int | None
    random_seed: int | None


class TuningRowSpec(_TuningOptions, total=False):
    """The ``spec`` column of a tuning job row (``TuningSpec.to_json()``)."""

    name: str
    resolved_image: str


class JobRowSpec(_CodeJobRowSpec, _TrainingOptions, TransformRowSpec, _TuningOptions, total=False):
    """The ``spec`` column of any job row; ``kind`` says which of these keys it has.

    Each kind's own shape is :class:`TrainingRowSpec`, :class:`TransformRowSpec`,
    :class:`ProcessingRowSpec` or :class:`TuningRowSpec`; this is their union as one
    dictionary type (a row is read before its kind is looked at). ``inputs`` is a
    training job's ``{channel: uri}`` or a processing job's list.
    """

    inputs: dict[str, str] | list[ProcessingInputJson]
    outputs: list[ProcessingOutputJson]
    arguments: list[str]


def job_row_spec(spec: Mapping[str, object]) -> JobRowSpec:
    """Return one kind's spec (``TrainingSpec.to_json()``, ...) as a job row's ``spec``.

    Each kind's TypedDict holds a part of :class:`JobRowSpec`'s keys; mypy has no way to
    say "a part of", so this is the one place a kind's spec becomes the row's type.
    """
    return cast(JobRowSpec, dict(spec))


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
    spec: JobRowSpec = field(default_factory=lambda: JobRowSpec())
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
    variants: list[LiveVariantSummary] = field(default_factory=list)
    failure_reason: str | None = None
    deleted_at: float | None = None
    ttl_at: float | None = None
    notebook: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    spec: EndpointRowSpec = field(default_factory=lambda: EndpointRowSpec())
    updated_at: float = 0.0
    id: int | None = None

    @property
    def is_live(self) -> bool:
        """Whether the endpoint may still be running or billing."""
        return self.status != DELETED


class JobChanges(TypedDict, total=False):
    """The columns :meth:`Ledger.update_job` may set, with :class:`JobRecord`'s types.

    ``name`` is the key and ``updated_at`` is set by every update, so neither is here.
    """

    backend: str
    status: str
    created_at: float
    kind: str
    region: str | None
    secondary_status: str | None
    instance_type: str | None
    instance_count: int
    spot: bool
    started_at: float | None
    ended_at: float | None
    failure_reason: str | None
    model_data: str | None
    source_hash: str | None
    notebook: str | None
    tags: dict[str, str]
    spec: JobRowSpec
    deleted_at: float | None
    metrics: dict[str, float]


class EndpointChanges(TypedDict, total=False):
    """The columns :meth:`Ledger.update_endpoint` may set, with :class:`EndpointRecord`'s."""

    backend: str
    status: str
    created_at: float
    region: str | None
    url: str | None
    variants: list[LiveVariantSummary]
    failure_reason: str | None
    deleted_at: float | None
    ttl_at: float | None
    notebook: str | None
    tags: dict[str, str]
    spec: EndpointRowSpec


def changed_columns(record: JobRecord, wanted: JobChanges, *, keep_none: bool) -> JobChanges:
    """Return the columns of ``wanted`` whose value differs from ``record``'s.

    ``keep_none`` false leaves ``None`` values out (a time a service has not reported
    yet must not erase one the row has). A part of a :class:`JobChanges` is one too: the
    comprehension only drops keys, hence the cast.
    """
    return cast(
        JobChanges,
        {
            column: value
            for column, value in wanted.items()
            if (keep_none or value is not None) and getattr(record, column) != value
        },
    )


JSON_COLUMNS = {"tags", "spec", "variants", "metrics"}
JOB_COLUMNS = tuple(f.name for f in fields(JobRecord))
ENDPOINT_COLUMNS = tuple(f.name for f in fields(EndpointRecord))


def without_secrets(spec: object) -> object:
    """Return a job or endpoint spec with its ``--env`` values replaced by their names only.

    ``--env`` values may be credentials; the ledger is read by every process and the side
    panel, so it keeps which variables were set, and the backend keeps their values: the
    job folder's ``spec.json`` (mode 0600), the endpoint folder's config, the SageMaker
    model (``Backend.variant_environments``). An endpoint variant's ``SM_MAGICS_*``
    variables are sm-magics' own settings (which image serves it), never given to the
    container, and kept: an update rebuilds the variant's container from them. Anything
    that is not a spec's dict comes back as it was (only JSON is made of the answer).
    """
    if not isinstance(spec, dict):
        return spec
    if isinstance(spec.get("environment"), dict):
        spec = {**spec, "environment": dict.fromkeys(sorted(spec["environment"]), REDACTED)}
    if isinstance(spec.get("variants"), list):
        spec = {**spec, "variants": [_variant_without_secrets(v) for v in spec["variants"]]}
    return spec


def _variant_without_secrets(variant: object) -> object:
    if not isinstance(variant, dict) or not isinstance(variant.get("environment"), dict):
        return variant
    environment = {
        str(key): value if str(key).startswith(SETTINGS_PREFIX) else REDACTED
        for key, value in sorted(variant["environment"].items())
    }
    return {**variant, "environment": environment}


#: What the ledger stores in place of an ``--env`` value.
REDACTED = "(set)"
#: ``--env`` names that configure sm-magics itself (kept in an endpoint row: not secrets).
SETTINGS_PREFIX = "SM_MAGICS_"

#: A value SQLite stores as it is (``sqlite3``'s own types).
SqlValue: TypeAlias = str | int | float | bytes | None


def sql_value(column: str, value: object) -> SqlValue:
    """Return one record field as its column stores it.

    The JSON columns as text (``spec`` without its ``--env`` values: every write of a
    spec, insert or update, goes through here), booleans as 0/1, the rest as they are.

    Raises
    ------
    TypeError
        A value SQLite cannot store (a programming error: the column's type is wrong).
    """
    if column in JSON_COLUMNS:
        return json.dumps(without_secrets(value) if column == "spec" else value, sort_keys=True)
    if isinstance(value, bool):
        return int(value)
    if value is None or isinstance(value, str | int | float | bytes):
        return value
    raise TypeError(f"ledger column {column!r} cannot store a {type(value).__name__}")


def to_row(record: JobRecord | EndpointRecord) -> dict[str, SqlValue]:
    """Return a record as the column values SQLite stores (the row id left to SQLite)."""
    return {
        item.name: sql_value(item.name, getattr(record, item.name))
        for item in fields(record)
        if item.name != "id"
    }


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
