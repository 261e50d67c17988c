"""Fixtures shared by every test: a scratch ``SM_MAGICS_HOME`` and a local backend.

Every test gets its own home folder, so ledgers, job folders, slots and venvs never leak
between tests. Jobs are detached processes: whatever a failing test left running is killed
when the test ends and again when the session ends.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import stop_followers
from IPython.core.interactiveshell import InteractiveShell

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import helpers` from any test

import helpers

_PR_SET_CHILD_SUBREAPER = 36


def _set_subreaper(on: bool) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _reap_all_children() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@pytest.fixture(scope="session", autouse=True)
def _no_process_left_behind() -> Iterator[None]:
    yield
    for home in helpers.HOMES:
        helpers.kill_leftovers(home)
    _reap_all_children()


@pytest.fixture(autouse=True)
def sm_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point ``SM_MAGICS_HOME`` at a fresh folder; quick stops; at most 4 local jobs."""
    home = helpers.new_home(tmp_path_factory)
    monkeypatch.setenv("SM_MAGICS_HOME", str(home))
    monkeypatch.setenv("SM_MAGICS_STOP_GRACE", "1")
    monkeypatch.setenv("SM_MAGICS_MAX_LOCAL_JOBS", "4")
    # No starter kept ready from %load_ext on (each test's home would start its own);
    # tests/test_warm_up.py turns it on.
    monkeypatch.setenv("SM_MAGICS_WARM_UP", "0")
    yield home
    helpers.kill_leftovers(home)


@pytest.fixture
def adopt_orphans() -> Iterator[None]:
    """Make this test process the subreaper of its descendants while the test runs.

    A test that kills a job's parent (the supervisor) or leaves a grandchild orphaned wants
    to see the orphans' process groups vanish; where init reaps orphans late or never (some
    sandboxes) a killed orphan stays a zombie and its group lingers. As their
    subreaper the test reaps them itself (``helpers.group_gone``). Only for the tests that
    ask: other tests keep the machine's usual orphan handling.
    """
    _set_subreaper(True)
    yield
    _set_subreaper(False)


@pytest.fixture
def local_backend(sm_home: Path) -> Iterator[object]:
    """A ``LocalBackend`` on the test's own home folder."""
    from sm_magics.backends.local.engine import LocalBackend

    backend = LocalBackend()
    yield backend
    backend.ledger.close()


_SETTINGS = ("backend", "instance_type", "region", "role", "bucket", "job_prefix")


@pytest.fixture(scope="session")
def shell() -> InteractiveShell:
    """The one InteractiveShell of the session, with the extension loaded."""
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "sm_magics")
    return ip


@pytest.fixture
def ip(shell: InteractiveShell, sm_home: Path) -> Iterator[InteractiveShell]:
    """The shell, its magics reset to this test's home and settings restored afterwards."""
    magics = shell.magics_manager.registry["SageMakerMagics"]
    saved = {name: getattr(magics, name) for name in _SETTINGS}
    magics._session = None  # the ledger path follows this test's SM_MAGICS_HOME
    yield shell
    for name, value in saved.items():
        setattr(magics, name, value)
    magics._session = None
    stop_followers()


@pytest.fixture(scope="module")
def model_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A ``model.tar.gz`` holding a LogisticRegression: [0, 0] is class 0, [3, 3] class 1."""
    return helpers.logistic_model_tar(tmp_path_factory.mktemp("model"))


@pytest.fixture
def entry_point(tmp_path: Path) -> Path:
    """A handler script (``model_fn`` loading the joblib model) for ``model_uri``."""
    path = tmp_path / "serve.py"
    path.write_text(helpers.MODEL_FN)
    return path
