"""``Session.process``: processing jobs (data preparation, evaluation) as a job kind.

A processing job takes the path every job takes: its spec (built and checked by
:func:`~sm_magics.api.specs.processing_spec`), the budget guard, the backend's
``create_processing_job``, and a :class:`~sm_magics.api.job.Job` handle of kind
``processing`` (whose ``outputs`` name where each output lands).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sm_magics import costs
from sm_magics.api import specs
from sm_magics.api.job import Job
from sm_magics.backends import kinds

if TYPE_CHECKING:
    from sm_magics.api.session import Session


def process(
    self: Session,
    script: str | None = None,
    *,
    name: str | None = None,
    backend: str | None = None,
    inputs: specs.InputsArg = None,
    outputs: specs.OutputsArg = None,
    arguments: Sequence[str] | None = None,
    shard: Sequence[str] = (),
    source_dir: str | Path | None = None,
    entry_point: str | None = None,
    instance_type: str | None = None,
    instance_count: int = 1,
    requirements: str | Path | None = None,
    image: str | None = None,
    framework: str | None = None,
    framework_version: str | None = None,
    py_version: str | None = None,
    environment: dict[str, str] | None = None,
    max_run: str | int | None = None,
    tags: dict[str, str] | None = None,
    force: bool = False,
) -> Job:
    """Start a processing job (data preparation, evaluation) and return its handle at once.

    ``inputs`` maps each source (a local path, ``file://`` or ``s3://``) to its folder
    in the container (``input/raw`` is ``/opt/ml/processing/input/raw``), or lists
    ``"SRC=DEST"`` strings; ``shard`` names the inputs split across hosts
    (``ShardedByS3Key``). ``outputs`` maps each output's name to its container folder,
    ``"SRC"`` or ``"SRC=>URI"``; ``job.outputs.NAME`` is where it lands. ``arguments``
    are the script's command line. The code is ``script`` (it becomes ``process.py``)
    or ``entry_point`` inside ``source_dir``.

    Raises
    ------
    InvalidRequest
        Anything malformed; nothing is created.
    AlreadyExists
        ``name`` is taken.
    BudgetExceeded
        The job would take billing over ``max_hourly_cost`` (``force`` skips the guard).
    """
    spec = specs.processing_spec(
        self,
        script=script,
        name=name,
        inputs=inputs,
        outputs=outputs,
        arguments=arguments,
        shard=shard,
        source_dir=source_dir,
        entry_point=entry_point,
        instance_type=instance_type,
        instance_count=instance_count,
        requirements=requirements,
        image=image,
        framework=framework,
        framework_version=framework_version,
        py_version=py_version,
        environment=environment,
        max_run=max_run,
        tags=tags,
    )
    backend_name = backend or self.backend_name
    if not force:
        self.check_budget(
            f"processing job {spec.name}",
            costs.rate_for(
                kinds.PROCESSING.name, spec.instance_type, spec.instance_count, spec.region
            ).per_hour,
            backend_name,
            unpriced=[spec.instance_type],
        )
    target = self.backend(backend)
    self._create(target.create_processing_job, spec, generated=name is None)
    job = Job(self, spec.name, target.name, kind=kinds.PROCESSING.name)
    notes = getattr(target, "notes_for_processing", None)
    job.notes = notes(spec) if notes is not None else []
    return job
