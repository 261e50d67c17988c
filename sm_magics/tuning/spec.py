"""The tuning job spec: what ``%%sm_tune`` asks for, validated once, read by both backends.

A tuning job is a training job template (a :class:`~sm_magics.backends.specs.TrainingSpec`
whose hyperparameters are the static ones) plus the search: the objective (one of the
template's ``--metric`` names, as SageMaker requires), the ranges, the budget and the
strategy. Defaults are SageMaker's: Bayesian search, early stopping off, maximise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sm_magics.backends.specs import TrainingSpec
from sm_magics.errors import InvalidRequest
from sm_magics.ledger_records import TuningRowSpec
from sm_magics.tuning import ranges as ranges_mod
from sm_magics.tuning.ranges import ParameterRange

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sm_magics.json_types import JsonValue

Strategy = Literal["Bayesian", "Random", "Grid", "Hyperband"]
EarlyStopping = Literal["Off", "Auto"]
ObjectiveType = Literal["Maximize", "Minimize"]

STRATEGIES: dict[str, Strategy] = {
    "bayesian": "Bayesian",
    "random": "Random",
    "grid": "Grid",
    "hyperband": "Hyperband",
}
#: SageMaker's ``HyperParameterTuningJobName``: 1 to 32 characters.
TUNING_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
#: SageMaker's default ``MaxNumberOfTrainingJobs`` when a tuner is given none is 1; a
#: notebook user who asks to tune means more than one trial, so ours is 10.
DEFAULT_MAX_JOBS = 10
MAX_JOBS_LIMIT = 750  # SageMaker's per-tuning-job quota
MAX_PARALLEL_LIMIT = 100
#: Metadata tag on each trial's ledger row and SageMaker job: the tuning job it belongs to.
TRIAL_OF_TAG = "sm-magics:tuning-job"


def validate_tuning_name(name: str) -> str:
    """Return ``name`` if SageMaker accepts it as a tuning job name (max 32 characters)."""
    if not TUNING_NAME.match(name):
        raise InvalidRequest(
            f"Invalid tuning job name {name!r}: 1-32 letters, digits and hyphens, starting "
            "and ending with a letter or digit (SageMaker's rule; each trial adds '-NNN-xxxxxxxx')."
        )
    return name


def trial_name(tuning: str, number: int, params: Mapping[str, JsonValue]) -> str:
    """Return SageMaker's name for trial ``number``: ``<tuning>-<NNN>-<8 hex>``."""
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
    return f"{tuning}-{number + 1:03d}-{digest}"


@dataclass
class TuningSpec:
    """Everything a backend needs to run one tuning job, already validated.

    ``training.hyperparameters`` are the static ones; each trial adds its sample of
    ``ranges``. ``training.name`` is the tuning job's name.
    """

    name: str
    training: TrainingSpec
    objective: str
    ranges: list[ParameterRange]
    objective_type: ObjectiveType = "Maximize"
    max_jobs: int = DEFAULT_MAX_JOBS
    max_parallel: int = 1
    strategy: Strategy = "Bayesian"
    early_stopping: EarlyStopping = "Off"
    warm_start: list[str] = field(default_factory=list)
    max_runtime: int | None = None  # seconds for the whole tuning job
    random_seed: int | None = None

    def __post_init__(self) -> None:
        self.validate()

    @property
    def maximize(self) -> bool:
        """Whether a larger objective is better."""
        return self.objective_type == "Maximize"

    def validate(self) -> None:
        """Check the spec against SageMaker's own rules (raises ``InvalidRequest``)."""
        validate_tuning_name(self.name)
        if self.objective not in self.training.metric_definitions:
            known = ", ".join(sorted(self.training.metric_definitions)) or "none"
            raise InvalidRequest(
                f"--objective {self.objective!r} must be one of the --metric names "
                f"(defined: {known}); add --metric {self.objective}=REGEX."
            )
        if not self.ranges:
            raise InvalidRequest("Tuning needs at least one --range KEY=... to search.")
        fixed = sorted({r.name for r in self.ranges} & set(self.training.hyperparameters))
        if fixed:
            raise InvalidRequest(
                f"{', '.join(fixed)} is given both as --hp and as --range; keep one."
            )
        if self.strategy == "Grid":
            size = ranges_mod.grid_size(self.ranges)
            if self.max_jobs not in (size, DEFAULT_MAX_JOBS):
                raise InvalidRequest(
                    f"--strategy grid runs every combination ({size}); leave out --max-jobs."
                )
            self.max_jobs = size
        if not 1 <= self.max_jobs <= MAX_JOBS_LIMIT:
            raise InvalidRequest(f"--max-jobs must be between 1 and {MAX_JOBS_LIMIT}.")
        if not 1 <= self.max_parallel <= MAX_PARALLEL_LIMIT:
            raise InvalidRequest(f"--max-parallel must be between 1 and {MAX_PARALLEL_LIMIT}.")
        if self.max_parallel > self.max_jobs:
            raise InvalidRequest(
                f"--max-parallel {self.max_parallel} is more than --max-jobs {self.max_jobs}."
            )
        if self.strategy == "Hyperband" and self.early_stopping != "Off":
            raise InvalidRequest(
                "--strategy hyperband stops poor trials itself; use --early-stopping off "
                "with it (SageMaker refuses both)."
            )
        if self.max_runtime is not None and not 120 <= self.max_runtime <= 15_768_000:
            raise InvalidRequest("The tuning job's --max-runtime must be 2m to 182d.")

    def trial_training_spec(self, number: int, params: Mapping[str, JsonValue]) -> TrainingSpec:
        """Return the training spec of trial ``number`` with the sampled ``params``."""
        from dataclasses import replace

        return replace(
            self.training,
            name=trial_name(self.name, number, params),
            hyperparameters={**self.training.hyperparameters, **params},
            tags={**self.training.tags, TRIAL_OF_TAG: self.name},
        )

    def to_json(self) -> TuningRowSpec:
        """Return the spec as JSON-safe data (ledger row, tuning folder)."""
        return {
            "name": self.name,
            "training": self.training.to_json(),
            "objective": self.objective,
            "objective_type": self.objective_type,
            "parameter_ranges": ranges_mod.to_parameter_ranges(self.ranges),
            "max_jobs": self.max_jobs,
            "max_parallel": self.max_parallel,
            "strategy": self.strategy,
            "early_stopping": self.early_stopping,
            "warm_start": list(self.warm_start),
            "max_runtime": self.max_runtime,
            "random_seed": self.random_seed,
        }

    @classmethod
    def from_json(cls, data: TuningRowSpec) -> TuningSpec:
        """Rebuild a spec written by :meth:`to_json` (the tuner process reads it)."""
        return cls(
            name=data["name"],
            training=TrainingSpec.from_json(data["training"]),
            objective=data["objective"],
            ranges=ranges_mod.from_parameter_ranges(data["parameter_ranges"]),
            objective_type=parse_objective_type(data["objective_type"]),
            max_jobs=int(data["max_jobs"]),
            max_parallel=int(data["max_parallel"]),
            strategy=parse_strategy(data["strategy"]),
            early_stopping=parse_early_stopping(data["early_stopping"]),
            warm_start=list(data.get("warm_start") or []),
            max_runtime=data.get("max_runtime"),
            random_seed=data.get("random_seed"),
        )


def parse_strategy(text: str) -> Strategy:
    """Return SageMaker's strategy name for ``bayesian|random|grid|hyperband``."""
    try:
        return STRATEGIES[text.strip().lower()]
    except KeyError:
        raise InvalidRequest(
            f"--strategy {text!r}: choose bayesian, random, grid or hyperband."
        ) from None


def parse_early_stopping(text: str) -> EarlyStopping:
    """Return SageMaker's ``TrainingJobEarlyStoppingType`` for ``auto|off``."""
    value = text.strip().lower()
    if value not in ("auto", "off"):
        raise InvalidRequest(f"--early-stopping {text!r}: choose auto or off.")
    return "Auto" if value == "auto" else "Off"


def parse_objective_type(text: str) -> ObjectiveType:
    """Return SageMaker's objective ``Type`` for ``maximize|minimize`` (any case).

    A spec read back from a tuning folder passes through here, so a hand-edited file
    fails with this message instead of running a search in an unknown direction.
    """
    value = text.strip().lower()
    if value not in ("maximize", "minimize"):
        raise InvalidRequest(f"Objective type {text!r}: Maximize or Minimize.")
    return "Maximize" if value == "maximize" else "Minimize"
