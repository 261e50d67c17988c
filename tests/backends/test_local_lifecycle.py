"""How local jobs live and end: failure reasons, stop, max-run, crashes, queueing, venvs.

Jobs are real detached processes. Scripts sleep fractions of a second; waits have generous
timeouts only so a broken job cannot hang the suite.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from helpers import (
    build_wheel,
    catches_signal,
    job_state,
    log_messages,
    make_spec,
    path_from_uri,
    pid_with_argument,
    process_running,
    read_all_logs,
    tar_members,
    wait_for_log,
    wait_group_gone,
    wait_until,
    wait_until_terminal,
)

from sm_magics.backends.local import slots
from sm_magics.backends.local.jobdir import JobDir
from sm_magics.errors import NotFound

SLEEP_LOOP = """\
import time
print("ready", flush=True)
while True:
    time.sleep(0.1)
"""


# -- failure reasons -------------------------------------------------------------------------


def test_failure_reason_comes_from_output_failure(local_backend) -> None:
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "Path(os.environ['SM_OUTPUT_DIR'], 'failure').write_text('column price has NaN values')\n"
        "print('some noise', file=sys.stderr)\n"
        "sys.exit(2)\n"
    )
    spec = make_spec(script=script)
    local_backend.create_training_job(spec)
    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Failed"
    assert description["SecondaryStatus"] == "Failed"
    assert description["FailureReason"] == "AlgorithmError: column price has NaN values"
    assert "ModelArtifacts" not in description  # nothing is uploaded for a failed job
    record = local_backend.ledger.get_job(spec.name)
    assert record.status == "Failed"
    assert record.failure_reason == description["FailureReason"]


def test_failure_reason_without_failure_file_quotes_the_exception_and_exit_code(
    local_backend,
) -> None:
    script = (
        "print('training...')\n"
        "def fit():\n"
        "    raise ValueError('learning rate must be positive, got -0.5')\n"
        "fit()\n"
    )
    spec = make_spec(script=script)
    local_backend.create_training_job(spec)
    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Failed"
    reason = description["FailureReason"]
    assert reason.startswith("AlgorithmError: ")
    assert "ValueError: learning rate must be positive, got -0.5" in reason
    assert "ExitCode 1" in reason
    # The traceback is in the logs, line by line, as CloudWatch would have it.
    assert any(m.startswith("Traceback") for m in log_messages(local_backend, spec.name))


def test_failure_reason_uses_the_last_stderr_lines_and_the_real_exit_code(local_backend) -> None:
    script = "import sys\nprint('disk quota exceeded on /data', file=sys.stderr)\nsys.exit(3)\n"
    spec = make_spec(script=script)
    local_backend.create_training_job(spec)
    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Failed"
    assert "disk quota exceeded on /data" in description["FailureReason"]
    assert "ExitCode 3" in description["FailureReason"]


def test_unknown_job_raises_not_found(local_backend) -> None:
    with pytest.raises(NotFound):
        local_backend.describe_training_job("no-such-job")
    with pytest.raises(NotFound):
        local_backend.stop_training_job("no-such-job")
    with pytest.raises(NotFound):
        local_backend.read_training_logs("no-such-job")


# -- stop ---------------------------------------------------------------------------------------

# Ignores SIGTERM (and so does its child, which inherits that): only the SIGKILL after the
# grace period ends them, so the job is Stopping for that whole second.
IGNORES_SIGTERM_WITH_CHILD = """\
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)",
                          "child-of-" + os.environ["SM_MAGICS_JOB"]])
print(f"child {child.pid}", flush=True)
print("ready", flush=True)
while True:
    time.sleep(0.1)
"""


def test_stop_passes_stopping_ends_stopped_and_sigkills_the_process_group(
    local_backend, adopt_orphans
) -> None:
    spec = make_spec(script=IGNORES_SIGTERM_WITH_CHILD)
    local_backend.create_training_job(spec)
    wait_for_log(local_backend, spec.name, "ready")
    (pgid,) = job_state(spec.name)["host_pgids"]
    # Found by its arguments: the pid the script printed may be its PID namespace's.
    child = wait_until(lambda: pid_with_argument(f"child-of-{spec.name}"), what="the child")
    # The script's own child descends from the host process (in its group, or in its PID
    # namespace where hosts get one): the stop must end it.
    assert pgid in [parent.pid for parent in psutil.Process(child).parents()]

    local_backend.stop_training_job(spec.name)
    stopping = local_backend.describe_training_job(spec.name)
    assert stopping["TrainingJobStatus"] == "Stopping"

    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Stopped"
    assert description["SecondaryStatus"] == "Stopped"
    assert "FailureReason" not in description
    wait_group_gone(pgid)
    assert not process_running(child)
    assert local_backend.ledger.get_job(spec.name).status == "Stopped"


TRAPS_SIGTERM = """\
import os, signal, sys, time
from pathlib import Path

def save_and_exit(*_):
    Path(os.environ["SM_MODEL_DIR"], "saved-on-stop.txt").write_text("checkpoint")
    sys.exit(0)

signal.signal(signal.SIGTERM, save_and_exit)
print("ready", flush=True)
while True:
    time.sleep(0.1)
"""


def test_stop_lets_a_sigterm_handler_save_the_model(local_backend) -> None:
    spec = make_spec(script=TRAPS_SIGTERM)
    local_backend.create_training_job(spec)
    wait_for_log(local_backend, spec.name, "ready")
    local_backend.stop_training_job(spec.name)
    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Stopped"
    model = tar_members(path_from_uri(description["ModelArtifacts"]["S3ModelArtifacts"]))
    assert model == {"saved-on-stop.txt": b"checkpoint"}


def test_stop_is_idempotent_on_a_finished_job(local_backend) -> None:
    spec = make_spec()
    local_backend.create_training_job(spec)
    before = wait_until_terminal(local_backend, spec.name)
    assert before["TrainingJobStatus"] == "Completed"
    local_backend.stop_training_job(spec.name)
    local_backend.stop_training_job(spec.name)
    after = local_backend.describe_training_job(spec.name)
    assert after["TrainingJobStatus"] == "Completed"
    assert after["SecondaryStatus"] == "Completed"
    assert after["ModelArtifacts"] == before["ModelArtifacts"]
    assert not JobDir.for_job(spec.name).stop_marker.exists()


def test_stop_right_after_create_ends_stopped_not_failed(local_backend) -> None:
    # The stop may reach the supervisor before it has installed its SIGTERM handler.
    spec = make_spec(script=SLEEP_LOOP)
    local_backend.create_training_job(spec)
    local_backend.stop_training_job(spec.name)
    local_backend.stop_training_job(spec.name)  # twice: still fine
    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Stopped"
    assert "FailureReason" not in description
    assert local_backend.ledger.get_job(spec.name).status == "Stopped"
    for pgid in job_state(spec.name).get("host_pgids") or []:
        wait_group_gone(pgid)


@pytest.mark.slow
def test_max_run_stops_the_job_with_max_runtime_exceeded(local_backend) -> None:
    spec = make_spec(script=SLEEP_LOOP, max_run=2)
    local_backend.create_training_job(spec)
    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Stopped"
    assert description["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert description["StoppingCondition"] == {"MaxRuntimeInSeconds": 2}
    (pgid,) = job_state(spec.name)["host_pgids"]
    wait_group_gone(pgid)
    record = local_backend.ledger.get_job(spec.name)
    assert (record.status, record.secondary_status) == ("Stopped", "MaxRuntimeExceeded")


# -- the launching process and the supervisor may die ---------------------------------------

NUMBERED_LINES = """\
import time
for i in range(50):
    print(f"line {i:02d}", flush=True)
    time.sleep(0.02)
"""

LAUNCHER = """\
import sys, time
from sm_magics.backends.specs import TrainingSpec
from sm_magics.backends.local.engine import LocalBackend

LocalBackend().create_training_job(
    TrainingSpec(name=sys.argv[1], entry_point="train.py", script=sys.argv[2])
)
print("created", flush=True)
time.sleep(600)
"""


def test_job_outlives_the_killed_process_that_launched_it(local_backend, sm_home) -> None:
    name = make_spec().name
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, name, NUMBERED_LINES],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert launcher.stdout.readline().strip() == "created"
    finally:
        launcher.kill()  # SIGKILL, like a kernel that died
        launcher.wait()
        launcher.stdout.close()
    assert launcher.returncode == -signal.SIGKILL

    # Follow the logs with cursors while it runs, as a widget does.
    followed = []
    cursor = None
    while True:
        finished = local_backend.describe_training_job(name)["TrainingJobStatus"] in {
            "Completed",
            "Failed",
            "Stopped",
        }
        batch = local_backend.read_training_logs(name, cursor)
        followed += [e.message for e in batch.events]
        cursor = batch.cursor
        if finished and not batch.events:
            break
        time.sleep(0.05)

    description = wait_until_terminal(local_backend, name)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    expected = [f"line {i:02d}" for i in range(50)]
    assert [m for m in followed if m.startswith("line ")] == expected
    assert [m for m in log_messages(local_backend, name) if m.startswith("line ")] == expected
    record = local_backend.ledger.get_job(name)
    assert record.status == "Completed"
    assert record.ended_at is not None


def test_dead_supervisor_fails_the_job_and_kills_its_hosts(local_backend, adopt_orphans) -> None:
    spec = make_spec(script=SLEEP_LOOP, instance_count=2)
    local_backend.create_training_job(spec)
    # Both hosts printed: after this they write nothing, so a dead reader cannot kill them.
    wait_until(lambda: log_messages(local_backend, spec.name).count("ready") == 2)
    state = job_state(spec.name)
    pgids = state["host_pgids"]
    os.kill(state["supervisor_pid"], signal.SIGKILL)
    wait_until(lambda: not process_running(state["supervisor_pid"]))
    # The hosts die with their supervisor, before anything looks (issue 12, defect 8).
    for pgid in pgids:
        wait_until(lambda pgid=pgid: not process_running(pgid), what=f"host {pgid} to die")

    description = local_backend.describe_training_job(spec.name)
    assert description["TrainingJobStatus"] == "Failed"
    assert "supervisor" in description["FailureReason"]
    assert str(state["supervisor_pid"]) in description["FailureReason"]
    for pgid in pgids:
        wait_group_gone(pgid)
    record = local_backend.ledger.get_job(spec.name)
    assert record.status == "Failed"
    assert "supervisor" in record.failure_reason
    assert record.ended_at is not None
    # Once Failed, it stays Failed.
    assert local_backend.describe_training_job(spec.name)["TrainingJobStatus"] == "Failed"


# -- many jobs, few slots ------------------------------------------------------------------------

SHORT_SLEEP = """\
import os, time
from pathlib import Path
time.sleep(0.8)
Path(os.environ["SM_MODEL_DIR"], "done").write_text("ok")
"""


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    current = best = 0
    for _, delta in points:  # at equal times an end (-1) sorts before a start (+1)
        current += delta
        best = max(best, current)
    return best


@pytest.mark.slow
def test_twenty_jobs_at_once_never_train_more_than_four_at_a_time(local_backend) -> None:
    specs = [make_spec(script=SHORT_SLEEP) for _ in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(local_backend.create_training_job, specs))
    names = [s.name for s in specs]

    # Sample in rounds. A job seen Training in two consecutive rounds trained during the
    # whole gap between them (statuses never go back), so those jobs trained at once.
    previous: set[str] = set()
    most_at_once = 0
    seen_starting_while_others_train = False
    done: dict[str, dict] = {}
    deadline = time.monotonic() + 120
    while len(done) < len(names):
        assert time.monotonic() < deadline, "jobs did not finish"
        training: set[str] = set()
        starting: set[str] = set()
        for name in names:
            if name in done:
                continue
            description = local_backend.describe_training_job(name)
            if description["TrainingJobStatus"] in {"Completed", "Failed", "Stopped"}:
                done[name] = description
            elif description["SecondaryStatus"] == "Training":
                training.add(name)
            elif description["SecondaryStatus"] == "Starting":
                starting.add(name)
        most_at_once = max(most_at_once, len(training & previous))
        seen_starting_while_others_train |= bool(starting and training & previous)
        previous = training
        time.sleep(0.02)

    assert most_at_once <= 4
    assert seen_starting_while_others_train
    assert {d["TrainingJobStatus"] for d in done.values()} == {"Completed"}

    # Exactly, from the recorded transitions: the Training intervals never overlap by > 4.
    intervals = []
    for description in done.values():
        (training,) = [
            t for t in description["SecondaryStatusTransitions"] if t["Status"] == "Training"
        ]
        intervals.append((training["StartTime"].timestamp(), training["EndTime"].timestamp()))
    assert 2 <= _max_overlap(intervals) <= 4

    rows = local_backend.ledger.list_jobs()
    assert sorted(r.name for r in rows) == sorted(names)
    assert {r.status for r in rows} == {"Completed"}
    assert all(r.ended_at is not None for r in rows)


def test_queued_job_shows_starting_until_a_slot_frees(local_backend, sm_home) -> None:
    held = [slots.try_acquire(sm_home / "slots", 4) for _ in range(4)]  # the machine is full
    try:
        assert None not in held
        spec = make_spec()
        local_backend.create_training_job(spec)
        for _ in range(10):
            description = local_backend.describe_training_job(spec.name)
            assert (description["TrainingJobStatus"], description["SecondaryStatus"]) == (
                "InProgress",
                "Starting",
            )
            time.sleep(0.1)
        assert local_backend.read_training_logs(spec.name).events == []
    finally:
        os.close(held.pop())  # one slot frees
    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Completed"
    statuses = [t["Status"] for t in description["SecondaryStatusTransitions"]]
    assert statuses == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    for fd in held:
        os.close(fd)


def test_stopping_a_queued_job_stops_it_before_it_trains(local_backend, sm_home) -> None:
    held = [slots.try_acquire(sm_home / "slots", 4) for _ in range(4)]
    try:
        spec = make_spec()
        local_backend.create_training_job(spec)
        pid = wait_until(lambda: job_state(spec.name).get("supervisor_pid"))
        # Stop only once the supervisor handles SIGTERM: it is then waiting for a slot.
        wait_until(lambda: catches_signal(pid, signal.SIGTERM))
        local_backend.stop_training_job(spec.name)
        description = wait_until_terminal(local_backend, spec.name)
    finally:
        for fd in held:
            os.close(fd)
    assert description["TrainingJobStatus"] == "Stopped"
    assert "ModelArtifacts" not in description
    transitions = description["SecondaryStatusTransitions"]
    assert [t["Status"] for t in transitions] == ["Starting", "Stopped"]
    assert transitions[-1]["StatusMessage"] == "Training job stopped before it started"


# -- requirements ------------------------------------------------------------------------------

USES_TINYPKG = """\
import sys
import tinypkg  # only in the job's venv
import sklearn  # only in the notebook's environment
print("VALUE", tinypkg.VALUE)
print("sklearn", sklearn.__version__)
print("python", sys.executable)
"""


@pytest.fixture
def tinypkg_requirements(tmp_path: Path) -> Path:
    wheel = build_wheel(tmp_path, "tinypkg", "0.1", {"tinypkg/__init__.py": "VALUE = 42\n"})
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"--no-index\n{wheel}\n")
    return requirements


@pytest.mark.slow
def test_requirements_install_into_a_venv_that_still_sees_the_parent_packages(
    local_backend, sm_home, tinypkg_requirements
) -> None:
    import sklearn

    with pytest.raises(ImportError):
        import tinypkg  # noqa: F401 - the test's own interpreter must not have it

    spec = make_spec(script=USES_TINYPKG, requirements=tinypkg_requirements)
    local_backend.create_training_job(spec)
    description = wait_until_terminal(local_backend, spec.name, timeout=180)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    messages = log_messages(local_backend, spec.name)
    assert "VALUE 42" in messages
    assert f"sklearn {sklearn.__version__}" in messages
    python = next(m for m in messages if m.startswith("python ")).split(" ", 1)[1]
    assert Path(python).is_relative_to(sm_home / "venvs")
    assert not any("Using cached environment" in m for m in messages)

    # The same requirements again: the venv is reused, not rebuilt.
    again = make_spec(script=USES_TINYPKG, requirements=tinypkg_requirements)
    local_backend.create_training_job(again)
    description = wait_until_terminal(local_backend, again.name, timeout=180)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    messages = log_messages(local_backend, again.name)
    assert any("Using cached environment" in m for m in messages)
    assert "VALUE 42" in messages
    assert f"python {python}" in messages


def test_failing_requirements_fail_the_job_with_a_client_error(
    local_backend, sm_home, tmp_path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("--no-index\nsm-magics-no-such-package==9.9\n")
    spec = make_spec(requirements=requirements)
    local_backend.create_training_job(spec)
    description = wait_until_terminal(local_backend, spec.name, timeout=180)
    assert description["TrainingJobStatus"] == "Failed"
    reason = description["FailureReason"]
    assert reason.startswith("ClientError: ")
    assert "Installing requirements.txt failed" in reason
    assert "sm-magics-no-such-package" in reason
    assert "hello from" not in " ".join(log_messages(local_backend, spec.name))  # never ran
    # The broken venv is not kept for the next job to reuse.
    venvs = sm_home / "venvs"
    assert [p.name for p in venvs.iterdir() if p.is_dir()] == []


# -- logs ----------------------------------------------------------------------------------------


def test_log_cursor_returns_each_line_once_while_lines_arrive(local_backend) -> None:
    script = (
        "import sys, time\n"
        "for i in range(20):\n"
        "    print(f'out {i}', flush=True)\n"
        "    print(f'err {i}', file=sys.stderr, flush=True)\n"
        "    time.sleep(0.01)\n"
    )
    spec = make_spec(script=script)
    local_backend.create_training_job(spec)
    seen = []
    cursor = None
    while True:
        done = local_backend.describe_training_job(spec.name)["TrainingJobStatus"] == "Completed"
        batch = local_backend.read_training_logs(spec.name, cursor)
        seen += batch.events
        cursor = batch.cursor
        if done and not batch.events:
            break
        time.sleep(0.01)
    assert local_backend.read_training_logs(spec.name, cursor).events == []
    messages = [e.message for e in seen]
    assert [m for m in messages if m.startswith("out ")] == [f"out {i}" for i in range(20)]
    assert [m for m in messages if m.startswith("err ")] == [f"err {i}" for i in range(20)]
    assert seen == read_all_logs(local_backend, spec.name)


def test_completed_job_walks_the_sagemaker_secondary_statuses(local_backend) -> None:
    spec = make_spec()
    local_backend.create_training_job(spec)
    description = wait_until_terminal(local_backend, spec.name)
    transitions = description["SecondaryStatusTransitions"]
    assert [t["Status"] for t in transitions] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    assert all("EndTime" in t for t in transitions)
    assert description["TrainingStartTime"] <= description["TrainingEndTime"]
    record = local_backend.ledger.get_job(spec.name)
    assert (record.status, record.secondary_status) == ("Completed", "Completed")
    assert record.model_data == description["ModelArtifacts"]["S3ModelArtifacts"]
    assert record.started_at is not None and record.ended_at is not None
    json.dumps(job_state(spec.name))  # the state file is plain JSON
