"""Specs of new jobs and endpoints, built and checked before anything is created.

A spec is what a backend needs to create one resource; building it is where every option
is validated, so a bad option fails here, with one clear message, and nothing is created
or uploaded.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sm_magics import limits
from sm_magics.api.names import (
    CELL_ENTRY_POINT,
    DEFAULT_JOB_PREFIX,
    generate_job_name,
    validate_job_name,
)
from sm_magics.backends import kinds, processing
from sm_magics.backends.specs import AsyncInferenceSpec, TrainingSpec, TransformSpec, VariantSpec
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


def code_of(
    script: str | None,
    source_dir: str | Path | None,
    entry_point: str | None,
    *,
    what: str,
    cell_entry_point: str,
) -> tuple[str | None, Path | None, str]:
    """Return ``(script, source folder, entry point)`` of a job's code, checked.

    The code is the cell (``script``, written as ``cell_entry_point`` next to the files of
    ``source_dir``) or the file ``entry_point`` inside ``source_dir`` (default: the
    working directory), run unchanged. ``what`` names the code in messages ("training").
    """
    source = Path(source_dir).expanduser().resolve() if source_dir else None
    if source is not None and not source.is_dir():
        raise InvalidRequest(f"--source-dir {source_dir} is not a folder.")
    if script is not None and not script.strip():
        script = None
    if script is None and entry_point is None:
        raise InvalidRequest(
            f"Nothing to run: give the {what} code as the cell, or --source-dir with --entry-point."
        )
    if entry_point is not None:
        if script is not None:
            raise InvalidRequest(
                f"Give the {what} code either as the cell or as --entry-point, not both."
            )
        if source is None:
            source = Path.cwd()
        if Path(entry_point).is_absolute() or ".." in Path(entry_point).parts:
            raise InvalidRequest("--entry-point must be a path inside --source-dir.")
        if not (source / entry_point).is_file():
            raise InvalidRequest(f"--entry-point {entry_point} is not a file in {source}.")
        return script, source, entry_point
    if source is not None and (source / cell_entry_point).exists():
        raise InvalidRequest(
            f"--source-dir {source} already has {cell_entry_point}, which the cell would "
            f"replace: run it with --entry-point {cell_entry_point}, or rename it."
        )
    return script, source, cell_entry_point


#: The options of a training job: the fields of :class:`~sm_magics.backends.specs.TrainingSpec`
#: but the code (the cell) and what the session fills in. ``%%sm_train``'s parser names its
#: arguments after them, and ``Session.train`` takes them as keywords: listed nowhere else.
TRAINING_OPTIONS = tuple(
    f.name
    for f in dataclasses.fields(TrainingSpec)
    if f.name not in ("script", "region", "notebook")
)


def training_spec(session: Session, script: str | None = None, **options: Any) -> TrainingSpec:
    """Return the spec of a new training job: the one place its options are checked.

    ``options`` are :data:`TRAINING_OPTIONS` (``None`` means the default), as users give
    them: paths as text, durations as ``"2h"`` or seconds. ``session`` gives the defaults
    (instance type, region, notebook, name prefix).

    Raises
    ------
    InvalidRequest
        An unknown option, or anything malformed; nothing is created.
    """
    unknown = sorted(set(options) - set(TRAINING_OPTIONS))
    if unknown:
        raise InvalidRequest(
            f"Unknown training option {', '.join(unknown)}; the options are: "
            f"{', '.join(TRAINING_OPTIONS)}."
        )
    given: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    script, source, entry_point = code_of(
        script,
        given.get("source_dir"),
        given.get("entry_point"),
        what="training",
        cell_entry_point=CELL_ENTRY_POINT,
    )
    requirements = Path(given["requirements"]).expanduser() if given.get("requirements") else None
    if requirements is not None and not requirements.is_file():
        raise InvalidRequest(f"--requirements {given['requirements']} is not a file.")
    count = limits.check_instance_count(given.get("instance_count", 1))
    inputs = {str(k): str(v) for k, v in dict(given.get("inputs") or {}).items()}
    for channel in inputs:
        if not _CHANNEL_RE.fullmatch(channel):
            raise InvalidRequest(
                f"Invalid channel name {channel!r}: letters, digits, '.', '_' or '-'."
            )
    hyperparameters = dict(given.get("hyperparameters") or {})
    for key, value in hyperparameters.items():
        if not _HP_KEY_RE.fullmatch(key):
            raise InvalidRequest(f"Invalid hyperparameter name {key!r}.")
        if "\0" in str(value):
            raise InvalidRequest(f"--hp {key}: the value holds a NUL character.")
    environment = {str(k): str(v) for k, v in dict(given.get("environment") or {}).items()}
    for key, value in environment.items():
        if not _ENV_KEY_RE.fullmatch(key):
            raise InvalidRequest(
                f"Invalid environment variable name {key!r}: letters, digits and '_', "
                "not starting with a digit."
            )
        if "\0" in value:
            raise InvalidRequest(f"--env {key}: the value holds a NUL character.")
    metric_definitions = {
        str(k): str(v) for k, v in dict(given.get("metric_definitions") or {}).items()
    }
    for metric, regex in metric_definitions.items():
        try:
            re.compile(regex)
        except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999}, ((((...
            raise InvalidRequest(f"--metric {metric}: bad regex {regex!r} ({exc}).") from None
    name = given.get("name")
    checked: dict[str, Any] = {
        "name": validate_job_name(name) if name else generate_job_name(session.job_prefix),
        "entry_point": entry_point,
        "source_dir": source,
        "requirements": requirements,
        "instance_type": given.get("instance_type") or session.instance_type,
        "instance_count": count,
        "inputs": inputs,
        "hyperparameters": hyperparameters,
        "environment": environment,
        "metric_definitions": metric_definitions,
        "spot": bool(given.get("spot")),
        "max_wait": parse_duration(given["max_wait"]) if given.get("max_wait") else None,
        "max_run": parse_duration(given["max_run"]) if given.get("max_run") else None,
        "keep_alive": keep_alive_seconds(given.get("keep_alive")),
        "tags": {str(k): str(v) for k, v in dict(given.get("tags") or {}).items()},
    }
    # The rest (image, framework, ..., checkpoint_uri) are text, passed as given.
    return TrainingSpec(
        **{**given, **checked}, script=script, region=session.region, notebook=session.notebook
    )


def transform_spec(
    session: Session,
    model_data: str,
    source_job: str | None,
    *,
    input: str,  # the flag users type
    output: str,
    name: str | None = None,
    instance_type: str | None = None,
    instance_count: int = 1,
    content_type: str = "text/csv",
    accept: str | None = None,
    split_type: str = "Line",
    entry_point: str | Path | None = None,
    tags: dict[str, str] | None = None,
) -> TransformSpec:
    """Return the spec of a new batch transform job: the one place its options are checked.

    ``model_data`` and ``source_job`` are the resolved model (``api.deploy.resolve_model``);
    the keywords are :data:`TRANSFORM_OPTIONS`, as ``%sm_batch`` names its arguments.

    Raises
    ------
    InvalidRequest
        Anything malformed; nothing is created.
    """
    entry = Path(entry_point).expanduser() if entry_point else None
    if entry is not None and not entry.is_file():
        raise InvalidRequest(f"--entry-point {entry_point} does not exist.")
    instance_count = limits.check_instance_count(instance_count)
    if split_type not in ("Line", "None"):
        raise InvalidRequest("--split-type is Line (a record per line) or None (per file).")
    if not input.strip() or not output.strip():
        raise InvalidRequest("--input and --output name a file or folder each.")
    if accept is None and content_type.split(";")[0].strip() == "text/csv":
        accept = "text/csv"  # CSV records in, one CSV line out per record
    return TransformSpec(
        name=validate_job_name(name) if name else generate_job_name("sm-batch"),
        model=VariantSpec(
            model_data=model_data,
            job=source_job,
            entry_point=entry,
            instance_type=instance_type or session.instance_type,
            instance_count=int(instance_count),
        ),
        input_uri=input,
        output_uri=output,
        content_type=content_type,
        accept=accept,
        split_type=split_type,
        tags=dict(tags or {}),
        region=session.region,
        notebook=session.notebook,
    )


#: The options of a batch transform job (``%sm_batch``'s arguments are named after them).
TRANSFORM_OPTIONS = tuple(
    name
    for name, parameter in inspect.signature(transform_spec).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
)


def async_spec(
    output: str | None, failure: str | None, max_concurrency: int | None
) -> AsyncInferenceSpec | None:
    """Return the asynchronous configuration of ``%sm_deploy --async-output ...``, if any."""
    if output is None:
        if failure is not None or max_concurrency is not None:
            raise InvalidRequest("--async-failure and --async-max-concurrency need --async-output.")
        return None
    if max_concurrency is not None and max_concurrency < 1:
        raise InvalidRequest("--async-max-concurrency must be at least 1.")
    return AsyncInferenceSpec(output, failure, max_concurrency)


# -- processing -------------------------------------------------------------------------------

InputsArg = Mapping[str, str] | Sequence[str | processing.ProcessingInput] | None
OutputsArg = Mapping[str, str] | Sequence[str | processing.ProcessingOutput] | None


def parse_processing_input(text: str, shard: Sequence[str] = ()) -> processing.ProcessingInput:
    """Read ``SRC=DEST`` (``--input``): a source URI or path, a container destination.

    The input is named after the destination's last folder (``input/raw`` → ``raw``); it
    is ``ShardedByS3Key`` when its name or destination is in ``shard``.
    """
    source, sep, destination = text.rpartition("=")
    if not sep or not source.strip() or not destination.strip():
        raise InvalidRequest(
            f"--input {text!r}: expected SRC=DEST, e.g. data/raw.csv=input/raw "
            "(DEST under /opt/ml/processing, or relative to it)."
        )
    full = processing.container_path(destination, f"--input {text}")
    name = processing.input_name_for(full)
    sharded = name in shard or full in {processing.container_path(d, "--shard") for d in shard}
    distribution = processing.SHARDED_BY_S3_KEY if sharded else processing.FULLY_REPLICATED
    return processing.ProcessingInput(name, source.strip(), full, distribution)


def parse_processing_output(text: str) -> processing.ProcessingOutput:
    """Read ``NAME=SRC[=>URI]`` (``--output``): a name, a container folder, a destination."""
    head, arrow, uri = text.partition("=>")
    name, sep, source = head.partition("=")
    if not sep or not name.strip() or not source.strip() or (arrow and not uri.strip()):
        raise InvalidRequest(
            f"--output {text!r}: expected NAME=SRC or NAME=SRC=>URI, e.g. "
            "train=output/train or train=output/train=>s3://bucket/prefix."
        )
    return processing.ProcessingOutput(name.strip(), source.strip(), uri.strip() or None)


def _processing_inputs(inputs: InputsArg, shard: Sequence[str]) -> list[processing.ProcessingInput]:
    if inputs is None:
        return []
    if isinstance(inputs, Mapping):
        return [parse_processing_input(f"{src}={dest}", shard) for src, dest in inputs.items()]
    return [
        item
        if isinstance(item, processing.ProcessingInput)
        else parse_processing_input(item, shard)
        for item in inputs
    ]


def _processing_outputs(outputs: OutputsArg) -> list[processing.ProcessingOutput]:
    if outputs is None:
        return []
    if isinstance(outputs, Mapping):
        return [parse_processing_output(f"{name}={src}") for name, src in outputs.items()]
    return [
        item if isinstance(item, processing.ProcessingOutput) else parse_processing_output(item)
        for item in outputs
    ]


def processing_spec(session: Session, **kw: Any) -> processing.ProcessingSpec:
    """Return the spec of a new processing job, its options checked; defaults from ``session``.

    The code is checked as a training job's (:func:`code_of`, the cell becoming
    ``process.py``); the rest by :meth:`ProcessingSpec.create`, the one validating
    constructor both backends trust.
    """
    script, source, entry_point = code_of(
        kw.get("script"),
        kw.get("source_dir"),
        kw.get("entry_point"),
        what="processing",
        cell_entry_point=processing.DEFAULT_ENTRY_POINT,
    )
    shard = list(kw.get("shard") or ())
    inputs = _processing_inputs(kw.get("inputs"), shard)
    known = {i.name for i in inputs} | {i.destination for i in inputs}
    unknown = [
        s for s in shard if s not in known and processing.container_path(s, "--shard") not in known
    ]
    if unknown:
        raise InvalidRequest(f"--shard {', '.join(unknown)}: no --input of that name or path.")
    requirements = Path(kw["requirements"]).expanduser() if kw.get("requirements") else None
    if requirements is not None and not requirements.is_file():
        raise InvalidRequest(f"--requirements {kw['requirements']} is not a file.")
    name = kw.get("name")
    prefix = session.job_prefix
    if prefix == DEFAULT_JOB_PREFIX:  # the training default: processing jobs get their own
        prefix = kinds.PROCESSING.name_prefix
    max_run = kw.get("max_run")
    return processing.ProcessingSpec.create(
        name=validate_job_name(name) if name else generate_job_name(prefix),
        entry_point=entry_point,
        script=script,
        source_dir=source,
        inputs=inputs,
        outputs=_processing_outputs(kw.get("outputs")),
        arguments=[str(a) for a in kw.get("arguments") or ()],
        environment=kw.get("environment"),
        instance_type=kw.get("instance_type") or session.instance_type,
        instance_count=int(kw.get("instance_count") or 1),
        requirements=requirements,
        image=kw.get("image"),
        framework=kw.get("framework"),
        framework_version=kw.get("framework_version"),
        py_version=kw.get("py_version"),
        max_run=parse_duration(max_run) if max_run else None,
        tags=kw.get("tags"),
        region=session.region,
        notebook=session.notebook,
    )
