"""Issue 12 defect 8, the sure way: a daemon that wipes its environment ends with the job.

The job-mark sweep finds a job's processes by a variable in their environment; a daemon
that re-executes itself with an empty environment after a double fork and ``setsid``
escapes it. Where training hosts run in namespaces on Linux, each host also gets a PID
namespace: when the script ends (or is stopped, or its supervisor dies) the namespace
ends, and the kernel kills every process in it. Skipped with a message where the kernel
does not allow it (the sweep stays the fallback there; docs/reliability.md says what each
platform can do).
"""

from __future__ import annotations

import os
import signal
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

from sm_magics.backends.local import host_launch, namespaces, processes

#: Double fork, setsid, then exec with an empty environment: no mark, no group, no session.
ESCAPER = """\
import os, sys, time
token = "escaper-of-" + os.environ["SM_MAGICS_JOB"]
child = os.fork()
if child == 0:
    os.setsid()
    if os.fork() == 0:
        os.execve(sys.executable,
                  [sys.executable, "-c", "import time\\nwhile True: time.sleep(0.1)", token], {{}})
    os._exit(0)
os.waitpid(child, 0)
print("escaper started", flush=True)
{rest}
"""


@pytest.fixture(autouse=True)
def _needs_pid_namespaces() -> None:
    reason = host_launch.namespaces_reason() or namespaces.probe_pid()
    if reason is not None:
        pytest.skip(f"PID namespaces are not available here ({reason}); the env-mark sweep is")


def _escaper(backend: Any, name: str) -> int:
    import psutil

    wait_for_log(backend, name, "escaper started")
    pid: int = wait_until(lambda: pid_with_argument(f"escaper-of-{name}"), what="the escaper")
    # It really escapes the other mechanisms: no mark to sweep, not in the host's session.
    assert processes.ENV_JOB_ID not in psutil.Process(pid).environ()
    assert os.getsid(pid) != os.getsid(job_state(name)["host_pgids"][0])
    return pid


def _hold(tmp_path: Path) -> tuple[Path, str]:
    flag = tmp_path / "release"
    return flag, f"while not os.path.exists({str(flag)!r}): time.sleep(0.05)"


def test_an_escaped_daemon_ends_with_the_job(local_backend: Any, tmp_path: Path) -> None:
    flag, wait = _hold(tmp_path)
    spec = make_spec(script=ESCAPER.format(rest=wait + "\nprint('done')"))
    local_backend.create_training_job(spec)
    escaper = _escaper(local_backend, spec.name)
    flag.touch()
    assert wait_until_terminal(local_backend, spec.name)["TrainingJobStatus"] == "Completed"
    wait_until(lambda: not process_running(escaper), what="the escaper to end with the job")


def test_stop_ends_an_escaped_daemon(local_backend: Any) -> None:
    spec = make_spec(script=ESCAPER.format(rest="while True: time.sleep(0.1)"))
    local_backend.create_training_job(spec)
    escaper = _escaper(local_backend, spec.name)
    local_backend.stop_training_job(spec.name)
    assert wait_until_terminal(local_backend, spec.name)["TrainingJobStatus"] == "Stopped"
    wait_until(lambda: not process_running(escaper), what="the escaper to end on stop")


def test_a_killed_supervisor_takes_an_escaped_daemon_along(local_backend: Any) -> None:
    spec = make_spec(script=ESCAPER.format(rest="while True: time.sleep(0.1)"))
    local_backend.create_training_job(spec)
    escaper = _escaper(local_backend, spec.name)
    state = job_state(spec.name)
    os.kill(state["supervisor_pid"], signal.SIGKILL)
    wait_until(lambda: not process_running(escaper), what="the escaper to die with the host")
    assert local_backend.describe_training_job(spec.name)["TrainingJobStatus"] == "Failed"


def test_a_stop_signal_reaches_the_script_once(local_backend: Any) -> None:
    # The host process forwards to the namespace's init, which forwards to the script's
    # group: a script counting SIGTERMs sees exactly one, and may save in the grace period.
    script = """\
import os, signal, sys, time
seen = []
def on_term(signum, frame):
    seen.append(signum)
signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
while not seen:
    time.sleep(0.05)
time.sleep(0.5)
open(os.path.join(os.environ["SM_MODEL_DIR"], "terms.txt"), "w").write(str(len(seen)))
"""
    spec = make_spec(script=script)
    local_backend.create_training_job(spec)
    wait_for_log(local_backend, spec.name, "ready")
    local_backend.stop_training_job(spec.name)
    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Stopped"
    from helpers import path_from_uri, tar_members

    members = tar_members(path_from_uri(description["ModelArtifacts"]["S3ModelArtifacts"]))
    assert members["terms.txt"] == b"1"
