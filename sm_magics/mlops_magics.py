"""The MLOps magics: runs, comparison, the model registry and lineage.

A third ``Magics`` class beside the training and serving ones, sharing their
configuration and session: ``%sm_runs``, ``%sm_compare``, ``%sm_register``,
``%sm_models``, ``%sm_approve``, ``%sm_reject`` and ``%sm_lineage``. Each is one call on
the Python API (``Session.runs_table``, ``.compare``, ``.register``, ...).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments

from sm_magics.magic_parsing import backend_option, magic_call, out_option
from sm_magics.magics import SessionMagics

if TYPE_CHECKING:
    from sm_magics.api.lineage import LineageView
    from sm_magics.display.registry import ModelsTable
    from sm_magics.display.runs import CompareView, RunsTable
    from sm_magics.model_registry import PackageRecord


@magics_class
class MLOpsMagics(SessionMagics):
    """Runs, comparisons, the model registry and lineage; shares the core's session."""

    # -- runs -------------------------------------------------------------------------------

    @magic_arguments()
    @argument("--experiment", default=None, help="Only the runs of this experiment.")
    @argument(
        "--filter",
        action="append",
        default=None,
        metavar="EXPR",
        help="NAME OP VALUE on a metric, parameter or column (repeatable): 'accuracy>0.9'.",
    )
    @argument("--sort", default=None, metavar="NAME[:asc]", help="Sort by a metric or parameter.")
    @argument("--limit", type=int, default=200, help="Look at this many recent jobs.")
    @out_option
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_runs(self, args: argparse.Namespace) -> RunsTable:
        """List runs of every kind with their parameters and final metrics.

        With ``%config SageMakerMagics.mlflow_tracking_uri`` set, the runs that ended are
        also logged to MLflow (once each).
        """
        if not 1 <= args.limit <= 100_000:
            raise UsageError("--limit must be between 1 and 100000.")
        session = self.core.session
        table = session.runs_table(
            experiment=args.experiment, filters=args.filter, sort=args.sort, limit=args.limit
        )
        exported = session.sync_tracking()
        if exported:
            print(f"Logged {len(exported)} run(s) to MLflow at {session.mlflow_tracking_uri}.")
        return table

    @magic_arguments()
    @argument("jobs", nargs="+", help="Two or more job names.")
    @out_option
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_compare(self, args: argparse.Namespace) -> CompareView:
        """Show runs side by side: parameters, final metrics, metric curves overlaid."""
        return self.core.session.compare(args.jobs)

    # -- registry ---------------------------------------------------------------------------

    @magic_arguments()
    @argument("model", help="A training (or tuning) job name, or a model.tar.gz URI.")
    @argument("--group", required=True, help="The model package group (created if new).")
    @argument("--approve", action="store_true", help="Register as Approved.")
    @argument("--pending", action="store_true", help="Register as PendingManualApproval (default).")
    @argument("--reject", action="store_true", help="Register as Rejected.")
    @argument("--description", default=None, help="What this version is.")
    @argument("--metrics-from", default=None, metavar="JOB", help="Take the metrics of this job.")
    @backend_option
    @out_option
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_register(self, args: argparse.Namespace) -> PackageRecord:
        """Register a model as a new version of a model package group."""
        chosen = [name for name in ("approve", "pending", "reject") if getattr(args, name)]
        if len(chosen) > 1:
            raise UsageError("Give one of --approve, --pending, --reject.")
        record = self.core.session.register(
            args.model,
            group=args.group,
            approval=chosen[0] if chosen else "pending",
            description=args.description,
            metrics_from=args.metrics_from,
            backend=args.backend,
        )
        print(f"Registered {record.label} ({record.status}) on {record.backend}: {record.arn}")
        return record

    @magic_arguments()
    @argument("group", nargs="?", default=None, help="One group (default: every group).")
    @backend_option
    @out_option
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_models(self, args: argparse.Namespace) -> ModelsTable:
        """List model groups and versions with their approval status and metrics."""
        return self.core.session.models(args.group, backend=args.backend)

    @magic_arguments()
    @argument("version", help="GROUP/VERSION (or a model package ARN).")
    @argument("--note", default=None, help="Why (kept in the approval history).")
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_approve(self, args: argparse.Namespace) -> None:
        """Approve a model version for deployment (recording who and when)."""
        record = self.core.session.approve(args.version, note=args.note)
        print(f"{record.label} is Approved.")

    @magic_arguments()
    @argument("version", help="GROUP/VERSION (or a model package ARN).")
    @argument("--note", default=None, help="Why (kept in the approval history).")
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_reject(self, args: argparse.Namespace) -> None:
        """Reject a model version (it no longer deploys without --force)."""
        record = self.core.session.reject(args.version, note=args.note)
        print(f"{record.label} is Rejected.")

    # -- lineage ----------------------------------------------------------------------------

    @magic_arguments()
    @argument("name", help="An endpoint, a model version (GROUP/VERSION, ARN) or a job.")
    @out_option
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_lineage(self, args: argparse.Namespace) -> LineageView:
        """Show where something came from: endpoint, package, job, inputs, code."""
        return self.core.session.lineage(args.name)
