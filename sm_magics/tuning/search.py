"""The search itself, done by Optuna: one sampler and one pruner per SageMaker strategy.

Imported only by the local tuner process (never by the kernel): Optuna is an optional
dependency, loaded when a local tuning job starts.

* ``Bayesian`` → TPE (a Bayesian optimiser over the same mixed space SageMaker searches);
* ``Random`` → random sampling; ``Grid`` → every combination of the categorical values,
  enqueued in order;
* ``Hyperband`` → TPE with Optuna's Hyperband pruner over the objective's steps;
* early stopping ``Auto`` → :class:`RunningAverageMedianPruner`, SageMaker's documented rule.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState

from sm_magics.tuning.ranges import CategoricalRange

if TYPE_CHECKING:
    from sm_magics.tuning.spec import TuningSpec


def _running_average(values: dict[int, float], step: int) -> float | None:
    upto = [value for at, value in values.items() if at <= step]
    return sum(upto) / len(upto) if upto else None


class RunningAverageMedianPruner(BasePruner):
    """Stop a trial that does worse than the median of finished trials at the same step.

    SageMaker's ``TrainingJobEarlyStoppingType=Auto``: after each epoch (each value of the
    objective metric), the running average of the trial's objective so far is compared with
    the running averages of the *completed* trials up to the same epoch; a trial worse than
    their median is stopped. ``min_completed`` trials must have reached that step first,
    so the first trials always run to the end.
    """

    def __init__(self, min_completed: int = 3, warmup_steps: int = 1) -> None:
        self.min_completed = min_completed
        self.warmup_steps = warmup_steps
        self.last_reason: str | None = None

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        """Return whether ``trial`` should stop now (``last_reason`` says why)."""
        step = trial.last_step
        if step is None or step < self.warmup_steps:
            return False
        mine = _running_average(trial.intermediate_values, step)
        others = [
            avg
            for done in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if (avg := _running_average(done.intermediate_values, step)) is not None
            and max(done.intermediate_values, default=-1) >= step
        ]
        if mine is None or len(others) < self.min_completed:
            return False
        median = statistics.median(others)
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        worse = mine < median if maximize else mine > median
        if worse:
            self.last_reason = (
                f"Early stopping: the running average of the objective at step {step + 1} "
                f"({mine:.6g}) is {'below' if maximize else 'above'} the median of "
                f"{len(others)} completed trials ({median:.6g})"
            )
        return worse


def create_study(spec: TuningSpec) -> optuna.Study:
    """Return the Optuna study that searches ``spec``'s space with its strategy."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seed = spec.random_seed
    sampler: optuna.samplers.BaseSampler
    pruner: BasePruner
    if spec.strategy == "Random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    elif spec.strategy == "Grid":
        # Every combination is enqueued below; Optuna's GridSampler would call
        # ``study.stop()`` when the grid is exhausted, which ask-and-tell does not allow.
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:  # Bayesian, Hyperband
        # A few random trials first, as SageMaker's Bayesian search starts; then TPE.
        startup = min(max(2, spec.max_jobs // 5), 10)
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
    if spec.strategy == "Hyperband":
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    elif spec.early_stopping == "Auto":
        pruner = RunningAverageMedianPruner()
    else:
        pruner = optuna.pruners.NopPruner()
    direction = optuna.study.StudyDirection.MAXIMIZE
    if not spec.maximize:
        direction = optuna.study.StudyDirection.MINIMIZE
    study = optuna.create_study(direction=direction, sampler=sampler, pruner=pruner)
    if spec.strategy == "Grid":
        import itertools

        names = [rng.name for rng in spec.ranges]
        values = [list(rng.values) for rng in spec.ranges if isinstance(rng, CategoricalRange)]
        for combination in itertools.product(*values):
            study.enqueue_trial(dict(zip(names, combination, strict=True)))
    return study


def distributions(spec: TuningSpec) -> dict[str, optuna.distributions.BaseDistribution]:
    """Return each tuned hyperparameter's Optuna distribution."""
    return {rng.name: rng.distribution() for rng in spec.ranges}


def add_finished_trial(
    study: optuna.Study, spec: TuningSpec, params: dict[str, str | int | float], value: float
) -> bool:
    """Seed ``study`` with a trial a parent tuning job finished (warm start).

    Returns False when the parent's parameters do not fit this job's ranges (a range
    that changed), in which case SageMaker's ``IdenticalDataAndAlgorithm`` would not use
    them either.
    """
    dists = distributions(spec)
    if set(params) != set(dists):
        return False
    try:
        trial = optuna.trial.create_trial(params=params, distributions=dists, value=value)
        study.add_trial(trial)
    except ValueError:
        return False
    return True
