"""The job magics: ``%sm_jobs`` ``%sm_logs`` ``%sm_wait`` ``%sm_stop`` ``%sm_cost`` ``%sm_cleanup``.

A ``Magics`` class beside :class:`~sm_magics.magics.SageMakerMagics` (which holds the
configuration, the session and ``%%sm_train``), as the serving, tuning and MLOps magics
are: each magic parses its line and makes one call on the core's session.
"""

from __future__ import annotations

import argparse
import sys

from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.magic import line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments

from sm_magics.api import Job
from sm_magics.backends import kinds, statuses
from sm_magics.cleanup import CleanupReport
from sm_magics.display.costs import CostSummary
from sm_magics.display.jobs import JobTable
from sm_magics.logs import follow_endpoint_logs, stream_until_done
from sm_magics.magic_parsing import backend_option, magic_call, out_option
from sm_magics.magics import SessionMagics


@magics_class
class JobMagics(SessionMagics):
    """List, follow, wait for and stop jobs; what it all costs; clean up what is left.

    Shares :class:`SageMakerMagics`' configuration and session.
    """

    @magic_arguments()
    @argument(
        "--status",
        default=None,
        help="Only jobs with this status (InProgress, Completed, Failed, ...).",
    )
    @backend_option
    @argument(
        "--kind",
        default=None,
        choices=sorted(kinds.KINDS),
        help="Only jobs of this kind (training, processing, transform, ...).",
    )
    @argument("--limit", type=int, default=50, help="At most this many jobs (newest first).")
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_jobs(self, args: argparse.Namespace) -> JobTable:
        """List jobs of every kind: name, kind, backend, status, instance, duration, cost."""
        if args.limit is not None and args.limit < 1:
            raise UsageError("--limit must be at least 1.")
        return self.core.session.jobs(
            status=args.status, backend=args.backend, kind=args.kind, limit=args.limit
        )

    @magic_arguments()
    @argument("job", help="Job or endpoint name.")
    @argument(
        "-f",
        "--follow",
        action="store_true",
        help="Keep printing new lines until the job ends (interrupt to stop following).",
    )
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_logs(self, args: argparse.Namespace) -> None:
        """Print a job's or an endpoint's logs so far, or follow them live with ``-f``."""
        session = self.core.session
        if session.ledger.get_job(args.job) is None:
            record = session.ledger.get_endpoint(args.job)
            if record is not None:
                from sm_magics.endpoint import Endpoint

                endpoint = Endpoint.from_record(session, record)
                if args.follow:
                    follow_endpoint_logs(endpoint, print)
                else:
                    text = endpoint.logs()
                    print(text if text else f"(no log lines yet for {endpoint.name})")
                return
        job = session.job(args.job)
        if not args.follow:
            text = job.logs()
            print(text if text else f"(no log lines yet for {job.name})")
            return
        try:
            stream_until_done(job, print)
        except KeyboardInterrupt:
            print(f"Stopped following {job.name}.")

    @magic_arguments()
    @argument("job", help="Job name.")
    @argument("--timeout", default=None, help="Give up waiting after this long (30m, 2h).")
    @out_option
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_wait(self, args: argparse.Namespace) -> Job:
        """Block until a job ends; return its handle. A failed job raises with its reason."""
        job = self.core.session.job(args.job)
        job.wait(args.timeout, raise_on_failure=True)
        return job

    @magic_arguments()
    @argument("job", help="Job name.")
    @argument("--wait", action="store_true", help="Block until it is Stopped.")
    @out_option
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_stop(self, args: argparse.Namespace) -> Job:
        """Stop a running job (SIGTERM, then SIGKILL after a grace period, locally).

        A job that already ended is left as it is, and the magic says so.
        """
        job = self.core.session.job(args.job)
        status = job.status
        if status in statuses.TERMINAL_STATUSES:
            print(f"Job {job.name} already ended ({status}): nothing to stop.")
            return job
        job.stop()
        if args.wait:
            job.wait()
        return job

    # -- cost control -------------------------------------------------------------------------

    @magic_arguments()
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_cost(self, args: argparse.Namespace) -> CostSummary:
        """Show what runs and bills now (every backend and region), and what it cost.

        Running jobs and endpoints with their cost per hour and so far, then the totals of
        today, this month (UTC) and this notebook. What runs is described first (one call
        per running job or live endpoint, so one that ended or vanished is not counted);
        the totals come from the ledger. Local rows show what they would cost on SageMaker.
        """
        return self.core.session.costs()

    @magic_arguments()
    @argument("--yes", action="store_true", help="Do not ask for confirmation.")
    @argument(
        "--all",
        action="store_true",
        help="Everything this machine started (every notebook), not only this notebook's.",
    )
    @line_magic
    @no_var_expand
    @magic_call()
    def sm_cleanup(self, args: argparse.Namespace) -> CleanupReport:
        """Stop the jobs and delete the endpoints this notebook left running or billing.

        Lists them and asks first unless ``--yes``; with ``--all``, everything started from
        this machine. Endpoints go with their configs and models. A failure on one item
        does not stop the others: the report says what is left and why. Safe to run again.
        """
        from sm_magics import cleanup

        session = self.core.session
        scope = cleanup.scope_name(args.all)
        items = cleanup.find_leftovers(session, all=args.all)
        if not items:
            return CleanupReport([], scope=scope)
        if not args.yes:
            print(repr(CleanupReport(items, scope=scope, done=False)))
            try:
                them = "this one" if len(items) == 1 else f"these {len(items)}"
                answer = input(f"Stop/delete {them}? [y/N] ")
            except (StdinNotImplementedError, EOFError):
                raise UsageError(
                    "Cannot ask for confirmation here; %sm_cleanup"
                    f"{' --all' if args.all else ''} --yes cleans up without asking."
                ) from None
            if answer.strip().lower() not in ("y", "yes"):
                for item in items:
                    item.outcome = cleanup.KEPT
                return CleanupReport(items, scope=scope, done=False)
        report = cleanup.clean(session, items, all=args.all)
        if report.left:
            names = ", ".join(item.name for item in report.left)
            print(
                f"sm-magics: cleanup incomplete, still running or billing: {names} "
                "(reasons in the table).",
                file=sys.stderr,
            )
        return report
