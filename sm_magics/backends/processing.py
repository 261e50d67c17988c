"""The processing job contract, shared by both backends: spec, container paths, sharding.

A SageMaker processing job runs one script in a container on N instances. Its inputs are
copied to paths the job names under ``/opt/ml/processing/`` before the script starts, and
its outputs are collected from paths under ``/opt/ml/processing/`` after it ends and
stored at URIs the next step can read (``s3://`` on SageMaker, ``file://`` locally). This
module holds what both backends must agree on, with no I/O:

* :class:`ProcessingSpec` (with :class:`ProcessingInput`, :class:`ProcessingOutput`): the
  validated request, built once by :meth:`ProcessingSpec.create`;
* :func:`container_path`: the rules for ``LocalPath`` values (absolute under
  ``/opt/ml/processing``; a relative one is taken under it);
* :func:`shard`: how ``S3DataDistributionType=ShardedByS3Key`` splits an input's files
  across hosts (every file to exactly one host, as SageMaker does);
* :func:`job_config`: ``/opt/ml/config/processingjobconfig.json``, what the container can
  read about its own job.

The user's code is shipped as one more input, ``code``, at :data:`CODE_DESTINATION`, as
the SageMaker SDK's script processors do.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict, TypeVar, cast

from sm_magics import limits
from sm_magics.errors import InvalidRequest

if TYPE_CHECKING:
    from sm_magics.ledger_records import ProcessingRowSpec

#: Where processing inputs and outputs live inside the container.
PROCESSING_ROOT = "/opt/ml/processing"
#: The input that carries the job's code (the SDK's ``ScriptProcessor`` convention).
CODE_INPUT = "code"
CODE_DESTINATION = f"{PROCESSING_ROOT}/input/code"
#: Where SageMaker writes the job's own description for the container.
CONFIG_ROOT = "/opt/ml/config"
FULLY_REPLICATED = "FullyReplicated"
SHARDED_BY_S3_KEY = "ShardedByS3Key"
DISTRIBUTIONS = (FULLY_REPLICATED, SHARDED_BY_S3_KEY)
#: ``CreateProcessingJob`` accepts at most ten of each; the code input counts as one.
MAX_INPUTS = 10
MAX_OUTPUTS = 10
#: ``ContainerArguments``: at most 100 items of at most 256 characters each.
MAX_ARGUMENTS = 100
MAX_ARGUMENT_LENGTH = 256
MAX_LOCAL_PATH = 256
DEFAULT_JOB_PREFIX = "sm-process"
DEFAULT_ENTRY_POINT = "process.py"
#: The statuses of ``DescribeProcessingJob`` (there is no secondary status).
STATUS_KEY = "ProcessingJobStatus"

_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ENV_KEY_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$")


def container_path(path: str, what: str) -> str:
    """Return ``path`` as an absolute, normalised path under :data:`PROCESSING_ROOT`.

    ``input/raw`` means ``/opt/ml/processing/input/raw``; an absolute path must already be
    under the root (SageMaker refuses any other ``LocalPath``).

    Raises
    ------
    InvalidRequest
        A path outside the root, the root itself, ``..`` escaping it, or longer than
        SageMaker's 256 characters.
    """
    text = path.strip()
    if not text:
        raise InvalidRequest(f"{what}: the path inside the container is empty.")
    full = text if text.startswith("/") else f"{PROCESSING_ROOT}/{text}"
    normal = posixpath.normpath(full)
    if not normal.startswith(PROCESSING_ROOT + "/"):
        raise InvalidRequest(
            f"{what}: {path!r} must be a path under {PROCESSING_ROOT}/ (or relative to it, "
            "like input/raw), as SageMaker requires."
        )
    if len(normal) > MAX_LOCAL_PATH:
        raise InvalidRequest(f"{what}: {normal!r} is longer than {MAX_LOCAL_PATH} characters.")
    return normal


def relative_to_root(path: str) -> PurePosixPath:
    """Return a container path under :data:`PROCESSING_ROOT` relative to that root."""
    return PurePosixPath(path).relative_to(PROCESSING_ROOT)


@dataclass(frozen=True)
class ProcessingInput:
    """One input: ``source`` (a URI or local path) copied to ``destination`` in the container.

    ``distribution`` is :data:`FULLY_REPLICATED` (every host gets every file) or
    :data:`SHARDED_BY_S3_KEY` (each file goes to one host, see :func:`shard`).
    """

    name: str
    source: str
    destination: str
    distribution: str = FULLY_REPLICATED

    def to_json(self) -> dict[str, str]:
        """Return the input as JSON-safe data."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class ProcessingOutput:
    """One output: the container folder ``source``, stored after the job at ``destination``.

    ``destination`` ``None`` means the backend's default for the job
    (``<artifacts>/<job>/output/<name>/``), fixed when the job is created.
    """

    name: str
    source: str
    destination: str | None = None

    def to_json(self) -> dict[str, str | None]:
        """Return the output as JSON-safe data."""
        return dict(self.__dict__)


_T = TypeVar("_T")


def _unique(items: Iterable[_T], key: str, what: str) -> list[_T]:
    seen: set[str] = set()
    result = list(items)
    for item in result:
        value = str(getattr(item, key))
        if value in seen:
            raise InvalidRequest(f"Two {what} share {key} {value!r}; each must be unique.")
        seen.add(value)
    return result


def input_name_for(destination: str) -> str:
    """Return the name an input gets from its destination: the last path component."""
    name = PurePosixPath(destination).name or "input"
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)[:64]


@dataclass
class ProcessingSpec:
    """Everything a backend needs to create one processing job, already validated.

    The code is ``script`` (a ``%%sm_process`` cell, written as ``entry_point``) or the file
    ``entry_point`` inside ``source_dir``. ``arguments`` are the script's command line
    (SageMaker's ``ContainerArguments``). Build it with :meth:`create`, which checks
    everything that can be checked without a backend.
    """

    #: The ledger's ``kind`` and the :mod:`~sm_magics.backends.kinds` key of this spec.
    kind: ClassVar[str] = "processing"

    name: str
    entry_point: str
    script: str | None = None
    source_dir: Path | None = None
    inputs: list[ProcessingInput] = field(default_factory=list)
    outputs: list[ProcessingOutput] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    requirements: Path | None = None
    image: str | None = None
    framework: str | None = None
    framework_version: str | None = None
    py_version: str | None = None
    max_run: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    notebook: str | None = None

    @classmethod
    def create(
        cls,
        *,
        name: str,
        entry_point: str,
        script: str | None = None,
        source_dir: Path | None = None,
        inputs: Sequence[ProcessingInput] = (),
        outputs: Sequence[ProcessingOutput] = (),
        arguments: Sequence[str] = (),
        environment: Mapping[str, str] | None = None,
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        requirements: Path | None = None,
        image: str | None = None,
        framework: str | None = None,
        framework_version: str | None = None,
        py_version: str | None = None,
        max_run: int | None = None,
        tags: Mapping[str, str] | None = None,
        region: str | None = None,
        notebook: str | None = None,
    ) -> ProcessingSpec:
        """Return a checked spec; the one place a processing request is validated.

        Paths in the container are normalised (:func:`container_path`); names, counts,
        argument lengths and environment keys are held to SageMaker's limits, so a
        request the local backend accepts is one ``CreateProcessingJob`` accepts too.

        Raises
        ------
        InvalidRequest
            Anything SageMaker would refuse, or two inputs/outputs that would collide.
        """
        checked_inputs = []
        for item in inputs:
            if not _NAME_RE.fullmatch(item.name) or item.name == CODE_INPUT:
                raise InvalidRequest(
                    f"Invalid input name {item.name!r}: letters, digits, '.', '_' or '-' "
                    f"(and not {CODE_INPUT!r}, which carries the code)."
                )
            if item.distribution not in DISTRIBUTIONS:
                raise InvalidRequest(
                    f"Input {item.name}: distribution must be one of {', '.join(DISTRIBUTIONS)}."
                )
            if not item.source.strip():
                raise InvalidRequest(f"Input {item.name}: the source is empty.")
            destination = container_path(item.destination, f"--input {item.source}")
            if destination == CODE_DESTINATION or destination.startswith(CODE_DESTINATION + "/"):
                raise InvalidRequest(f"--input {item.source}: {CODE_DESTINATION} holds the code.")
            checked_inputs.append(
                ProcessingInput(item.name, item.source.strip(), destination, item.distribution)
            )
        _unique(checked_inputs, "name", "inputs")
        _unique(checked_inputs, "destination", "inputs")
        if len(checked_inputs) > MAX_INPUTS - 1:
            raise InvalidRequest(
                f"At most {MAX_INPUTS - 1} inputs (SageMaker allows {MAX_INPUTS}, and the "
                "code is one)."
            )
        checked_outputs = []
        for out in outputs:
            if not _NAME_RE.fullmatch(out.name):
                raise InvalidRequest(
                    f"Invalid output name {out.name!r}: letters, digits, '.', '_' or '-'."
                )
            source = container_path(out.source, f"--output {out.name}")
            checked_outputs.append(ProcessingOutput(out.name, source, out.destination or None))
        _unique(checked_outputs, "name", "outputs")
        _unique(checked_outputs, "source", "outputs")
        if len(checked_outputs) > MAX_OUTPUTS:
            raise InvalidRequest(f"At most {MAX_OUTPUTS} outputs (SageMaker's limit).")
        for out in checked_outputs:
            for item in checked_inputs:
                if _overlaps(out.source, item.destination):
                    raise InvalidRequest(
                        f"Output {out.name} ({out.source}) overlaps input {item.name} "
                        f"({item.destination}): the job would store its own inputs."
                    )
        args = [str(a) for a in arguments]
        if len(args) > MAX_ARGUMENTS:
            raise InvalidRequest(f"At most {MAX_ARGUMENTS} --arg values (SageMaker's limit).")
        for arg in args:
            if len(arg) > MAX_ARGUMENT_LENGTH or "\0" in arg:
                raise InvalidRequest(
                    f"--arg {arg[:40]!r}...: at most {MAX_ARGUMENT_LENGTH} characters, no NUL."
                )
        env = {str(k): str(v) for k, v in (environment or {}).items()}
        for key, value in env.items():
            if not _ENV_KEY_RE.fullmatch(key):
                raise InvalidRequest(
                    f"Invalid environment variable name {key!r}: letters, digits and '_', "
                    "not starting with a digit."
                )
            if "\0" in value:
                raise InvalidRequest(f"--env {key}: the value holds a NUL character.")
        instance_count = limits.check_instance_count(instance_count)
        if max_run is not None and not 1 <= max_run <= 777_600:
            raise InvalidRequest("--max-run must be between 1 second and 9 days (SageMaker).")
        if script is None and (source_dir is None or not entry_point):
            raise InvalidRequest(
                "Nothing to run: give the script as the cell, or --source-dir with --entry-point."
            )
        return cls(
            name=name,
            entry_point=entry_point,
            script=script,
            source_dir=source_dir,
            inputs=checked_inputs,
            outputs=checked_outputs,
            arguments=args,
            environment=env,
            instance_type=instance_type,
            instance_count=int(instance_count),
            requirements=requirements,
            image=image,
            framework=framework,
            framework_version=framework_version,
            py_version=py_version,
            max_run=max_run,
            tags=dict(tags or {}),
            region=region,
            notebook=notebook,
        )

    def to_json(self) -> ProcessingRowSpec:
        """Return the spec as JSON-safe data, as the ledger and the job folder record it."""
        data = dict(self.__dict__)
        data["inputs"] = [i.to_json() for i in self.inputs]
        data["outputs"] = [o.to_json() for o in self.outputs]
        for key in ("source_dir", "requirements"):
            if data[key] is not None:
                data[key] = str(data[key])
        return cast("ProcessingRowSpec", data)  # the fields, as ProcessingRowSpec lists them

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessingSpec:
        """Rebuild a spec from :meth:`to_json` (extra keys, e.g. resolved paths, ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["inputs"] = [
            ProcessingInput(i["name"], i["source"], i["destination"], i["distribution"])
            for i in data.get("inputs") or []
        ]
        values["outputs"] = [
            ProcessingOutput(o["name"], o["source"], o.get("destination"))
            for o in data.get("outputs") or []
        ]
        for key in ("source_dir", "requirements"):
            if values.get(key) is not None:
                values[key] = Path(values[key])
        return cls(**values)


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def shard(files: Sequence[_T], hosts: int) -> list[list[_T]]:
    """Split ``files`` (sorted by key) across ``hosts``: each file to exactly one host.

    SageMaker's ``ShardedByS3Key`` gives each instance about ``1/N`` of the objects under
    the prefix; here the ``i``-th file (in key order) goes to host ``i mod N``, so the
    split is balanced to one file and the same on every run. A host may get nothing when
    there are fewer files than hosts, as on SageMaker.
    """
    if hosts < 1:
        raise ValueError("hosts must be at least 1")
    shards: list[list[_T]] = [[] for _ in range(hosts)]
    for index, item in enumerate(files):
        shards[index % hosts].append(item)
    return shards


def job_config(
    spec: ProcessingSpec,
    *,
    image: str,
    inputs: Sequence[Mapping[str, object]],
    outputs: Sequence[Mapping[str, object]],
    role: str | None = None,
) -> dict[str, object]:
    """Return ``processingjobconfig.json``: the job's request as the container sees it.

    SageMaker writes the ``CreateProcessingJob`` request to
    ``/opt/ml/config/processingjobconfig.json``; scripts (and the SDK's ``Processor``
    helpers) read their inputs and outputs from it. ``inputs``/``outputs`` are the
    request's ``ProcessingInputs`` and ``ProcessingOutputConfig.Outputs`` entries.
    """
    config: dict[str, object] = {
        "ProcessingJobName": spec.name,
        "ProcessingInputs": list(inputs),
        "ProcessingOutputConfig": {"Outputs": list(outputs)},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": spec.instance_count,
                "InstanceType": spec.instance_type,
                "VolumeSizeInGB": 30,
            }
        },
        "AppSpecification": {"ImageUri": image},
        "Environment": dict(spec.environment),
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.max_run or 86_400},
    }
    if role:
        config["RoleArn"] = role
    return config


class ProcessingResourceConfig(TypedDict):
    """A processing host's ``resourceconfig.json``."""

    current_host: str
    hosts: list[str]


def resource_config(host: str, hosts: Sequence[str]) -> ProcessingResourceConfig:
    """Return ``/opt/ml/config/resourceconfig.json`` of one processing host.

    The processing container gets only the host names (a training container's file has
    more): ``{"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]}``.
    """
    return {"current_host": host, "hosts": list(hosts)}


def s3_input(uri: str, local_path: str, distribution: str = FULLY_REPLICATED) -> dict[str, str]:
    """Return one ``ProcessingInputs[].S3Input`` entry (a prefix, copied in File mode)."""
    return {
        "S3Uri": uri,
        "LocalPath": local_path,
        "S3DataType": "S3Prefix",
        "S3InputMode": "File",
        "S3DataDistributionType": distribution,
    }


def output_uris(description: Mapping[str, object]) -> dict[str, str]:
    """Return ``{output name: URI}`` of a ``DescribeProcessingJob`` response (any other: ``{}``).

    Any job kind's description may be passed (the views read every kind alike), so each
    level is checked for the shape it has in a processing job's.
    """
    config = description.get("ProcessingOutputConfig")
    outputs = config.get("Outputs") if isinstance(config, Mapping) else None
    found: dict[str, str] = {}
    for output in outputs if isinstance(outputs, list | tuple) else []:
        where = output.get("S3Output") if isinstance(output, Mapping) else None
        if isinstance(where, Mapping) and where:
            found[str(output["OutputName"])] = str(where["S3Uri"])
    return found
