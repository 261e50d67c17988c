"""Specs of new jobs and endpoints, built and checked before anything is created.

A spec is what a backend needs to create one resource; building it is where every option
is validated, so a bad option fails here, with one clear message, and nothing is created
or uploaded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sm_magics.api.names import CELL_ENTRY_POINT, generate_job_name, validate_job_name
from sm_magics.backends import base
from sm_magics.durations import parse_duration
from sm_magics.errors import InvalidRequest

if TYPE_CHECKING:
    from sm_magics.api.session import Session

_CHANNEL_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_HP_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,255}$")
_ENV_KEY_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$")  # SageMaker's Environment keys


def keep_alive_seconds(value: str | int | None) -> int | None:
    """Return a warm pool's keep-alive in seconds; SageMaker allows up to an hour."""
    if value is None:
        return None
    seconds = parse_duration(value)
    if seconds > 3600:
        raise InvalidRequest("--keep-alive is at most 1h (SageMaker's warm pool limit).")
    return seconds


def training_spec(session: Session, **kw: Any) -> base.TrainingSpec:
    """Return the spec of a new training job, its options checked; ``session`` gives defaults."""
    script, source_dir, entry_point = kw["script"], kw["source_dir"], kw["entry_point"]
    source = Path(source_dir).expanduser().resolve() if source_dir else None
    if source is not None and not source.is_dir():
        raise InvalidRequest(f"--source-dir {source_dir} is not a folder.")
    if script is not None and not script.strip():
        script = None
    if script is None and entry_point is None:
        raise InvalidRequest(
            "Nothing to run: give the training code as the cell, or --source-dir with "
            "--entry-point."
        )
    if entry_point is not None:
        if script is not None:
            raise InvalidRequest(
                "Give the training code either as the cell or as --entry-point, not both."
            )
        if source is None:
            source = Path.cwd()
        if Path(entry_point).is_absolute() or ".." in Path(entry_point).parts:
            raise InvalidRequest("--entry-point must be a path inside --source-dir.")
        if not (source / entry_point).is_file():
            raise InvalidRequest(f"--entry-point {entry_point} is not a file in {source}.")
    else:
        entry_point = CELL_ENTRY_POINT
        if source is not None and (source / entry_point).exists():
            raise InvalidRequest(
                f"--source-dir {source} already has {entry_point}, which the cell would "
                f"replace: run it with --entry-point {entry_point}, or rename it."
            )
    requirements = Path(kw["requirements"]).expanduser() if kw["requirements"] else None
    if requirements is not None and not requirements.is_file():
        raise InvalidRequest(f"--requirements {kw['requirements']} is not a file.")
    count = int(kw["instance_count"])
    if count < 1:
        raise InvalidRequest("--instance-count must be at least 1.")
    inputs = dict(kw["inputs"] or {})
    for channel in inputs:
        if not _CHANNEL_RE.fullmatch(channel):
            raise InvalidRequest(
                f"Invalid channel name {channel!r}: letters, digits, '.', '_' or '-'."
            )
    hyperparameters = dict(kw["hyperparameters"] or {})
    for key in hyperparameters:
        if not _HP_KEY_RE.fullmatch(key):
            raise InvalidRequest(f"Invalid hyperparameter name {key!r}.")
    environment = {str(k): str(v) for k, v in (kw["environment"] or {}).items()}
    for key, value in environment.items():
        if not _ENV_KEY_RE.fullmatch(key):
            raise InvalidRequest(
                f"Invalid environment variable name {key!r}: letters, digits and '_', "
                "not starting with a digit."
            )
        if "\0" in value:
            raise InvalidRequest(f"--env {key}: the value holds a NUL character.")
    for key, value in hyperparameters.items():
        if "\0" in str(value):
            raise InvalidRequest(f"--hp {key}: the value holds a NUL character.")
    metric_definitions = dict(kw["metric_definitions"] or {})
    for metric, regex in metric_definitions.items():
        try:
            re.compile(regex)
        except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999}, ((((...
            raise InvalidRequest(f"--metric {metric}: bad regex {regex!r} ({exc}).") from None
    name = kw["name"]
    name = validate_job_name(name) if name else generate_job_name(session.job_prefix)
    return base.TrainingSpec(
        name=name,
        entry_point=entry_point,
        script=script,
        source_dir=source,
        hyperparameters=hyperparameters,
        inputs=inputs,
        instance_type=kw["instance_type"] or session.instance_type,
        instance_count=count,
        requirements=requirements,
        image=kw["image"],
        framework=kw["framework"],
        framework_version=kw["framework_version"],
        py_version=kw["py_version"],
        metric_definitions=metric_definitions,
        environment=environment,
        spot=bool(kw["spot"]),
        max_wait=parse_duration(kw["max_wait"]) if kw["max_wait"] else None,
        max_run=parse_duration(kw["max_run"]) if kw["max_run"] else None,
        keep_alive=keep_alive_seconds(kw["keep_alive"]),
        checkpoint_uri=kw["checkpoint_uri"],
        tags=dict(kw["tags"] or {}),
        region=session.region,
        notebook=session.notebook,
    )


def async_spec(
    output: str | None, failure: str | None, max_concurrency: int | None
) -> base.AsyncInferenceSpec | None:
    """Return the asynchronous configuration of ``%sm_deploy --async-output ...``, if any."""
    if output is None:
        if failure is not None or max_concurrency is not None:
            raise InvalidRequest("--async-failure and --async-max-concurrency need --async-output.")
        return None
    if max_concurrency is not None and max_concurrency < 1:
        raise InvalidRequest("--async-max-concurrency must be at least 1.")
    return base.AsyncInferenceSpec(output, failure, max_concurrency)
