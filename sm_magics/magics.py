"""The ``%sm_*`` magics: argument parsing and display, nothing else.

Each magic's line is parsed by :func:`~sm_magics.magic_parsing.magic_call` (which also
handles ``-o VAR`` and turns the package's errors into one ``UsageError`` line, never a
traceback); the magic makes one call on :mod:`sm_magics.api` and returns the handle or
table it got. No magic blocks
unless ``--wait`` (or ``%sm_logs -f`` / ``%sm_wait``, whose point is to wait).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.magic import (
    Magics,
    line_cell_magic,
    line_magic,
    magics_class,
    no_var_expand,
)
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Float, Int, List, TraitError, Unicode, default, observe, validate

from sm_magics import config, pricing
from sm_magics.api import Job, Session
from sm_magics.api.specs import TRAINING_OPTIONS
from sm_magics.backends import kinds, processing, statuses
from sm_magics.cleanup import CleanupReport
from sm_magics.display import widgets_available
from sm_magics.display.costs import CostSummary
from sm_magics.display.jobs import JobTable
from sm_magics.durations import format_duration, parse_duration
from sm_magics.errors import JobFailed, SmMagicsError
from sm_magics.logs import follow_endpoint_logs, follow_in_background, stream_until_done
from sm_magics.magic_parsing import (
    JsonKeyValues,
    KeyValues,
    backend_option,
    bind_out,
    force_option,
    magic_call,
    options_of,
    out_option,
)

F = TypeVar("F", bound=Callable[..., Any])

_TRAINING_OPTIONS: tuple[Callable[[Any], Any], ...] = (
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


def _with_experiment(tags: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Add ``--experiment`` as the run's ``sm-magics:experiment`` tag."""
    if args.experiment:
        from sm_magics.api.runs import EXPERIMENT_TAG

        if not re.fullmatch(r"[\w.:/=+@ -]{1,128}", args.experiment):
            raise UsageError(
                "--experiment: 1-128 letters, digits, spaces and _.:/=+-@ (a tag value)."
            )
        tags[EXPERIMENT_TAG] = args.experiment
    return tags


@magics_class
class SageMakerMagics(Magics):
    """Train and serve on SageMaker, or locally with the same contract.

    Configure with ``%config SageMakerMagics.<setting> = value``; each setting also has an
    ``SM_MAGICS_*`` environment variable for CI and terminals.
    """

    backend = Unicode(
        help="Where jobs run: 'local' (this machine, no Docker) or 'sagemaker'. "
        "Environment: SM_MAGICS_BACKEND."
    ).tag(config=True)
    instance_type = Unicode(
        help="Default instance type (local jobs record it for cost estimates). "
        "Environment: SM_MAGICS_INSTANCE_TYPE."
    ).tag(config=True)
    region = Unicode(help="AWS region. Environment: SM_MAGICS_REGION, AWS_REGION.").tag(config=True)
    role = Unicode(
        "", help="IAM execution role ARN for SageMaker jobs. Environment: SM_MAGICS_ROLE."
    ).tag(config=True)
    scheduler_role = Unicode(
        "",
        help="Role EventBridge Scheduler assumes to delete an endpoint at its --ttl; default "
        "the execution role. Environment: SM_MAGICS_SCHEDULER_ROLE.",
    ).tag(config=True)
    bucket = Unicode(
        "",
        help="S3 bucket for code and data; default sagemaker-<region>-<account>. "
        "Environment: SM_MAGICS_BUCKET.",
    ).tag(config=True)
    job_prefix = Unicode("sm-train", help="Prefix of generated job names.").tag(config=True)
    image = Unicode("", help="Default training image URI (sagemaker backend).").tag(config=True)
    framework = Unicode(
        "", help="Default framework container, e.g. 'sklearn' or 'pytorch' (sagemaker backend)."
    ).tag(config=True)
    framework_version = Unicode("", help="Default framework version, e.g. '1.2-1'.").tag(
        config=True
    )
    py_version = Unicode("", help="Default Python of the framework image, e.g. 'py3'.").tag(
        config=True
    )
    subnets = List(Unicode(), help="VPC subnets for SageMaker jobs.").tag(config=True)
    security_group_ids = List(Unicode(), help="VPC security groups for SageMaker jobs.").tag(
        config=True
    )
    max_local_jobs = Int(
        help="How many local jobs train at once; the rest wait in 'Starting'. "
        "Environment: SM_MAGICS_MAX_LOCAL_JOBS."
    ).tag(config=True)

    max_hourly_cost = Float(
        help="Budget guard, USD per hour: %%sm_train and %sm_deploy refuse (before creating "
        "anything) a job or endpoint that would take the backend's billing over this; "
        "--force goes ahead. 0 turns it off. Environment: SM_MAGICS_MAX_HOURLY_COST."
    ).tag(config=True)
    mlflow_tracking_uri = Unicode(
        "",
        help="Also log every run that ended to this MLflow tracking server (file:..., "
        "http(s)://..., or a SageMaker managed MLflow ARN with the sagemaker-mlflow plug-in). "
        "Environment: SM_MAGICS_MLFLOW_TRACKING_URI.",
    ).tag(config=True)
    default_ttl = Unicode(
        help="TTL of every new endpoint deployed without --ttl, e.g. '2h' ('' for none): "
        "a forgotten endpoint deletes itself. Environment: SM_MAGICS_DEFAULT_TTL."
    ).tag(config=True)

    @default("max_hourly_cost")
    def _default_max_hourly_cost(self) -> float:
        return config.max_hourly_cost()

    @default("default_ttl")
    def _default_default_ttl(self) -> str:
        return config.default_ttl()

    @validate("max_hourly_cost")
    def _valid_max_hourly_cost(self, proposal: Mapping[str, float]) -> float:
        value = float(proposal["value"])
        if not math.isfinite(value) or value < 0:
            raise TraitError("max_hourly_cost is USD per hour: a number >= 0 (0 turns it off).")
        return value

    @validate("default_ttl")
    def _valid_default_ttl(self, proposal: Mapping[str, str]) -> str:
        value = str(proposal["value"]).strip()
        if value:
            try:
                parse_duration(value)
            except SmMagicsError as exc:
                raise TraitError(f"default_ttl: {exc}") from None
        return value

    @default("backend")
    def _default_backend(self) -> str:
        return config.default_backend()

    @default("instance_type")
    def _default_instance_type(self) -> str:
        return config.default_instance_type()

    @default("region")
    def _default_region(self) -> str:
        return config.default_region()

    @default("role")
    def _default_role(self) -> str:
        return os.environ.get(config.ENV_ROLE, "")

    @default("bucket")
    def _default_bucket(self) -> str:
        return os.environ.get(config.ENV_BUCKET, "")

    @default("max_local_jobs")
    def _default_max_local_jobs(self) -> int:
        return config.max_local_jobs()

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._session: Session | None = None
        if shell is not None and self not in shell.configurables:
            shell.configurables.append(self)

    @observe(
        "backend",
        "instance_type",
        "region",
        "role",
        "scheduler_role",
        "bucket",
        "job_prefix",
        "subnets",
        "security_group_ids",
        "max_hourly_cost",
        "default_ttl",
        "mlflow_tracking_uri",
    )
    def _settings_changed(self, _change: Mapping[str, object]) -> None:
        self._session = None  # the next magic builds a session with the new settings

    @observe("max_local_jobs")
    def _max_local_jobs_changed(self, change: Mapping[str, object]) -> None:
        # Supervisors read the limit from their environment, inherited from this kernel.
        os.environ[config.ENV_MAX_LOCAL_JOBS] = str(change["new"])

    @property
    def session(self) -> Session:
        """The :class:`~sm_magics.api.Session` built from the current settings."""
        if self._session is None:
            options: dict[str, Any] = {}
            if self.role:
                options["role"] = self.role
            if self.scheduler_role:
                options["scheduler_role"] = self.scheduler_role
            if self.bucket:
                options["bucket"] = self.bucket
            if self.subnets:
                options["subnets"] = list(self.subnets)
            if self.security_group_ids:
                options["security_group_ids"] = list(self.security_group_ids)
            self._session = Session(
                self.backend,
                region=self.region or None,
                instance_type=self.instance_type or None,
                notebook=self._notebook_path(),
                job_prefix=self.job_prefix,
                max_hourly_cost=self.max_hourly_cost,
                default_ttl=self.default_ttl,
                mlflow_tracking_uri=self.mlflow_tracking_uri or None,
                **options,
            )
        return self._session

    def _notebook_path(self) -> str | None:
        namespace = getattr(self.shell, "user_ns", {}) or {}
        path = namespace.get("__session__") or os.environ.get("JPY_SESSION_NAME")
        return str(path) if path else None

    # -- training ---------------------------------------------------------------------------

    @magic_arguments()
    @argument("name", nargs="?", default=None, help="Job name; generated when left out.")
    @backend_option
    @training_options
    @argument(
        "--wait",
        action="store_true",
        help="Block and stream the logs as plain text (CI, nbval, terminals).",
    )
    @force_option
    @out_option
    @line_cell_magic
    @no_var_expand
    @magic_call()
    def sm_train(self, args: argparse.Namespace, cell: str | None = None) -> Job | None:
        """Run the cell (or an existing script) as a training job; return its handle at once.

        The cell is the training script: SageMaker's script mode, so it reads its
        hyperparameters from ``--key value`` arguments or ``SM_HP_*``, its data from
        ``SM_CHANNEL_<NAME>`` and writes the model to ``SM_MODEL_DIR``.

        Examples
        --------
        ::

            In [1]: %%sm_train --input train=data/ --hp n_estimators=50
               ...: import argparse, os, joblib
               ...: ...

            In [2]: %sm_train --source-dir scripts/ --entry-point train.py --wait
        """
        if cell is None and args.entry_point is None:
            raise UsageError(
                "%sm_train on one line runs an existing script: give --source-dir DIR "
                "--entry-point FILE, or use %%sm_train with the code in the cell."
            )
        session = self.session
        job = session.train(
            cell,
            name=args.name,
            backend=args.backend,
            force=args.force,
            **training_arguments(self, args),
        )
        bind_out(self.shell, args.out, job)  # before --wait: a failed wait keeps the handle
        for note in job.notes:
            print(note)
        if args.wait:
            self.wait_streaming(job)
        elif not widgets_available():
            # A terminal: no widget to update, and no cells for stray output to land in, so
            # the lines stream in the background, prefixed with the job's name.
            follow_in_background(job, print)
        return job

    def wait_streaming(self, job: Job) -> None:
        """Stream a job's logs in this cell until it ends; raise if it failed."""
        label = kinds.get(job.kind).label
        print(f"{label} job {job.name} on {job.backend_name}: waiting (logs follow).")
        try:
            final = stream_until_done(job, print)
        except KeyboardInterrupt:
            print(f"Stopped waiting; {job.name} goes on. %sm_stop {job.name} stops it.")
            return
        print(_summary(job, final))
        if kinds.status_of(final) == statuses.FAILED:
            reason = final.get("FailureReason")
            raise UsageError(str(JobFailed(job.name, statuses.FAILED, reason, label)))

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
        return self.session.jobs(
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
        session = self.session
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
        job = self.session.job(args.job)
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
        job = self.session.job(args.job)
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
        return self.session.costs()

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

        session = self.session
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


def _summary(job: Job, description: dict[str, Any]) -> str:
    """One line after a waited job: status, training time, cost."""
    row = job.row() if description else None
    if row is None:
        return f"{job.name}: unknown"
    cost = pricing.format_usd(row.cost)
    where = " on SageMaker" if job.backend_name == "local" else ""
    verb = "would cost" if job.backend_name == "local" else "cost"
    line = (
        f"{job.name}: {row.status} ({row.secondary_status}), "
        f"{'training' if job.kind == 'training' else 'run'} time "
        f"{format_duration(row.duration)}, {verb} {cost}{where} on {row.instance}."
    )
    model = description.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    outputs = processing.output_uris(description)
    if kinds.status_of(description) != statuses.COMPLETED:
        outputs = {}
    return (
        line
        + (f"\nModel: {model}" if model else "")
        + "".join(f"\nOutput {name}: {uri}" for name, uri in outputs.items())
    )
