"""The Python API under the magics: Session, Job, JobTable, and log following — no IPython."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sm_magics import Session
from sm_magics.api import (
    JOB_NAME_RE,
    STATUS_COLOURS,
    Job,
    JobRow,
    JobTable,
    format_log_line,
)
from sm_magics.backends import registry
from sm_magics.backends.local.engine import LocalBackend
from sm_magics.backends.results import LogEvent
from sm_magics.backends.specs import TrainingSpec
from sm_magics.errors import AlreadyExists, InvalidRequest, JobFailed, NotFound, WaitTimeout
from sm_magics.logs import LogFollower, stream_until_done

TIMEOUT = 90  # only against hangs
SLEEPER = "import time\ntime.sleep(120)\n"


@pytest.fixture
def session(sm_home: Path) -> Session:
    return Session()


def done(job: Job) -> Job:
    return job.wait(TIMEOUT, poll=0.05)


# -- Session.train ---------------------------------------------------------------------------


def test_session_trains_without_ipython(sm_home: Path) -> None:
    """A plain Python process trains, waits and reads the model, never importing IPython."""
    script = textwrap.dedent(
        """
        import sys, tarfile
        from pathlib import Path
        from urllib.parse import urlparse
        from sm_magics import Session

        code = '''
        import os, pathlib
        print("hello", os.environ["SM_HP_EPOCHS"])
        pathlib.Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text("weights")
        '''
        job = Session().train(code, hyperparameters={"epochs": 2})
        assert job.wait(90, poll=0.05).status == "Completed", job.failure_reason
        assert "hello 2" in job.logs().splitlines(), job.logs()
        with tarfile.open(urlparse(job.model_data).path) as tar:
            assert tar.extractfile("model.txt").read() == b"weights"
        assert "IPython" not in sys.modules, "the API imported IPython"
        print("OK", job.name)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK sm-train-")


def test_train_returns_a_handle_at_once(session: Session) -> None:
    job = session.train(SLEEPER, name="api-sleeper")
    assert job.name == "api-sleeper" and job.backend_name == "local"
    assert job.status == "InProgress"
    assert job.notes == []
    job.stop()
    assert done(job).status == "Stopped"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"script": None}, "Nothing to run"),
        ({"script": "   \n"}, "Nothing to run"),
        ({"script": "pass", "name": "bad name"}, "Invalid job name"),
        ({"script": "pass", "instance_count": 0}, "from 1 to"),
        ({"script": "pass", "hyperparameters": {"1x": 1}}, "hyperparameter name"),
        ({"script": "pass", "inputs": {"a b": "."}}, "channel name"),
        ({"script": "pass", "metric_definitions": {"m": "("}}, "bad regex"),
        ({"script": "pass", "max_run": "forever"}, "duration"),
        ({"script": "pass", "source_dir": "/no/such/folder"}, "not a folder"),
        ({"script": "pass", "entry_point": "x.py"}, "not both"),
        ({"script": None, "entry_point": "../x.py"}, "inside --source-dir"),
    ],
)
def test_train_rejects_bad_requests_and_creates_nothing(
    session: Session, sm_home: Path, kwargs: dict[str, Any], message: str
) -> None:
    script = kwargs.pop("script")
    with pytest.raises(InvalidRequest, match=message):
        session.train(script, **kwargs)
    assert session.ledger.list_jobs() == []
    assert not (sm_home / "jobs").exists() or not any((sm_home / "jobs").iterdir())


def test_cell_may_not_replace_a_source_dir_train_py(session: Session, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('theirs')\n")
    with pytest.raises(InvalidRequest, match=r"already has train\.py"):
        session.train("print('mine')", source_dir=tmp_path)


def test_duplicate_name_raises_already_exists(session: Session) -> None:
    done(session.train("pass", name="only-once"))
    with pytest.raises(AlreadyExists):
        session.train("pass", name="only-once")
    assert [r.name for r in session.ledger.list_jobs()] == ["only-once"]


class _AlwaysTaken(LocalBackend):
    """A backend on which every name is taken."""

    name = "always-taken"

    def create_training_job(self, spec: TrainingSpec) -> None:
        raise AlreadyExists(f"{spec.name} is taken")


def test_generated_name_retries_end_in_an_error_not_a_phantom_job(
    sm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry._registry, "always-taken", _AlwaysTaken)
    session = Session("always-taken")
    with pytest.raises(AlreadyExists):
        session.train("pass")


@pytest.mark.slow
def test_generated_names_unique_under_concurrent_submissions(session: Session) -> None:
    count = 20
    barrier = threading.Barrier(count)
    jobs: list[Job] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def submit() -> None:
        try:
            barrier.wait(30)
            job = session.train("pass")
            with lock:
                jobs.append(job)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert errors == []
    names = [job.name for job in jobs]
    assert len(names) == count == len(set(names))
    assert all(JOB_NAME_RE.fullmatch(name) for name in names)
    assert sorted(r.name for r in session.ledger.list_jobs()) == sorted(names)
    for job in jobs:
        assert done(job).status == "Completed", job.failure_reason


# -- Job: lookup, wait, logs, metrics ------------------------------------------------------


def test_session_job_finds_known_and_rejects_unknown(session: Session) -> None:
    created = session.train("print('x')", name="findable")
    again = Session().job("findable")  # a new session, as after a kernel restart
    assert again.name == "findable" and again.backend_name == "local"
    assert done(again).status == "Completed"
    assert created.status == "Completed"  # two handles never disagree
    with pytest.raises(NotFound, match="no-such-job"):
        session.job("no-such-job")


def test_wait_timeout_raises_and_the_job_goes_on(session: Session) -> None:
    job = session.train(SLEEPER, name="waits-too-long")
    with pytest.raises(WaitTimeout, match="goes on") as info:
        job.wait(0.5, poll=0.05)
    assert "waits-too-long" in str(info.value)
    with pytest.raises(WaitTimeout):
        job.wait("1s", poll=0.05)
    assert job.status == "InProgress"
    job.stop()
    assert done(job).status == "Stopped"
    assert job.wait(0.5, raise_on_failure=True) is job  # Stopped is not a failure


def test_wait_calls_on_poll_until_the_end(session: Session) -> None:
    seen: list[str] = []
    job = session.train("import time\ntime.sleep(0.3)\n")
    job.wait(TIMEOUT, poll=0.05, on_poll=lambda d: seen.append(d["TrainingJobStatus"]))
    assert seen[-1] == "Completed"
    assert all(status == "InProgress" for status in seen[:-1])


def test_wait_raise_on_failure(session: Session) -> None:
    job = session.train("raise ValueError('bad-input-column')\n", name="api-fails")
    assert done(job).status == "Failed"  # without raise_on_failure: returns
    with pytest.raises(JobFailed) as info:
        job.wait(TIMEOUT, raise_on_failure=True)
    error = info.value
    assert error.name == "api-fails" and error.status == "Failed"
    assert error.reason is not None and "bad-input-column" in error.reason
    assert "bad-input-column" in str(error)
    assert job.failure_reason == error.reason


def test_logs_prefix_hosts_only_with_several(session: Session) -> None:
    one = session.train("print('single host line')\n")
    two = session.train("print('multi host line')\n", instance_count=2)
    done(one)
    done(two)
    one_lines = one.logs().splitlines()
    assert "single host line" in one_lines
    assert not any(line.startswith("[algo-") for line in one_lines)
    two_lines = two.logs().splitlines()
    assert "[algo-1] multi host line" in two_lines
    assert "[algo-2] multi host line" in two_lines
    assert all(line.startswith(("[algo-1] ", "[algo-2] ")) for line in two_lines)


def test_format_log_line() -> None:
    event = LogEvent(timestamp=1, host="algo-3", message="hi")
    assert format_log_line(event, True) == "[algo-3] hi"
    assert format_log_line(event, False) == "hi"


def test_metrics_series(session: Session) -> None:
    job = session.train(
        "for i in range(6):\n    print(f'step {i} loss={1 / (i + 1):.3f} acc={i / 10}')\n"
        "print('loss=not-a-number')\n",
        metric_definitions={
            "loss": r"loss=([0-9.]+)",
            "acc": r"acc=([0-9.]+)",
            "never": r"never=(\d+)",
        },
    )
    done(job)
    series = job.metrics()
    assert set(series) == {"loss", "acc", "never"}
    assert [p.value for p in series["loss"]] == [1.0, 0.5, 0.333, 0.25, 0.2, 0.167]
    assert [p.value for p in series["acc"]] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert series["never"] == []
    stamps = [p.timestamp for p in series["loss"]]
    assert stamps == sorted(stamps) and all(isinstance(t, int) for t in stamps)
    assert {p.name for p in series["acc"]} == {"acc"}


def test_job_without_metrics_has_none(session: Session) -> None:
    job = done(session.train("print('loss=1')\n"))
    assert job.metrics() == {}


def test_job_repr_and_row(session: Session) -> None:
    job = done(session.train("pass", name="repr-job", instance_type="ml.c5.xlarge"))
    assert repr(job) == "<Job repr-job (local) Completed/Completed>"
    row = job.row()
    assert (row.name, row.status, row.instance) == ("repr-job", "Completed", "ml.c5.xlarge")
    assert row.duration is not None and row.duration >= 0
    assert row.cost is not None and row.cost >= 0
    bundle = job._repr_mimebundle_()
    assert bundle["text/plain"] == repr(job)


def test_job_repr_never_raises(session: Session) -> None:
    ghost = Job(session, "never-created", "local")
    assert repr(ghost) == "<Job never-created (local)>"


# -- the log follower --------------------------------------------------------------------------


def test_log_follower_delivers_every_line_once_in_order(session: Session) -> None:
    job = session.train(
        "import time\nfor i in range(200):\n    print(f'line {i}')\n"
        "    if i % 40 == 0:\n        time.sleep(0.1)\n"
    )
    batches: list[list[LogEvent]] = []
    statuses: list[str] = []
    follower = LogFollower(
        job,
        batches.append,
        lambda d: statuses.append(d["TrainingJobStatus"]),
        min_interval=0.02,
        max_interval=0.1,
        status_interval=0.1,
    )
    follower.start()
    follower.join(TIMEOUT)
    assert not follower.is_alive()
    assert follower.error is None
    assert all(batches)  # never called with nothing
    events = [event for batch in batches for event in batch]
    lines = [e.message for e in events if e.message.startswith("line ")]
    assert lines == [f"line {i}" for i in range(200)]
    # Exactly what the backend holds, nothing twice, nothing missed (the final line too).
    assert Counter(events) == Counter(job.iter_log_events())
    assert events[-1].message == "Training job completed"
    assert statuses[-1] == "Completed"
    assert all(status == "InProgress" for status in statuses[:-1])


def test_log_follower_stop_ends_it_early(session: Session) -> None:
    job = session.train(SLEEPER)
    statuses: list[str] = []
    follower = LogFollower(
        job,
        lambda events: None,
        lambda d: statuses.append(d["TrainingJobStatus"]),
        min_interval=0.02,
        max_interval=0.1,
        status_interval=0.1,
    )
    follower.start()
    follower.stop()
    follower.join(TIMEOUT)
    assert not follower.is_alive() and follower.error is None
    assert job.status == "InProgress"
    job.stop()
    done(job)


def test_log_follower_records_an_error_instead_of_dying_silently(session: Session) -> None:
    follower = LogFollower(Job(session, "vanished", "local"), lambda e: None, lambda d: None)
    follower.start()
    follower.join(TIMEOUT)
    assert isinstance(follower.error, NotFound)


def test_stream_until_done(session: Session) -> None:
    job = session.train("print('a')\nprint('b')\n", instance_count=2)
    written: list[str] = []
    seen: list[str] = []
    final = stream_until_done(
        job, written.append, on_status=lambda d: seen.append(d["TrainingJobStatus"])
    )
    assert final["TrainingJobStatus"] == "Completed"
    assert seen[-1] == "Completed"
    for host in ("algo-1", "algo-2"):
        assert written.index(f"[{host}] a") < written.index(f"[{host}] b")
    # Every line once (batches may order two hosts' lines differently from one full read).
    assert sorted(written) == sorted(job.logs().splitlines())


# -- tables --------------------------------------------------------------------------------------


def _row(name: str, status: str, **kw: Any) -> JobRow:
    values: dict[str, Any] = {
        "name": name,
        "backend": "local",
        "status": status,
        "secondary_status": "Training",
        "instance_type": "ml.m5.large",
        "instance_count": 1,
        "duration": 75.0,
        "cost": 0.0024,
    }
    values.update(kw)
    return JobRow(**values)


def test_job_table_text() -> None:
    table = JobTable(
        [
            _row("short", "InProgress"),
            _row(
                "a-much-longer-job-name",
                "Completed",
                secondary_status="Completed",
                instance_count=2,
                duration=None,
                cost=None,
            ),
        ]
    )
    lines = repr(table).splitlines()
    assert len(lines) == 3 and len(table) == 2
    header = lines[0]
    assert header.split() == ["name", "kind", "backend", "status", "instance", "duration", "cost"]
    # Columns are aligned: every column starts where its header does.
    for column in ("backend", "status", "instance"):
        start = header.index(column)
        for line in lines[1:]:
            assert line[start - 2 : start] == "  " and line[start] != " "
    assert "InProgress (Training)" in lines[1]
    assert "1m 15s" in lines[1]
    assert "ml.m5.large \u00d72" in lines[2]
    assert "Completed (" not in lines[2]  # the secondary status shows only while running
    assert [row.name for row in table] == ["short", "a-much-longer-job-name"]


JOB_STATUSES = ("InProgress", "Completed", "Failed", "Stopped", "Stopping")


def test_job_table_html_colours_and_escapes() -> None:
    table = JobTable(
        [_row("x<script>alert(1)</script>", status) for status in JOB_STATUSES]
        + [_row("odd & end", "Weird")]
    )
    html = table._repr_html_()
    assert "<script>" not in html
    assert "x&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "odd &amp; end" in html
    for status in JOB_STATUSES:  # STATUS_COLOURS also holds the endpoints' statuses
        colour = STATUS_COLOURS[status]
        assert f"<span style='color:{colour};font-weight:600'>{status}" in html
    assert "<span style='color:inherit;font-weight:600'>Weird</span>" in html
    # Wrapped so that JupyterLab's MathJax leaves the dollar amounts alone.
    assert html.startswith("<div class='sm-magics mathjax_ignore tex2jax_ignore'><table")
    assert html.count("<tr>") == 7


def test_empty_job_table() -> None:
    assert repr(JobTable([])) == "No jobs yet."
    assert JobTable([])._repr_html_() == (
        "<div class='sm-magics mathjax_ignore tex2jax_ignore'><p>No jobs yet.</p></div>"
    )


def test_session_jobs_filters(session: Session) -> None:
    done(session.train("pass", name="ok-one"))
    done(session.train("raise SystemExit(1)", name="bad-one"))
    assert {r.name: r.status for r in session.jobs()} == {
        "ok-one": "Completed",
        "bad-one": "Failed",
    }
    assert [r.name for r in session.jobs(status="Failed")] == ["bad-one"]
    assert [r.name for r in session.jobs(limit=1)] == ["bad-one"]
    assert len(session.jobs(backend="sagemaker")) == 0


def test_download_model_extracts_the_archive_of_a_local_job(tmp_path: Path) -> None:
    script = (
        "import os\n"
        "open(os.path.join(os.environ['SM_MODEL_DIR'], 'weights.txt'), 'w').write('42')\n"
    )
    job = Session().train(script).wait()

    folder = job.download_model(tmp_path / "model")

    assert folder == tmp_path / "model"
    assert (folder / "weights.txt").read_text() == "42"


def test_download_model_before_the_model_exists_says_to_wait(tmp_path: Path) -> None:
    job = Session().train("import time\ntime.sleep(30)\n")
    try:
        with pytest.raises(InvalidRequest, match="%sm_wait"):
            job.download_model(tmp_path / "model")
    finally:
        job.stop()
    assert not (tmp_path / "model").exists() or not any((tmp_path / "model").iterdir())
