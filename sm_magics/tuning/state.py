"""A local tuning job's state document (``state.json``), typed.

The tuning loop (:mod:`.loop`, in the tuner process) is its only writer; the kernel reads
it to answer ``DescribeHyperParameterTuningJob`` and the trial list. One definition for
both sides, so a key the loop writes is the key the reader looks for.
"""

from __future__ import annotations

from typing import TypedDict, cast

from sm_magics.json_types import JsonValue


class TrialEntry(TypedDict, total=False):
    """One trial: a training job the loop started, and what its logs said so far."""

    number: int
    name: str
    #: The values Optuna sampled (a categorical range's values stay the strings typed).
    params: dict[str, str | int | float]
    #: ``params`` as the script receives them (:func:`~sm_magics.tuning.ranges.decode_value`).
    hyperparameters: dict[str, JsonValue]
    status: str
    objective: float | None
    objective_status: str  # SageMaker's ObjectiveStatus: Pending, Succeeded, Failed
    #: ``[step, value, timestamp]`` per objective line, the last MAX_SERIES kept.
    series: list[list[float]]
    created: float
    started: float | None
    ended: float
    failure_reason: str
    early_stopped: bool


class BestTrial(TypedDict):
    """The best trial so far (by the objective's direction)."""

    name: str
    objective: float
    params: dict[str, str | int | float]


class TuningState(TypedDict, total=False):
    """The whole document; ``status``, ``created`` and ``max_jobs`` are there from create."""

    status: str
    created: float
    max_jobs: int
    tuner_pid: int
    tuner_start: str | None  # its start time (processes.start_time), for identity
    trials: list[TrialEntry]
    best: BestTrial
    #: ``[time, objective, trial name]`` each time the best improved.
    best_history: list[list[float | str]]
    warm_started: int
    stop_reason: str  # "MaxRuntimeExceeded" when the deadline stopped it
    ended: float
    failure_reason: str | None


def tuning_state(data: dict[str, object]) -> TuningState:
    """Return a ``state.json`` document as read from disk as the :class:`TuningState` it is.

    The one place the untyped JSON read becomes the loop's type (the loop wrote it).
    """
    return cast(TuningState, data)


__all__ = ["BestTrial", "TrialEntry", "TuningState", "tuning_state"]
