"""``%%sm_tune``: hyperparameter tuning over a training cell or script.

A second ``Magics`` class beside :class:`~sm_magics.magics.SageMakerMagics` (as the
serving magics are), sharing its configuration, its session and its training options: a
tuning job takes every ``%%sm_train`` flag for its trials, plus the search.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from IPython.core.error import UsageError
from IPython.core.magic import line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments

from sm_magics.api.tuning import Tuning, tuning_spec
from sm_magics.magic_parsing import (
    backend_option,
    bind_out,
    force_option,
    magic_call,
    out_option,
)
from sm_magics.magics import SessionMagics
from sm_magics.training_flags import training_arguments, training_options

if TYPE_CHECKING:
    from sm_magics.backends.descriptions import TuningJobDescription

_TERMINAL = ("Completed", "Failed", "Stopped")


@magics_class
class TuningMagics(SessionMagics):
    """``%%sm_tune``; shares :class:`SageMakerMagics`' configuration and session."""

    @magic_arguments()
    @argument("name", nargs="?", default=None, help="Tuning job name (at most 32 characters).")
    @backend_option
    @argument(
        "--objective",
        required=True,
        metavar="METRIC",
        help="The --metric to optimise (its last value in each trial's logs).",
    )
    @argument("--maximize", action="store_true", help="Larger is better (the default).")
    @argument("--minimize", action="store_true", help="Smaller is better.")
    @argument(
        "--range",
        dest="ranges",
        action="append",
        nargs="+",
        metavar="KEY=RANGE",
        help="A range to search: KEY=LO:HI[:log] (float), KEY=A..B (integer), KEY=a,b,c.",
    )
    @argument("--max-jobs", type=int, default=None, help="Trials in all (default 10).")
    @argument("--max-parallel", type=int, default=1, help="Trials at once (default 1).")
    @argument(
        "--strategy",
        default="bayesian",
        help="bayesian (default), random, grid (every combination) or hyperband.",
    )
    @argument(
        "--early-stopping",
        default="off",
        help="auto: stop a trial doing worse than the median of finished ones; off (default).",
    )
    @argument(
        "--warm-start",
        action="append",
        default=None,
        metavar="PARENT",
        help="Start from what a previous tuning job learnt (repeatable).",
    )
    @argument("--max-runtime", default=None, help="Stop the whole tuning job after this long.")
    @argument("--seed", type=int, default=None, help="Random seed of the search.")
    @training_options
    @argument(
        "--wait",
        action="store_true",
        help="Block, printing each trial as it ends (CI, nbval, terminals).",
    )
    @force_option
    @out_option
    @line_cell_magic
    @no_var_expand
    @magic_call()
    def sm_tune(self, args: argparse.Namespace, cell: str | None = None) -> Tuning:
        """Tune the cell's (or a script's) hyperparameters; return the tuning job at once.

        Each trial is a training job of the cell with one sample of the ``--range``s added
        to its ``--hp``s; the objective is one of the ``--metric``s.

        Examples
        --------
        ::

            In [1]: %%sm_tune --objective auc --metric auc=auc=([0-9.]+)
               ...:     --range lr=1e-4:1e-1:log --range depth=3..10 --max-jobs 20 --max-parallel 4
               ...: import argparse ...
        """
        if cell is None and args.entry_point is None:
            raise UsageError(
                "%sm_tune on one line tunes an existing script: give --source-dir DIR "
                "--entry-point FILE, or use %%sm_tune with the code in the cell."
            )
        if args.maximize and args.minimize:
            raise UsageError("Give --maximize or --minimize, not both.")
        texts = [text for group in args.ranges or [] for text in group]
        session = self.core.session
        spec = tuning_spec(
            session,
            name=args.name,
            training=training_arguments(self.core, args),
            script=cell,
            objective=args.objective,
            ranges=texts,
            minimize=args.minimize,
            max_jobs=args.max_jobs,
            max_parallel=args.max_parallel,
            strategy=args.strategy,
            early_stopping=args.early_stopping,
            warm_start=args.warm_start,
            max_runtime=args.max_runtime,
            random_seed=args.seed,
        )
        tuning = session.tune(spec, backend=args.backend, force=args.force)
        bind_out(self.shell, args.out, tuning)
        if args.wait:
            wait_printing(tuning, print)
        return tuning


def wait_printing(
    tuning: Tuning, emit: Callable[[str], object], poll: float | None = None
) -> TuningJobDescription:
    """Block until ``tuning`` ends, printing each trial as it ends; return the description.

    Raises
    ------
    UsageError
        The tuning job failed (with its reason: the first trial's own error).
    """
    from sm_magics.display.tuning import failure_line

    interval = poll if poll is not None else max(0.5, tuning.backend.status_poll_interval / 2)
    emit(f"Tuning job {tuning.name} on {tuning.backend_name}: waiting (trials follow).")
    reported: set[str] = set()
    try:
        while True:
            description = tuning.describe()
            for trial in sorted(tuning.trials(), key=lambda t: t["TrainingJobName"]):
                name = trial["TrainingJobName"]
                if name in reported or trial["TrainingJobStatus"] not in _TERMINAL:
                    continue
                reported.add(name)
                metric = trial.get("FinalHyperParameterTuningJobObjectiveMetric")
                value = f" {metric['MetricName']}={metric['Value']:.6g}" if metric else ""
                why = failure_line(trial.get("FailureReason"))
                params = ", ".join(f"{k}={v}" for k, v in trial["TunedHyperParameters"].items())
                emit(
                    f"  {name} {trial['TrainingJobStatus']}{value} ({params})"
                    + (f": {why}" if why else "")
                )
            status = description["HyperParameterTuningJobStatus"]
            if status in _TERMINAL:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        emit(f"Stopped waiting; {tuning.name} goes on. %sm_stop {tuning.name} stops it.")
        return tuning.describe()
    best = description.get("BestTrainingJob")
    metric = best.get("FinalHyperParameterTuningJobObjectiveMetric") if best else None
    if best and metric:
        emit(
            f"Tuning job {tuning.name} {status}: best {best['TrainingJobName']} "
            f"{metric['MetricName']}={metric['Value']:.6g} with "
            + ", ".join(f"{k}={v}" for k, v in best["TunedHyperParameters"].items())
        )
    if status == "Failed":
        raise UsageError(f"Tuning job {tuning.name} failed: {description.get('FailureReason')}")
    return description
