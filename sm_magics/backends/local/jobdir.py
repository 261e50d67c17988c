"""The ``/opt/ml``-like folder of one local job, and its state file.

Layout (``SM_MAGICS_HOME/jobs/<job>/``)::

    input/config/{hyperparameters,resourceconfig,inputdataconfig}.json
    input/data/<channel>/          links to the user's data ("Downloading")
    code/                          the staged source; the scripts' working directory
    model/  output/{data,failure}  checkpoints/
    hosts/algo-N/                  hosts 2..N: their own input/config, model/, output/
    logs/algo-N-<epoch>.log        one stream per host, as CloudWatch names them
    spec.json  state.json          the request, and the status the supervisor writes

``state.json`` has one writer at a time (the engine before the supervisor starts, then the
supervisor; the engine again only once the supervisor is known dead) and is replaced
atomically, so a reader always sees a whole document.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sm_magics import config
from sm_magics.backends.local.statefile import write_json_atomic as write_json_atomic

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the disk or the quota is full."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _DISK_FULL:
            return True
        if "database or disk is full" in str(seen):  # sqlite3.OperationalError
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def jobs_root() -> Path:
    """Return the folder that holds every local job folder."""
    return config.home_dir() / "jobs"


def artifacts_root() -> Path:
    """Return the local stand-in for the S3 output path (``<job>/output/model.tar.gz``)."""
    return config.home_dir() / "artifacts"


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object written by :func:`write_json_atomic`.

    Raises
    ------
    StorageError
        The file is not a JSON object (damaged by a crash of the disk, a sync tool or a
        hand edit): the message names it and says what to do, instead of a traceback.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        from sm_magics import storage  # sqlite3 with it: only on this path

        raise storage.damaged_json(path, exc) from None
    if not isinstance(data, dict):
        from sm_magics import storage  # sqlite3 with it: only on this path

        raise storage.damaged_json(path, TypeError(f"a JSON {type(data).__name__}, not an object"))
    return data


@dataclass(frozen=True)
class StateFolder:
    """A folder named after its resource, holding an atomically replaced ``state.json``.

    Local jobs and local endpoints are both one of these; creating the object touches
    nothing on disk.
    """

    root: Path

    @property
    def name(self) -> str:
        """The resource's name (the folder's name)."""
        return self.root.name

    @property
    def state_file(self) -> Path:
        """The status document of the process that runs the resource."""
        return self.root / "state.json"

    def exists(self) -> bool:
        """Whether the folder holds a state."""
        return self.state_file.is_file()

    def read_state(self) -> dict[str, Any]:
        """Return the current state document."""
        return read_json(self.state_file)

    def write_state(self, state: Mapping[str, object]) -> None:
        """Replace the state document atomically."""
        write_json_atomic(self.state_file, state)


@dataclass(frozen=True)
class RequestFolder(StateFolder):
    """A state folder that also keeps its request and can be asked to stop.

    What a job folder and a tuning job folder have alike: ``spec.json`` written once at
    creation, and a ``stop-requested`` marker that a process starting late still sees.
    """

    @property
    def spec_file(self) -> Path:
        """The request, as validated and resolved when the resource was created."""
        return self.root / "spec.json"

    @property
    def stop_marker(self) -> Path:
        """Created by ``stop``; lets a reader see ``Stopping`` before the process acts."""
        return self.root / "stop-requested"

    def read_spec(self) -> dict[str, Any]:
        """Return the request."""
        return read_json(self.spec_file)


@dataclass(frozen=True)
class JobDir(RequestFolder):
    """Paths inside one job folder (see the module docstring)."""

    @classmethod
    def for_job(cls, name: str) -> JobDir:
        """Return the folder of job ``name`` under the current home."""
        return cls(jobs_root() / name)

    @property
    def code(self) -> Path:
        """The staged source, shared by all hosts (``/opt/ml/code``)."""
        return self.root / "code"

    @property
    def input_data(self) -> Path:
        """Channel folders, shared by all hosts (``/opt/ml/input/data``)."""
        return self.root / "input" / "data"

    @property
    def logs(self) -> Path:
        """One log file per host."""
        return self.root / "logs"

    @property
    def checkpoints(self) -> Path:
        """Local checkpoint folder (``/opt/ml/checkpoints``)."""
        return self.root / "checkpoints"

    @property
    def supervisor_log(self) -> Path:
        """The supervisor's own stdout/stderr: only interesting when it crashes."""
        return self.root / "supervisor.log"

    def host_root(self, host: str) -> Path:
        """Return the ``/opt/ml`` of one host: the job folder itself for ``algo-1``."""
        return self.root if host == "algo-1" else self.root / "hosts" / host

    @property
    def artifacts(self) -> Path:
        """Where ``model.tar.gz`` and ``output.tar.gz`` land, as under S3 output path."""
        return artifacts_root() / self.name / "output"
