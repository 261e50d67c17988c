"""Issue 12 defect 8 and issue 11 "Portability": every process a job starts ends with it.

A script that starts a daemon in a session of its own (as Ray and Dask do) used to leave it
running after ``%sm_stop``, after the job completed and after the supervisor died, because
only process groups were signalled. Each process of a job now carries the job's mark in its
environment and is swept; hosts die with their supervisor. The process layer works through
``psutil`` only, which the last tests check against a stand-in of psutil's API.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    job_state,
    make_spec,
    pid_with_argument,
    process_running,
    wait_for_log,
    wait_until,
    wait_until_terminal,
)

from sm_magics.backends.local import processes

#: Starts a daemon in its own session (out of the host's process group), named by a token
#: in its arguments (a pid it printed could be its PID namespace's, not the machine's).
DAEMON_SCRIPT = """\
import os, subprocess, sys, time
daemon = subprocess.Popen(
    [sys.executable, "-c", "import time\\nwhile True: time.sleep(0.1)",
     "daemon-of-" + os.environ["SM_MAGICS_JOB"]],
    start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
print("daemon", daemon.pid, flush=True)
{rest}
"""


def _daemon_pid(backend: Any, name: str) -> int:
    wait_for_log(backend, name, "daemon ")
    pid: int = wait_until(lambda: pid_with_argument(f"daemon-of-{name}"), what="the daemon")
    return pid


def test_a_daemon_in_its_own_session_ends_with_the_job(
    local_backend, adopt_orphans, tmp_path: Path
) -> None:
    # The script ends once the test has found its daemon (else it may be gone already).
    found = tmp_path / "found"
    rest = f"while not os.path.exists({str(found)!r}): time.sleep(0.05)\nprint('done')"
    spec = make_spec(script=DAEMON_SCRIPT.format(rest=rest))
    local_backend.create_training_job(spec)
    daemon = _daemon_pid(local_backend, spec.name)
    found.touch()
    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Completed"
    wait_until(lambda: not process_running(daemon), what="the daemon to end with the job")


def test_stop_ends_a_daemon_in_its_own_session(local_backend, adopt_orphans) -> None:
    spec = make_spec(script=DAEMON_SCRIPT.format(rest="while True: time.sleep(0.1)"))
    local_backend.create_training_job(spec)
    daemon = _daemon_pid(local_backend, spec.name)
    assert os.getsid(daemon) != os.getsid(job_state(spec.name)["host_pgids"][0])
    local_backend.stop_training_job(spec.name)
    assert wait_until_terminal(local_backend, spec.name)["TrainingJobStatus"] == "Stopped"
    wait_until(lambda: not process_running(daemon), what="the daemon to end on stop")


@pytest.mark.parametrize("pid_namespace", ["1", "0"])
def test_hosts_and_daemons_do_not_outlive_a_killed_supervisor(
    local_backend, adopt_orphans, monkeypatch, pid_namespace: str
) -> None:
    # With the PID namespace off (as on macOS), only the watchdog the starter forked
    # sweeps the daemon: it runs in a session of its own and has no death signal.
    monkeypatch.setenv("SM_MAGICS_PID_NAMESPACE", pid_namespace)
    spec = make_spec(script=DAEMON_SCRIPT.format(rest="while True: time.sleep(0.1)"))
    local_backend.create_training_job(spec)
    daemon = _daemon_pid(local_backend, spec.name)
    state = job_state(spec.name)
    (host,) = state["host_pgids"]
    os.kill(state["supervisor_pid"], signal.SIGKILL)
    # Nothing describes the job: the processes end by themselves (death signal, watchdog).
    wait_until(lambda: not process_running(host), what="the host to die with its supervisor")
    wait_until(lambda: not process_running(daemon), what="the daemon to be swept")
    description = local_backend.describe_training_job(spec.name)
    assert description["TrainingJobStatus"] == "Failed"


def test_the_job_mark_is_in_every_process_environment(local_backend) -> None:
    script = (
        "import os\nprint('mark', os.environ['SM_MAGICS_JOB'], os.environ['SM_MAGICS_JOB_ID'])\n"
    )
    spec = make_spec(script=script + "\n")
    local_backend.create_training_job(spec)
    wait_until_terminal(local_backend, spec.name)
    from helpers import log_messages

    (line,) = [m for m in log_messages(local_backend, spec.name) if m.startswith("mark ")]
    assert line.split()[1:] == [spec.name, job_state(spec.name)["job_mark"]]


# -- the process layer against psutil's API ---------------------------------------------------


class _FakeProcess:
    def __init__(self, world: _World, pid: int) -> None:
        if pid not in world.table:
            raise world.module.NoSuchProcess(pid)
        self.world, self.pid = world, pid

    def create_time(self) -> float:
        return float(self.world.table[self.pid]["created"])

    def status(self) -> str:
        return str(self.world.table[self.pid]["status"])

    def environ(self) -> dict[str, str]:
        info = self.world.table[self.pid]
        if info.get("denied"):
            raise self.world.module.AccessDenied(self.pid)
        return dict(info.get("environ", {}))

    def terminate(self) -> None:
        self.world.signals.append((self.pid, "TERM"))

    def kill(self) -> None:
        self.world.signals.append((self.pid, "KILL"))


class _World:
    """A stand-in psutil: processes as a table, signals recorded, no OS underneath."""

    def __init__(self) -> None:
        self.table: dict[int, dict[str, Any]] = {}
        self.signals: list[tuple[int, str]] = []
        module = types.ModuleType("psutil")

        class Error(Exception):
            pass

        class NoSuchProcess(Error):
            pass

        class AccessDenied(Error):
            pass

        module.Error = Error  # type: ignore[attr-defined]
        module.NoSuchProcess = NoSuchProcess  # type: ignore[attr-defined]
        module.AccessDenied = AccessDenied  # type: ignore[attr-defined]
        module.STATUS_ZOMBIE = "zombie"  # type: ignore[attr-defined]
        module.STATUS_DEAD = "dead"  # type: ignore[attr-defined]
        module.Process = lambda pid: _FakeProcess(self, pid)  # type: ignore[attr-defined]
        module.process_iter = lambda: [_FakeProcess(self, p) for p in list(self.table)]  # type: ignore[attr-defined]
        module.wait_procs = lambda procs, timeout=None: ([], list(procs))  # type: ignore[attr-defined]
        self.module = module


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> _World:
    fake = _World()
    monkeypatch.setitem(sys.modules, "psutil", fake.module)
    return fake


def test_identity_and_liveness_through_psutil(world: _World) -> None:
    world.table[101] = {"created": 1700000000.25, "status": "running"}
    world.table[102] = {"created": 1700000001.0, "status": "zombie"}
    assert processes.start_time(101) == "1700000000.25"
    assert processes.is_alive(101, "1700000000.25")
    assert not processes.is_alive(101, "1700000099.00")  # the pid was reused
    assert processes.is_alive(101, "123456")  # ticks an older version recorded: no compare
    assert not processes.is_alive(102)  # a zombie is dead
    assert not processes.is_alive(103)
    assert processes.start_time(103) is None


def test_sweep_finds_marked_processes_only(world: _World) -> None:
    world.table[201] = {"created": 1.0, "status": "running", "environ": {"SM_MAGICS_JOB_ID": "m1"}}
    world.table[202] = {"created": 1.0, "status": "running", "environ": {"SM_MAGICS_JOB_ID": "m2"}}
    world.table[203] = {"created": 1.0, "status": "running", "denied": True}
    world.table[204] = {"created": 1.0, "status": "zombie", "environ": {"SM_MAGICS_JOB_ID": "m1"}}
    assert processes.sweep_marked("m1", grace=0) == 1
    assert world.signals == [(201, "TERM"), (201, "KILL")]
    assert processes.sweep_marked(None, grace=0) == 0


def test_no_module_reads_proc() -> None:
    package = Path(processes.__file__).resolve().parents[2]
    reads_proc = re.compile(r"""["'](/proc/|/proc["'])""")
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if reads_proc.search(path.read_text())
    ]
    assert offenders == []
