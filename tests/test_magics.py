"""The ``%sm_*`` training magics, driven through a real IPython ``InteractiveShell``.

Every test talks to the local backend, whose jobs are real detached processes; waits use
generous timeouts that only keep a broken job from hanging the suite.

Outside a kernel (as here) ``%%sm_train`` without ``--wait`` also streams the job's lines
from a background thread, each prefixed ``[job-name]``; tests that read stdout ignore those
lines with :func:`own_lines` unless they are what is tested.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from sm_magics import config, job_magics, magics
from sm_magics.api import JOB_NAME_RE, Job, JobTable
from sm_magics.ledger import Ledger
from sm_magics.logs import LogFollower
from sm_magics.magics import SageMakerMagics

TIMEOUT = 90  # only against hangs; nothing asserts how long a job took

# -- fixtures and helpers ----------------------------------------------------------------------

_BACKGROUND_LINE = re.compile(r"^\[(?!algo-\d+\])[A-Za-z0-9-]+\] ")


def own_lines(text: str) -> list[str]:
    """Return the lines of ``text`` that background followers did not print."""
    return [line for line in text.splitlines() if not _BACKGROUND_LINE.match(line)]


def follower_of(name: str) -> LogFollower:
    """Return the background follower thread of job ``name``."""
    found = [
        t
        for t in threading.enumerate()
        if isinstance(t, LogFollower) and t.name == f"sm-magics-follow-{name}"
    ]
    assert len(found) == 1, found
    return found[0]


def snapshot() -> tuple[list[str], list[str]]:
    """Return (ledger job names, job folder names) under the current home."""
    ledger = Ledger()
    try:
        names = sorted(r.name for r in ledger.list_jobs())
    finally:
        ledger.close()
    jobs = config.home_dir() / "jobs"
    folders = sorted(p.name for p in jobs.iterdir()) if jobs.is_dir() else []
    return names, folders


def train(ip: InteractiveShell, line: str, cell: str | None) -> Job:
    """Run ``%%sm_train`` (or ``%sm_train`` when ``cell`` is None) and return the Job."""
    if cell is None:
        job = ip.run_line_magic("sm_train", line)
    else:
        job = ip.run_cell_magic("sm_train", line, textwrap.dedent(cell))
    assert isinstance(job, Job)
    return job


def finished(job: Job) -> Job:
    return job.wait(TIMEOUT, poll=0.05)


def marked(text: str, marker: str) -> Any:
    """Return the JSON after ``marker`` on the one log line that starts with it."""
    lines = [line for line in text.splitlines() if line.startswith(marker)]
    assert len(lines) == 1, text
    return json.loads(lines[0][len(marker) :])


SLEEPER = "import time\ntime.sleep(120)\n"

# -- %%sm_train: returning at once, binding, waiting ---------------------------------------


def test_cell_returns_job_at_once_then_completes(ip: InteractiveShell, tmp_path: Path) -> None:
    gate = tmp_path / "gate"  # the script waits for this file: only the test can end it
    result = ip.run_cell(
        f"%%sm_train --env GATE={gate}\n"
        "import os, time\n"
        "while not os.path.exists(os.environ['GATE']):\n"
        "    time.sleep(0.02)\n"
        "print('done here')\n"
    )
    job = result.result
    assert result.error_in_exec is None
    assert isinstance(job, Job)
    assert job.status == "InProgress"  # the magic returned while the script cannot finish
    assert ip.user_ns["_"] is job  # the cell's value
    assert JOB_NAME_RE.fullmatch(job.name)
    assert job.name.startswith("sm-train-")
    gate.touch()
    assert finished(job).status == "Completed"
    assert "done here" in job.logs().splitlines()


def test_terminal_streams_lines_in_the_background(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    job = train(ip, "bg-job", "print('first bg line')\nprint('second bg line')\n")
    follower = follower_of("bg-job")
    finished(job)
    follower.join(TIMEOUT)
    assert not follower.is_alive() and follower.error is None
    out = capsys.readouterr().out.splitlines()
    first, second = out.index("[bg-job] first bg line"), out.index("[bg-job] second bg line")
    assert first < second
    assert out[-1] == "[bg-job] Completed"


def test_out_binds_the_handle(ip: InteractiveShell) -> None:
    job = train(ip, "my-bound-job -o handle", "print('x')")
    bound = ip.user_ns["handle"]
    assert isinstance(bound, Job)
    assert bound.name == job.name == "my-bound-job"
    finished(job)


def test_wait_streams_script_lines_then_summary(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    job = train(ip, "--wait", "for i in range(5):\n    print(f'line-{i}')\n")
    # --wait returned: the job has ended, and every line went to this cell's stdout.
    assert job.status == "Completed"
    out = own_lines(capsys.readouterr().out)
    assert f"[{job.name}]" not in "\n".join(out)  # --wait streams here, not in the background
    assert out[0] == f"Training job {job.name} on local: waiting (logs follow)."
    positions = [out.index(f"line-{i}") for i in range(5)]
    assert positions == sorted(positions)
    summary = [i for i, line in enumerate(out) if line.startswith(f"{job.name}: Completed")]
    assert len(summary) == 1
    assert summary[0] > positions[-1]
    assert "training time" in out[summary[0]] and "$" in out[summary[0]]
    # Only the model location may follow the summary.
    assert all(line.startswith("Model: file://") for line in out[summary[0] + 1 :])


def test_wait_on_failing_script_raises_usage_error(ip: InteractiveShell) -> None:
    before = snapshot()
    with pytest.raises(UsageError, match="kaboom-1234") as info:
        ip.run_cell_magic(
            "sm_train", "failing-job --wait -o failed", "raise ValueError('kaboom-1234')\n"
        )
    assert "failing-job" in str(info.value)
    assert ip.user_ns["failed"].name == "failing-job"  # bound before waiting: inspectable
    assert "Failed" in str(info.value)
    # The job itself was created (bad code is not bad input) and ended Failed.
    assert snapshot()[0] == sorted([*before[0], "failing-job"])
    assert ip.run_line_magic("sm_jobs", "--status Failed").rows[0].name == "failing-job"


def test_interrupting_wait_leaves_the_job_running(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_args: Any, **_kwargs: Any) -> dict[str, Any]:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(magics, "stream_until_done", interrupted)  # %%sm_train --wait
        patched.setattr(job_magics, "stream_until_done", interrupted)  # %sm_logs -f
        job = train(ip, "interrupted-job --wait", SLEEPER)
        assert ip.run_line_magic("sm_logs", "-f interrupted-job") is None
    out = own_lines(capsys.readouterr().out)
    assert "Stopped waiting; interrupted-job goes on. %sm_stop interrupted-job stops it." in out
    assert "Stopped following interrupted-job." in out
    assert job.status == "InProgress"
    ip.run_line_magic("sm_stop", "interrupted-job")
    assert finished(job).status == "Stopped"


def test_failing_script_shows_one_usage_error_no_traceback(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    result = ip.run_cell("%%sm_train --wait\nraise RuntimeError('no-traceback-please')\n")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert err.startswith("UsageError: ")
    assert "no-traceback-please" in err
    assert "Traceback" not in err and "sm_magics/" not in err


# -- %sm_train on one line: an existing script ----------------------------------------------


def test_line_form_runs_existing_script_unchanged(
    ip: InteractiveShell,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    script = (
        "from pathlib import Path\n"
        "import sibling_module\n"
        "print('DATA=' + Path('data.txt').read_text().strip())\n"
        "print('SIBLING=' + sibling_module.VALUE)\n"
    )
    (scripts / "train.py").write_text(script)
    (scripts / "sibling_module.py").write_text("VALUE = 'imported-ok'\n")
    (scripts / "data.txt").write_text("read-relative-ok\n")
    monkeypatch.chdir(tmp_path)

    job = train(ip, "--source-dir scripts --entry-point train.py --wait", None)

    assert job.status == "Completed", job.failure_reason
    out = own_lines(capsys.readouterr().out)
    assert "DATA=read-relative-ok" in out
    assert "SIBLING=imported-ok" in out
    code = Path(job.describe()["LocalJobDir"]) / "code"
    assert (code / "train.py").read_text() == script  # run unchanged


def test_line_form_without_entry_point_is_usage_error(ip: InteractiveShell) -> None:
    before = snapshot()
    with pytest.raises(UsageError, match="--entry-point"):
        ip.run_line_magic("sm_train", "--wait")
    assert snapshot() == before


def test_cell_and_entry_point_together_is_usage_error(ip: InteractiveShell, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print(1)\n")
    before = snapshot()
    with pytest.raises(UsageError, match="not both"):
        ip.run_cell_magic(
            "sm_train", f"--source-dir {tmp_path} --entry-point train.py", "print(2)\n"
        )
    assert snapshot() == before


# -- what the script sees ----------------------------------------------------------------------


def test_hp_json_values_reach_sm_hps_typed(ip: InteractiveShell) -> None:
    job = train(
        ip,
        "--hp epochs=3 lr=0.25 --hp flag=true layers=[1,2] criterion=gini note=1x",
        """
        import os, sys
        print('HPS=' + os.environ['SM_HPS'])
        print('ARGV=' + __import__('json').dumps(sys.argv[1:]))
        print('HP_EPOCHS=' + os.environ['SM_HP_EPOCHS'])
        """,
    )
    assert finished(job).status == "Completed", job.failure_reason
    logs = job.logs()
    assert marked(logs, "HPS=") == {
        "epochs": 3,
        "lr": 0.25,
        "flag": True,
        "layers": [1, 2],
        "criterion": "gini",
        "note": "1x",
    }
    # As the SageMaker toolkit passes them: sorted --key value pairs.
    argv = marked(logs, "ARGV=")
    assert argv[argv.index("--epochs") + 1] == "3"
    assert argv[argv.index("--flag") + 1] == "True"
    assert "HP_EPOCHS=3" in logs.splitlines()
    assert job.describe()["HyperParameters"]["criterion"] == '"gini"'


def test_input_channels(ip: InteractiveShell, tmp_path: Path) -> None:
    train_dir = tmp_path / "train-data"
    train_dir.mkdir()
    (train_dir / "a.csv").write_text("1,2\n")
    single = tmp_path / "test.csv"
    single.write_text("3,4\n")
    job = train(
        ip,
        f"--input train={train_dir} test={single.as_uri()}",
        """
        import json, os
        print('CHANNELS=' + os.environ['SM_CHANNELS'])
        print('TRAIN=' + json.dumps(sorted(os.listdir(os.environ['SM_CHANNEL_TRAIN']))))
        with open(os.path.join(os.environ['SM_CHANNEL_TEST'], 'test.csv')) as f:
            print('TEST=' + json.dumps(f.read()))
        """,
    )
    assert finished(job).status == "Completed", job.failure_reason
    logs = job.logs()
    assert marked(logs, "CHANNELS=") == ["test", "train"]
    assert marked(logs, "TRAIN=") == ["a.csv"]
    assert marked(logs, "TEST=") == "3,4\n"
    channels = {c["ChannelName"] for c in job.describe()["InputDataConfig"]}
    assert channels == {"train", "test"}


def test_env_variables(ip: InteractiveShell) -> None:
    job = train(
        ip,
        "--env MY_FLAG=on --env MY_PAIR=a=b",
        "import os\nprint('ENV=' + os.environ['MY_FLAG'] + '|' + os.environ['MY_PAIR'])\n",
    )
    assert finished(job).status == "Completed", job.failure_reason
    assert "ENV=on|a=b" in job.logs().splitlines()
    assert job.describe()["Environment"] == {"MY_FLAG": "on", "MY_PAIR": "a=b"}


def test_tags_are_recorded(ip: InteractiveShell) -> None:
    job = train(ip, "--tag team=ml --tag project=churn", "print(1)\n")
    assert job.describe()["Tags"] == {"team": "ml", "project": "churn"}
    ledger = Ledger()
    record = ledger.get_job(job.name)
    ledger.close()
    assert record is not None and record.tags == {"team": "ml", "project": "churn"}
    finished(job)


def test_metric_with_regex(ip: InteractiveShell) -> None:
    job = train(
        ip,
        r"--metric loss=loss=([0-9.]+) --metric acc=acc:\s*([0-9.]+)",
        "for i, v in enumerate([0.9, 0.5, 0.25]):\n    print(f'epoch {i} loss={v} acc: {1 - v}')\n",
    )
    assert finished(job).status == "Completed", job.failure_reason
    series = job.metrics()
    assert [p.value for p in series["loss"]] == [0.9, 0.5, 0.25]
    assert [p.value for p in series["acc"]] == pytest.approx([0.1, 0.5, 0.75])
    final = {m["MetricName"]: m["Value"] for m in job.describe()["FinalMetricDataList"]}
    assert final == pytest.approx({"loss": 0.25, "acc": 0.75})


def test_quoted_metric_regex_with_spaces(ip: InteractiveShell) -> None:
    """A regex with spaces must be quoted; the quotes are not part of the name or regex."""
    job = train(
        ip,
        "--metric 'train loss=train loss: ([0-9.]+)' --hp \"note=two words\"",
        "import os\nprint('train loss: 0.125')\nprint('NOTE=' + os.environ['SM_HP_NOTE'])\n",
    )
    definitions = job.describe()["AlgorithmSpecification"]["MetricDefinitions"]
    assert definitions == [{"Name": "train loss", "Regex": "train loss: ([0-9.]+)"}]
    assert finished(job).status == "Completed", job.failure_reason
    assert [p.value for p in job.metrics()["train loss"]] == [0.125]
    assert "NOTE=two words" in job.logs().splitlines()


def test_two_hosts(ip: InteractiveShell) -> None:
    job = train(
        ip,
        "-n 2",
        "import os\nprint(f\"HOST={os.environ['SM_CURRENT_HOST']} {os.environ['SM_HOSTS']}\")\n",
    )
    assert finished(job).status == "Completed", job.failure_reason
    lines = job.logs().splitlines()
    assert '[algo-1] HOST=algo-1 ["algo-1","algo-2"]' in lines
    assert '[algo-2] HOST=algo-2 ["algo-1","algo-2"]' in lines
    assert all(re.match(r"\[algo-[12]\] ", line) for line in lines)
    assert job.describe()["ResourceConfig"]["InstanceCount"] == 2
    assert job.row().instance == "ml.m5.large \u00d72"


def test_max_run_stops_a_long_job(ip: InteractiveShell) -> None:
    job = train(ip, "--max-run 1s", SLEEPER)
    assert job.describe()["StoppingCondition"]["MaxRuntimeInSeconds"] == 1
    description = finished(job).describe()
    assert description["TrainingJobStatus"] == "Stopped"
    assert description["SecondaryStatus"] == "MaxRuntimeExceeded"


# -- %sm_jobs, %sm_logs, %sm_wait, %sm_stop ----------------------------------------------------


def test_sm_jobs_lists_filters_and_limits(ip: InteractiveShell) -> None:
    good = finished(train(ip, "listed-good", "print(1)\n"))
    bad = finished(train(ip, "listed-bad", "raise SystemExit(3)\n"))
    assert (good.status, bad.status) == ("Completed", "Failed")

    table = ip.run_line_magic("sm_jobs", "")
    assert isinstance(table, JobTable)
    assert {row.name: row.status for row in table} == {
        "listed-good": "Completed",
        "listed-bad": "Failed",
    }
    text = repr(table).splitlines()
    assert text[0].split() == ["name", "kind", "backend", "status", "instance", "duration", "cost"]
    rows = {line.split()[0]: line.split() for line in text[1:]}
    assert rows["listed-good"][1:4] == ["training", "local", "Completed"]
    assert rows["listed-bad"][1:4] == ["training", "local", "Failed"]
    assert "listed-good" in table._repr_html_()

    completed = ip.run_line_magic("sm_jobs", "--status Completed")
    assert [row.name for row in completed] == ["listed-good"]
    limited = ip.run_line_magic("sm_jobs", "--limit 1")
    assert [row.name for row in limited] == ["listed-bad"]  # newest first
    assert ip.run_line_magic("sm_jobs", "--status Stopped").rows == []
    with pytest.raises(UsageError, match="--limit"):
        ip.run_line_magic("sm_jobs", "--limit 0")


def test_sm_jobs_empty(ip: InteractiveShell) -> None:
    table = ip.run_line_magic("sm_jobs", "")
    assert len(table) == 0
    assert repr(table) == "No jobs yet."


def test_sm_logs_prints_every_line(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    job = finished(train(ip, "logged-job", "for i in range(30):\n    print(f'row {i}')\n"))
    capsys.readouterr()
    assert ip.run_line_magic("sm_logs", "logged-job") is None
    out = own_lines(capsys.readouterr().out)
    rows = [line for line in out if line.startswith("row ")]
    assert rows == [f"row {i}" for i in range(30)]
    assert out[-1] == "Training job completed"
    assert job.status == "Completed"


def test_sm_logs_follow_until_the_end(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    job = train(
        ip,
        "followed-job",
        "import time\nfor i in range(5):\n    print(f'tick {i}')\n    time.sleep(0.2)\n",
    )
    capsys.readouterr()
    ip.run_line_magic("sm_logs", "-f followed-job")
    # -f returned only because the job ended, and printed everything it wrote.
    assert job.status == "Completed"
    out = own_lines(capsys.readouterr().out)
    assert [line for line in out if line.startswith("tick ")] == [f"tick {i}" for i in range(5)]
    assert out[-1] == "Training job completed"


def test_sm_wait_returns_the_job(ip: InteractiveShell) -> None:
    train(ip, "waited-job", "import time\ntime.sleep(0.5)\n")
    job = ip.run_line_magic("sm_wait", f"waited-job --timeout {TIMEOUT} -o waited")
    assert isinstance(job, Job)
    assert job.name == "waited-job"
    assert job.status == "Completed"
    assert ip.user_ns["waited"].name == "waited-job"


def test_sm_wait_on_failed_job_raises_with_reason(ip: InteractiveShell) -> None:
    finished(train(ip, "sad-job", "raise KeyError('missing-column')\n"))
    with pytest.raises(UsageError, match="missing-column"):
        ip.run_line_magic("sm_wait", "sad-job")


def test_sm_wait_timeout_says_the_job_goes_on(ip: InteractiveShell) -> None:
    job = train(ip, "long-job", SLEEPER)
    with pytest.raises(UsageError, match="goes on") as info:
        ip.run_line_magic("sm_wait", "long-job --timeout 1")
    assert "long-job" in str(info.value)
    assert job.status == "InProgress"
    job.stop()
    assert finished(job).status == "Stopped"


def test_sm_stop_leads_to_stopped(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    job = train(ip, "stopped-job", SLEEPER)
    stopped = ip.run_line_magic("sm_stop", "stopped-job")
    assert isinstance(stopped, Job) and stopped.name == "stopped-job"
    assert job.status in {"Stopping", "Stopped"}
    assert finished(job).status == "Stopped"
    # Stopping again is harmless, and says why nothing happens.
    capsys.readouterr()
    assert ip.run_line_magic("sm_stop", "stopped-job --wait").status == "Stopped"
    assert "Job stopped-job already ended (Stopped): nothing to stop." in capsys.readouterr().out


@pytest.mark.parametrize("magic", ["sm_logs", "sm_wait", "sm_stop", "sm_logs -f"])
def test_unknown_job_is_usage_error(ip: InteractiveShell, magic: str) -> None:
    name, _, flag = magic.partition(" ")
    before = snapshot()
    with pytest.raises(UsageError, match="no-such-job"):
        ip.run_line_magic(name, f"{flag} no-such-job".strip())
    assert snapshot() == before


# -- notes, configuration, backends ------------------------------------------------------------


def test_sagemaker_only_options_print_a_note(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    job = train(ip, "--image 123.dkr.ecr.us-east-1.amazonaws.com/x:1 --spot", "print(1)\n")
    out = capsys.readouterr().out
    assert "recorded, not used here" in out
    assert "--image 123.dkr.ecr.us-east-1.amazonaws.com/x:1" in out and "--spot" in out
    assert job.describe()["EnableManagedSpotTraining"] is True
    assert finished(job).status == "Completed"


def test_no_note_without_sagemaker_only_options(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    finished(train(ip, "", "print(1)\n"))
    assert "recorded, not used here" not in capsys.readouterr().out


def test_config_instance_type_applies_to_next_job(ip: InteractiveShell) -> None:
    first = train(ip, "", "print(1)\n")
    ip.run_line_magic("config", 'SageMakerMagics.instance_type = "ml.c5.xlarge"')
    second = train(ip, "", "print(1)\n")
    explicit = train(ip, "-i ml.m5.2xlarge", "print(1)\n")
    assert first.describe()["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert second.describe()["ResourceConfig"]["InstanceType"] == "ml.c5.xlarge"
    assert explicit.describe()["ResourceConfig"]["InstanceType"] == "ml.m5.2xlarge"
    for job in (first, second, explicit):
        finished(job)


def test_environment_defaults_for_a_fresh_magics(
    monkeypatch: pytest.MonkeyPatch, sm_home: Path
) -> None:
    monkeypatch.setenv("SM_MAGICS_BACKEND", "sagemaker")
    monkeypatch.setenv("SM_MAGICS_INSTANCE_TYPE", "ml.c5.2xlarge")
    monkeypatch.setenv("SM_MAGICS_REGION", "eu-west-1")
    fresh = SageMakerMagics(shell=None)
    assert fresh.backend == "sagemaker"
    assert fresh.instance_type == "ml.c5.2xlarge"
    assert fresh.region == "eu-west-1"
    assert fresh.session.backend_name == "sagemaker"
    assert fresh.session.instance_type == "ml.c5.2xlarge"

    monkeypatch.setenv("SM_MAGICS_BACKEND", "local")
    local = SageMakerMagics(shell=None)
    job = local.sm_train("", "print(1)\n")
    assert isinstance(job, Job) and job.backend_name == "local"
    assert job.describe()["ResourceConfig"]["InstanceType"] == "ml.c5.2xlarge"
    finished(job)


def test_unknown_backend_names_the_choices(ip: InteractiveShell) -> None:
    before = snapshot()
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("sm_train", "-b nosuch", "print(1)\n")
    message = str(info.value)
    assert "nosuch" in message and "local" in message and "sagemaker" in message
    assert snapshot() == before


# -- bad input creates nothing -------------------------------------------------------------


BAD_LINES = {
    "unknown flag": "--bogus-flag 1",
    "malformed hp": "--hp epochs",
    "hp without key": "--hp =3",
    "bad hp name": "--hp 9lives=1",
    "bad job name": "bad_name!",
    "name too long": "a" * 64,
    "name too long with hyphens": "a" + "-" * 70 + "b",
    "missing channel path": "--input train=/no/such/folder/anywhere",
    "s3 channel locally": "--input train=s3://bucket/key",
    "bad channel name": "--input tr@in=.",
    "bad env": "--env NOEQUALS",
    "bad metric regex": "--metric loss=(unclosed",
    "huge metric repeat": "--metric loss=a{{99999999999}}",  # {{ }}: IPython's escape
    "deeply nested metric": "--metric loss=" + "(" * 2000 + ")" * 2000,
    "bad max-run": "--max-run soon",
    "huge max-run": "--max-run " + "9" * 400,
    "zero hosts": "-n 0",
    "non-integer hosts": "-n two",
    "unknown backend": "-b nosuch",
    "missing source dir": "--source-dir /no/such/dir",
    "missing requirements": "--requirements /no/such/requirements.txt",
    "bad out variable": "-o 'not a name'",
    "out not identifier": "-o 1abc",
    "unbalanced quote": "--hp 'x=1",
}


@pytest.mark.parametrize("line", list(BAD_LINES.values()), ids=list(BAD_LINES))
def test_bad_input_creates_nothing(ip: InteractiveShell, line: str) -> None:
    before = snapshot()
    with pytest.raises(UsageError):
        ip.run_cell_magic("sm_train", line, "print('must not run')\n")
    assert snapshot() == before
    assert "not a name" not in ip.user_ns


def test_bad_input_is_one_line_in_a_cell(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    result = ip.run_cell("%%sm_train --hp epochs\nprint(1)\n")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert err.strip() == "UsageError: --hp expects KEY=VALUE, got 'epochs'."
    assert snapshot() == ([], [])


def test_duplicate_job_name_creates_nothing(ip: InteractiveShell) -> None:
    first = finished(train(ip, "dup-name", "print('first')\n"))
    before = snapshot()
    with pytest.raises(UsageError, match="already exists"):
        ip.run_cell_magic("sm_train", "dup-name", "print('second')\n")
    assert snapshot() == before
    # The first job is untouched.
    assert first.status == "Completed"
    assert "first" in first.logs().splitlines()
    assert "second" not in first.logs()


def test_unknown_job_creates_nothing(ip: InteractiveShell) -> None:
    finished(train(ip, "known-job", "print(1)\n"))
    before = snapshot()
    for magic in ("sm_wait", "sm_stop", "sm_logs"):
        with pytest.raises(UsageError, match="unknown-job"):
            ip.run_line_magic(magic, "unknown-job")
    assert snapshot() == before
    assert not os.path.exists(config.home_dir() / "jobs" / "unknown-job")
