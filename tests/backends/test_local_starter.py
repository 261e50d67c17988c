"""The starter: a training job's hosts forked from the launch the kernel computed.

The fast path must do what the supervisor's own path does (the other tests of
tests/backends run through it); these tests cover what only it has: the launch through a
pipe, the fall-back to the supervisor when a host cannot start or no launch comes, and the
process handle it uses.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import job_state, log_messages, make_spec, wait_until_terminal

from sm_magics.backends.local import starter
from sm_magics.backends.local.jobdir import JobDir


def _spawn(command: list[str], **ns: Any) -> tuple[starter.Child, bytes]:
    read_end, write_end = os.pipe()
    try:
        child = starter.spawn(command, dict(os.environ), os.getcwd(), ns or None, write_end)
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        return child, pipe.read()


def test_a_spawned_child_runs_in_its_own_session_and_reports_its_exit_code() -> None:
    script = "import os, sys; print(os.getsid(0) == os.getpid()); sys.exit(3)"
    child, output = _spawn([sys.executable, "-c", script])
    assert output == b"True\n"
    assert child.wait(timeout=60) == 3
    assert child.poll() == 3


def test_a_command_that_cannot_run_is_a_launch_error_not_a_child() -> None:
    with pytest.raises(starter.LaunchError, match="absolute"):
        _spawn(["python3", "-c", "pass"])
    with pytest.raises(starter.LaunchError, match="FileNotFoundError"):
        _spawn(["/nonexistent/python", "-c", "pass"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="namespaces: Linux only")
def test_namespaces_that_cannot_be_entered_are_a_launch_error() -> None:
    with pytest.raises(starter.LaunchError):
        _spawn(
            [sys.executable, "-c", "pass"],
            opt_ml="/nonexistent/opt-ml",
            hostname="algo-1",
            hosts=["algo-1"],
        )


def test_a_job_starts_through_the_starter_and_leaves_no_launch_on_disk(local_backend: Any) -> None:
    spec = make_spec(script="print('hello', flush=True)")
    local_backend.create_training_job(spec)
    assert wait_until_terminal(local_backend, spec.name)["TrainingJobStatus"] == "Completed"
    job = JobDir.for_job(spec.name)
    assert not list(job.root.glob("launch*"))  # the launch went through a pipe, never on disk
    messages = log_messages(local_backend, spec.name)
    assert messages[messages.index("hello") - 1].startswith("Invoking script")
    statuses = [t["Status"] for t in job_state(spec.name)["transitions"]]
    assert statuses == ["Starting", "Downloading", "Training", "Uploading", "Completed"]


def test_a_host_that_cannot_start_leaves_the_job_to_the_supervisor(
    local_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan whose command cannot run: the supervisor's own path runs the job instead."""
    from sm_magics.backends.local import host_launch

    planned = host_launch.fast_start

    def broken(job: JobDir, spec: dict[str, Any], mark: str) -> dict[str, Any] | None:
        plan = planned(job, spec, mark)
        assert plan is not None
        plan["hosts"][0]["command"][0] = str(Path("/nonexistent/python"))
        return plan

    monkeypatch.setattr(host_launch, "fast_start", broken)
    spec = make_spec(script="print('hello', flush=True)")
    local_backend.create_training_job(spec)
    assert wait_until_terminal(local_backend, spec.name)["TrainingJobStatus"] == "Completed"
    assert log_messages(local_backend, spec.name).count("hello") == 1


def test_a_job_that_needs_a_venv_gets_no_launch_and_runs_through_the_supervisor(
    local_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sm_magics.backends.local import host_launch

    monkeypatch.setattr(host_launch, "fast_start", lambda job, spec, mark: None)
    spec = make_spec(script="print('hello', flush=True)")
    local_backend.create_training_job(spec)
    assert wait_until_terminal(local_backend, spec.name)["TrainingJobStatus"] == "Completed"
    assert log_messages(local_backend, spec.name).count("hello") == 1
