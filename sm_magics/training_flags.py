"""``%%sm_train``'s flags, listed once: ``%%sm_tune`` takes the same ones.

:func:`training_options` adds every flag of a training job to a magic's parser;
:func:`training_arguments` turns the parsed line (and the ``%config`` defaults) into the
options of :func:`~sm_magics.api.specs.training_spec`. Kept apart from the magics so that
both magics that launch training jobs share one list without importing each other.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument

from sm_magics.api.specs import TRAINING_OPTIONS
from sm_magics.magic_parsing import JsonKeyValues, KeyValues, options_of

if TYPE_CHECKING:
    from sm_magics.magics import SageMakerMagics

F = TypeVar("F", bound=Callable[..., object])


class _Option(Protocol):
    """One option's decorator (IPython's ``argument``): it gives back what it was given."""

    def __call__(self, func: F, /) -> F:
        """Attach the option to ``func``'s parser."""


_TRAINING_OPTIONS: tuple[_Option, ...] = (
    argument("-i", "--instance-type", default=None, help="Instance type, e.g. ml.m5.large."),
    argument("-n", "--instance-count", type=int, default=1, help="Hosts algo-1..algo-N."),
    argument(
        "--hp",
        dest="hyperparameters",
        action=JsonKeyValues,
        nargs="+",
        metavar="KEY=VALUE",
        help="Hyperparameters (repeatable; JSON values allowed).",
    ),
    argument(
        "--input",
        dest="inputs",
        action=KeyValues,
        nargs="+",
        metavar="CHANNEL=URI",
        help="Input channels: a local path, file://... or s3://...",
    ),
    argument("--source-dir", default=None, help="Folder packaged with the code."),
    argument("--entry-point", default=None, help="Script inside --source-dir to run."),
    argument("--requirements", default=None, help="pip requirements installed first."),
    argument("--image", default=None, help="Training image URI (SageMaker)."),
    argument("--framework", default=None, help="Framework container, e.g. sklearn, pytorch."),
    argument("--framework-version", default=None, help="Framework version, e.g. 1.2-1."),
    argument("--py-version", default=None, help="Python of the framework image, e.g. py3."),
    argument(
        "--distribution",
        default=None,
        choices=["torch_distributed", "mpi"],
        help="Launcher on each host, as the SDK's distribution= (torchrun, mpirun).",
    ),
    argument(
        "--driver",
        default=None,
        choices=["modeltrainer"],
        help="Use the SDK v3 ModelTrainer conventions instead of the framework container's.",
    ),
    argument(
        "--metric",
        dest="metric_definitions",
        action=KeyValues,
        nargs="+",
        metavar="NAME=REGEX",
        help="Metrics parsed from the logs (first regex group) and charted live.",
    ),
    argument(
        "--env",
        dest="environment",
        action=KeyValues,
        nargs="+",
        metavar="KEY=VALUE",
        help="Environment variables of the training script.",
    ),
    argument("--spot", action="store_true", help="Managed spot training (SageMaker)."),
    argument("--max-wait", default=None, help="Spot: longest wait + run, e.g. 2h."),
    argument("--max-run", default=None, help="Stop the job after this long: 30m, 2h, 86400."),
    argument("--checkpoint-uri", default=None, help="Where checkpoints are synced."),
    argument(
        "--keep-alive",
        default=None,
        metavar="DURATION",
        help="SageMaker warm pool: keep the instances this long (up to 1h) for the next job.",
    ),
    argument("--tag", dest="tags", action=KeyValues, nargs="+", metavar="KEY=VALUE", help="Tags."),
    argument(
        "--experiment",
        default=None,
        metavar="NAME",
        help="Group this run with others (%%sm_runs --experiment NAME, MLflow's experiment).",
    ),
)


def training_options(func: F) -> F:
    """Add every option of a training job (``%%sm_train``'s, which ``%%sm_tune`` shares).

    Listed once: the magics that launch training jobs take the same flags, and
    :func:`training_arguments` maps them to :func:`~sm_magics.api.specs.training_spec`.
    """
    for option in reversed(_TRAINING_OPTIONS):
        func = option(func)
    return func


def training_arguments(core: SageMakerMagics, args: argparse.Namespace) -> dict[str, Any]:
    """Return the ``training_spec`` options of a line parsed with :func:`training_options`.

    A flag wins; else the ``%config`` default (an image and a framework exclude each other).
    """
    options = options_of(args, TRAINING_OPTIONS)
    options.pop("name", None)  # a magic's own name argument (a tuning job's, too)
    options["image"] = args.image or (None if args.framework else core.image or None)
    options["framework"] = args.framework or (None if args.image else core.framework or None)
    options["framework_version"] = args.framework_version or core.framework_version or None
    options["py_version"] = args.py_version or core.py_version or None
    options["tags"] = _with_experiment(dict(options.get("tags") or {}), args)
    return options


def _with_experiment(tags: dict[str, str], args: argparse.Namespace) -> dict[str, str]:
    """Add ``--experiment`` as the run's ``sm-magics:experiment`` tag."""
    if args.experiment:
        from sm_magics.api.runs import EXPERIMENT_TAG

        if not re.fullmatch(r"[\w.:/=+@ -]{1,128}", args.experiment):
            raise UsageError(
                "--experiment: 1-128 letters, digits, spaces and _.:/=+-@ (a tag value)."
            )
        tags[EXPERIMENT_TAG] = args.experiment
    return tags
