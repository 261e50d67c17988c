"""The core magics: the configuration and session every magic shares, and ``%%sm_train``.

The other magics are ``Magics`` classes of their own over this one's session: the job
magics (:mod:`sm_magics.job_magics`), serving, processing, tuning and MLOps; the flags of a
training job are listed once in :mod:`sm_magics.training_flags`.

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
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    line_cell_magic,
    magics_class,
    no_var_expand,
)
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Float, Int, List, TraitError, Unicode, default, observe, validate

from sm_magics import config, pricing
from sm_magics.api import Job, Session
from sm_magics.backends import kinds, processing, statuses
from sm_magics.display import widgets_available
from sm_magics.durations import format_duration, parse_duration
from sm_magics.errors import JobFailed, SmMagicsError
from sm_magics.logs import follow_in_background, stream_until_done
from sm_magics.magic_parsing import (
    backend_option,
    bind_out,
    force_option,
    magic_call,
    out_option,
)
from sm_magics.training_flags import training_arguments, training_options

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell


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

    def __init__(self, shell: Any = None, **kwargs: object) -> None:
        # Untyped: IPython infers InteractiveShell.configurables as list[InteractiveShell]
        # (from its first element), and a magics object is one of its configurables.
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
            failure = str(reason) if reason else None
            raise UsageError(str(JobFailed(job.name, statuses.FAILED, failure, label)))


class SessionMagics(Magics):
    """A ``Magics`` class beside :class:`SageMakerMagics`, sharing its config and session.

    Each family of magics lives in its own module; ``core`` is the one
    :class:`SageMakerMagics` they all ask for the session and the settings.
    """

    def __init__(
        self, shell: InteractiveShell | None = None, *, core: SageMakerMagics, **kwargs: object
    ) -> None:
        super().__init__(shell=shell, **kwargs)
        self.core = core


def _summary(job: Job, description: Mapping[str, object]) -> str:
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
    model = kinds.model_uri_of(description)
    outputs = processing.output_uris(description)
    if kinds.status_of(description) != statuses.COMPLETED:
        outputs = {}
    return (
        line
        + (f"\nModel: {model}" if model else "")
        + "".join(f"\nOutput {name}: {uri}" for name, uri in outputs.items())
    )
