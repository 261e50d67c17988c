"""The specs a backend accepts: one validated request per resource kind it creates.

The API builds them (:mod:`sm_magics.api.specs`, :mod:`sm_magics.api.deploy`) and checks
every field once; the backends take them as they are. They live apart from the contract
(:mod:`sm_magics.backends.base`) so that a module that only builds or reads a spec (the
tuning spec, costs, the REST parameters) need not import the contract and the ledger.
:class:`~sm_magics.backends.processing.ProcessingSpec` and
:class:`~sm_magics.backends.packages.PackageSpec` have modules of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from sm_magics.json_types import Hyperparameters
    from sm_magics.ledger_records import AsyncJson, TrainingRowSpec, VariantJson


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
    hyperparameters: Hyperparameters = field(default_factory=dict)
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
    keep_alive: int | None = None  # warm pool: seconds the instances wait for the next job
    max_run: int | None = None
    checkpoint_uri: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    notebook: str | None = None
    distribution: str | None = None  # torch_distributed | mpi (the SDK's distribution=)
    driver: str | None = None  # None: framework-container conventions; "modeltrainer": v3

    def to_json(self) -> TrainingRowSpec:
        """Return the spec as JSON-safe data, as recorded in the ledger and job folder."""
        data = dict(self.__dict__)
        for key in ("source_dir", "requirements"):
            if data[key] is not None:
                data[key] = str(data[key])
        return cast("TrainingRowSpec", data)  # the fields, as TrainingRowSpec lists them

    @classmethod
    def from_json(cls, data: TrainingRowSpec) -> TrainingSpec:
        """Rebuild a spec written by :meth:`to_json` (a tuning job's template, in its tuner).

        A key an older version did not write takes the field's default; keys that are
        not fields (``resolved_image``, ...) are left out.
        """
        base = cls(name=data["name"], entry_point=data["entry_point"])
        source_dir = data.get("source_dir")
        requirements = data.get("requirements")
        return cls(
            name=base.name,
            entry_point=base.entry_point,
            script=data.get("script"),
            source_dir=Path(source_dir) if source_dir is not None else None,
            hyperparameters=dict(data.get("hyperparameters") or {}),
            inputs=dict(data.get("inputs") or {}),
            instance_type=data.get("instance_type", base.instance_type),
            instance_count=data.get("instance_count", base.instance_count),
            requirements=Path(requirements) if requirements is not None else None,
            image=data.get("image"),
            framework=data.get("framework"),
            framework_version=data.get("framework_version"),
            py_version=data.get("py_version"),
            metric_definitions=dict(data.get("metric_definitions") or {}),
            environment=dict(data.get("environment") or {}),
            spot=data.get("spot", base.spot),
            max_wait=data.get("max_wait"),
            keep_alive=data.get("keep_alive"),
            max_run=data.get("max_run"),
            checkpoint_uri=data.get("checkpoint_uri"),
            tags=dict(data.get("tags") or {}),
            region=data.get("region"),
            notebook=data.get("notebook"),
            distribution=data.get("distribution"),
            driver=data.get("driver"),
        )


DEFAULT_VARIANT = "AllTraffic"


def parse_capacity_range(text: str) -> tuple[int, int]:
    """Parse ``--autoscale MIN:MAX`` into ``(min, max)`` instance counts.

    Raises
    ------
    InvalidRequest
        Not two integers with ``1 <= MIN <= MAX``.
    """
    from sm_magics.errors import InvalidRequest

    low, sep, high = text.partition(":")
    try:
        bounds = int(low), int(high)
    except ValueError:
        bounds = (0, -1)
    if not sep or not 1 <= bounds[0] <= bounds[1]:
        raise InvalidRequest(
            f"--autoscale {text!r}: give MIN:MAX instance counts with 1 <= MIN <= MAX, e.g. 1:4."
        )
    return bounds


@dataclass
class VariantSpec:
    """One production variant: a model, its handlers, its instances and its weight."""

    name: str = DEFAULT_VARIANT
    model_data: str | None = None  # URI of model.tar.gz
    job: str | None = None  # the training job it came from, if any
    entry_point: Path | None = None  # inference handlers; default: the job's own script
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    weight: float = 1.0
    serverless_memory_mb: int | None = None
    max_concurrency: int | None = None
    environment: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> VariantJson:
        """Return the variant as JSON-safe data (as an endpoint row's ``spec`` keeps it)."""
        return {
            "name": self.name,
            "model_data": self.model_data,
            "job": self.job,
            "entry_point": str(self.entry_point) if self.entry_point else None,
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "weight": self.weight,
            "serverless_memory_mb": self.serverless_memory_mb,
            "max_concurrency": self.max_concurrency,
            "environment": dict(self.environment),
        }


@dataclass(frozen=True)
class AsyncInferenceSpec:
    """An asynchronous endpoint: requests are queued, answers written to ``output_uri``.

    SageMaker's ``AsyncInferenceConfig``: each answer lands in ``output_uri`` (a failed
    one in ``failure_uri``, if given) under a name of its own, and each instance works
    on at most ``max_concurrency`` requests at a time.
    """

    output_uri: str
    failure_uri: str | None = None
    max_concurrency: int | None = None

    def to_json(self) -> AsyncJson:
        """Return the spec as the ledger stores it."""
        return {
            "output_uri": self.output_uri,
            "failure_uri": self.failure_uri,
            "max_concurrency": self.max_concurrency,
        }


@dataclass
class EndpointSpec:
    """Everything a backend needs to create an endpoint, already validated."""

    name: str
    variants: list[VariantSpec]
    ttl: int | None = None  # seconds until the endpoint deletes itself
    tags: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    notebook: str | None = None
    async_inference: AsyncInferenceSpec | None = None  # None: a real-time endpoint


@dataclass
class TransformSpec:
    """A batch transform job: every record of the input through a model's handlers."""

    name: str
    model: VariantSpec  # the model, its handlers and its instances (weight unused)
    input_uri: str
    output_uri: str
    content_type: str = "text/csv"
    accept: str | None = None
    split_type: str = "Line"  # "Line": one record per line; "None": one request per file
    tags: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    notebook: str | None = None
