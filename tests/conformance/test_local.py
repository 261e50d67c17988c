"""The conformance scenarios against the local backend: real processes on this machine.

Nothing is faked. Each job runs the scenario's :meth:`~.abstract.Behaviour.script` under
its own supervisor (a gated job waits for a file the harness creates on
:meth:`LocalHarness.release`); endpoints are a real router and workers on 127.0.0.1 serving
the job's ``model.tar.gz`` with the job's own handlers; a transform is a real detached
process. Each test has its own ``SM_MAGICS_HOME`` (``tests/conftest.py``), and whatever a
failing test left running is killed when it ends.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from helpers import path_from_uri, tar_members

from sm_magics.backends import base, processing
from sm_magics.backends.local.endpoint_dir import EndpointDir
from sm_magics.backends.local.jobdir import JobDir
from sm_magics.backends.specs import TrainingSpec
from sm_magics.errors import NotFound

from .abstract import (
    GATE_ENV,
    BackendFixtures,
    Behaviour,
    EndpointScenarios,
    Harness,
    ProcessingScenarios,
    RegistryScenarios,
    TrainingScenarios,
    TransformScenarios,
    TuningScenarios,
    ledger_of,
    scenario_names,
    unique_name,
)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_tree(root: Path) -> None:
    """``rm -r`` a job folder a live supervisor may still write into (its ``.reserve``).

    ``shutil.rmtree`` fails when a file it listed is gone before it gets to it, or one
    appears in a folder it is emptying; ``rm -r`` by hand meets the same race, and is
    simply run again.
    """
    for _ in range(20):
        if not root.exists():
            return
        try:
            shutil.rmtree(root)
        except FileNotFoundError:
            continue
        except OSError as exc:
            if exc.errno != errno.ENOTEMPTY:
                raise
            continue
        return
    shutil.rmtree(root)


def _reap(pgid: int) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-pgid, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _router_pgids(home: Path) -> list[int]:
    pgids = []
    for pid_file in [
        *home.glob("endpoints/*/router.pid"),
        *home.glob("endpoints/.deleted/*/router.pid"),
    ]:
        with contextlib.suppress(OSError, ValueError):
            pgids.append(int(pid_file.read_text().split()[0]))
    return pgids


def kill_endpoint_processes(home: Path) -> None:
    """SIGKILL the process group (router and workers) of every endpoint under ``home``."""
    for pgid in _router_pgids(home):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        _reap(pgid)


class LocalHarness(Harness):
    """Jobs run their script for real; results are read from this machine's files."""

    def __init__(self, backend: base.Backend, folder: Path) -> None:
        super().__init__(backend)
        self.folder = folder
        self.gates: dict[str, Path] = {}

    def prepare(self, spec: TrainingSpec, behaviour: Behaviour) -> None:
        """A gated job's script waits for a file of its own (``CONFORMANCE_GATE``)."""
        if behaviour.gated:
            gate = self.folder / "gates" / spec.name
            gate.parent.mkdir(exist_ok=True)
            spec.environment = {**spec.environment, GATE_ENV: str(gate)}
            self.gates.setdefault(spec.name, gate)

    def release(self, name: str) -> None:
        """Create the file the job's hosts wait for."""
        self.gates[name].touch()

    def invalid_training_specs(self) -> dict[str, TrainingSpec]:
        """What the local backend refuses before it reserves the name."""
        not_a_folder = self.folder / "a-file"
        not_a_folder.write_text("x")

        def spec(**overrides: Any) -> TrainingSpec:
            return self.training_spec(Behaviour(), name=unique_name("bad"), **overrides)

        return {
            "a channel whose path does not exist": spec(
                inputs={"train": str(self.folder / "no-such-data")}
            ),
            "an s3:// channel (the local backend reads local files)": spec(
                inputs={"train": "s3://some-bucket/data/"}
            ),
            "a --source-dir that is not a folder": spec(
                script=None, source_dir=not_a_folder, entry_point="train.py"
            ),
            "a --requirements file that does not exist": spec(
                requirements=self.folder / "no-requirements.txt"
            ),
        }

    @contextlib.contextmanager
    def nothing_created(self, name: str, kind: str = "training") -> Iterator[None]:
        """No job folder (so no supervisor or host process) and no ledger row."""
        yield
        assert not JobDir.for_job(name).root.exists()
        assert ledger_of(self.backend).get_job(name) is None

    def remove_out_of_band(self, kind: str, name: str) -> None:
        """``rm -r`` the folder (an endpoint's processes are killed first, as a reboot would)."""
        if kind == "endpoint":
            folder = EndpointDir.for_endpoint(name)
            pid_file = folder.root / "router.pid"
            pgid = int(pid_file.read_text().split()[0])
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            _reap(pgid)
            _remove_tree(folder.root)
        else:
            _remove_tree(JobDir.for_job(name).root)

    def model_files(self, uri: str) -> dict[str, bytes]:
        """The members of the local ``model.tar.gz`` the ``file://`` URI names."""
        return tar_members(path_from_uri(uri))

    def assert_endpoint_gone(self, name: str) -> None:
        """No live endpoint folder, and no router or worker process of the endpoint."""
        assert not EndpointDir.for_endpoint(name).exists()
        from sm_magics import config

        archived = sorted((config.home_dir() / "endpoints" / ".deleted").glob(f"{name}-*"))
        for folder in archived:
            pid_file = folder / "router.pid"
            if pid_file.exists():
                pgid = int(pid_file.read_text().split()[0])
                _reap(pgid)
                assert not _group_alive(pgid), f"endpoint {name}'s processes still run"

    def transform_io(self, files: dict[str, str]) -> tuple[str, str]:
        """A local input folder; the output folder next to it."""
        source = self.folder / "transform-in"
        source.mkdir()
        for relative, text in files.items():
            (source / relative).write_text(text)
        return str(source), (self.folder / "transform-out").as_uri()

    def transform_outputs(self, output_uri: str) -> dict[str, str]:
        """Every file under the output folder, by relative path."""
        folder = path_from_uri(output_uri)
        return {
            str(path.relative_to(folder)): path.read_text()
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        }

    def processing_input(self, files: dict[str, str]) -> str:
        """A local folder, as a user names one."""
        source = self.folder / "processing-in"
        source.mkdir(exist_ok=True)
        for relative, text in files.items():
            (source / relative).write_text(text)
        return str(source)

    def prepare_processing(self, spec: processing.ProcessingSpec, *, gated: bool) -> None:
        """A gated job's script waits for a file that is never created."""
        if gated:
            spec.environment = {**spec.environment, GATE_ENV: str(self.folder / "never")}


class LocalFixtures(BackendFixtures):
    """The local backend on the test's own home, and its :class:`LocalHarness`."""

    not_meaningful: ClassVar[dict[str, str]] = {}

    @pytest.fixture
    def backend(self, local_backend: base.Backend) -> base.Backend:
        """``tests/conftest.py``'s ``LocalBackend`` (its own ``SM_MAGICS_HOME``)."""
        return local_backend

    @pytest.fixture
    def harness(self, backend: base.Backend, tmp_path: Path, sm_home: Path) -> Iterator[Harness]:
        """The harness; at the end, every endpoint is deleted and its processes killed."""
        yield LocalHarness(backend, tmp_path)
        for record in ledger_of(backend).list_endpoints():
            with contextlib.suppress(NotFound):
                backend.delete_endpoint(record.name)
        kill_endpoint_processes(sm_home)


class TestLocalTraining(TrainingScenarios, LocalFixtures):
    pass


class TestLocalEndpoints(EndpointScenarios, LocalFixtures):
    pass


class TestLocalTransforms(TransformScenarios, LocalFixtures):
    pass


class TestLocalProcessing(ProcessingScenarios, LocalFixtures):
    pass


def test_every_skip_names_a_scenario() -> None:
    assert set(LocalFixtures.not_meaningful) <= scenario_names()


class TestLocalRegistry(RegistryScenarios, LocalFixtures):
    pass


class TestLocalTuning(TuningScenarios, LocalFixtures):
    pass
