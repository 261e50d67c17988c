"""``%%sm_process`` and ``Session.process``: parsing, the spec, and the job kind everywhere.

Jobs run for real on the local backend (scripts of a few lines); the point here is the
path from the magic's line to the backend and back through every view of a job.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import path_from_uri
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from sm_magics.api import Job, Session
from sm_magics.api.specs import parse_processing_input, parse_processing_output
from sm_magics.backends import processing as proc
from sm_magics.errors import InvalidRequest, NotFound
from sm_magics.processing_magics import script_arguments

PREP = """\
import argparse
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--scale", type=float)
parser.add_argument("--raw")
parser.add_argument("--out")
args = parser.parse_args()
rows = [float(x) for x in Path(args.raw, "raw.csv").read_text().split()]
Path(args.out).mkdir(parents=True, exist_ok=True)
Path(args.out, "scaled.csv").write_text("\\n".join(str(x * args.scale) for x in rows) + "\\n")
print("scaled", len(rows), "rows", flush=True)
"""


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    path = tmp_path / "raw.csv"
    path.write_text("1\n2\n3\n")
    return path


# -- parsing ----------------------------------------------------------------------------------


def test_inputs_and_outputs_are_read_as_users_write_them() -> None:
    assert parse_processing_input("data/raw.csv=input/raw") == proc.ProcessingInput(
        "raw", "data/raw.csv", "/opt/ml/processing/input/raw"
    )
    sharded = parse_processing_input("s3://b/k=v/parts=/opt/ml/processing/input/parts", ["parts"])
    assert sharded.source == "s3://b/k=v/parts" and sharded.distribution == proc.SHARDED_BY_S3_KEY
    assert parse_processing_output("train=output/train") == proc.ProcessingOutput(
        "train", "output/train"
    )
    assert parse_processing_output("t=output/t=>s3://b/p") == proc.ProcessingOutput(
        "t", "output/t", "s3://b/p"
    )
    for bad in ("no-equals", "=input/x", "src="):
        with pytest.raises(InvalidRequest, match="SRC=DEST"):
            parse_processing_input(bad)
    for bad in ("train", "=output/x", "t=output/t=>"):
        with pytest.raises(InvalidRequest, match="NAME=SRC"):
            parse_processing_output(bad)


def test_arguments_are_split_shell_style() -> None:
    assert script_arguments([["--ratio 0.2", "--flag"], ["'a b'"]]) == [
        "--ratio",
        "0.2",
        "--flag",
        "a b",
    ]
    with pytest.raises(UsageError):
        script_arguments([["'unclosed"]])


def test_session_process_refuses_bad_requests_before_anything(tmp_path: Path, raw: Path) -> None:
    session = Session("local")
    with pytest.raises(InvalidRequest, match="Nothing to run"):
        session.process(None)
    with pytest.raises(InvalidRequest, match="--shard nope"):
        session.process("print(1)", inputs={str(raw): "input/raw"}, shard=["nope"])
    with pytest.raises(InvalidRequest, match="must be a path under"):
        session.process("print(1)", inputs={str(raw): "/tmp/elsewhere"})
    assert session.ledger.list_jobs() == []


# -- the magic, end to end --------------------------------------------------------------------


def test_a_processing_cell_feeds_a_training_cell(
    ip: InteractiveShell, raw: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = (
        f"prep --input {raw.parent}=input/raw --output scaled=output/scaled "
        '--arg "--scale 10" --arg=--raw=/opt/ml/processing/input/raw '
        "--arg=--out=/opt/ml/processing/output/scaled --env MODE=test -i ml.c5.xlarge --wait"
    )
    job = ip.run_cell_magic("sm_process", line, PREP)
    assert isinstance(job, Job) and (job.kind, job.status) == ("processing", "Completed")
    out = capsys.readouterr().out
    assert "Processing job prep on local: waiting (logs follow)." in out
    assert "scaled 3 rows" in out
    assert f"Output scaled: {job.outputs.scaled}" in out
    assert job.outputs == {"scaled": job.outputs["scaled"]}
    folder = path_from_uri(job.outputs.scaled)
    assert (folder / "scaled.csv").read_text() == "10.0\n20.0\n30.0\n"
    with pytest.raises(AttributeError, match="has: scaled"):
        _ = job.outputs.nope

    ip.user_ns["prep"] = job
    script = "import os\nprint(sorted(os.listdir(os.environ['SM_CHANNEL_TRAIN'])))\n"
    train = ip.run_cell_magic("sm_train", "fit --input train={prep.outputs.scaled} --wait", script)
    assert train.status == "Completed"
    assert "['scaled.csv']" in capsys.readouterr().out

    table = ip.run_line_magic("sm_jobs", "")
    assert {(r.name, r.kind) for r in table} == {("prep", "processing"), ("fit", "training")}
    assert [r.name for r in ip.run_line_magic("sm_jobs", "--kind processing")] == ["prep"]
    assert "processing" in repr(table)
    row = next(r for r in table if r.name == "prep")
    assert row.instance == "ml.c5.xlarge" and row.cost is not None and row.cost > 0

    ip.run_line_magic("sm_logs", "prep")
    assert "scaled 3 rows" in capsys.readouterr().out
    assert ip.run_line_magic("sm_wait", "prep").kind == "processing"
    assert ip.run_line_magic("sm_stop", "prep").status == "Completed"  # ended: nothing to do


def test_the_line_form_runs_an_existing_script_and_o_binds(
    ip: InteractiveShell, tmp_path: Path, raw: Path
) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "prep.py").write_text(PREP)
    (scripts / "helper.txt").write_text("shipped with the code")
    line = (
        f"--source-dir {scripts} --entry-point prep.py --input {raw}=input/raw "
        "--output scaled=output/scaled --arg=--scale=2 --arg=--raw=/opt/ml/processing/input/raw "
        "--arg=--out=/opt/ml/processing/output/scaled -o handle --wait"
    )
    ip.run_line_magic("sm_process", line)
    job = ip.user_ns["handle"]
    assert job.name.startswith("sm-process-") and job.status == "Completed"
    assert (path_from_uri(job.outputs.scaled) / "scaled.csv").read_text() == "2.0\n4.0\n6.0\n"


def test_the_line_form_without_a_script_says_how(ip: InteractiveShell) -> None:
    with pytest.raises(UsageError, match="--source-dir DIR --entry-point FILE"):
        ip.run_line_magic("sm_process", "--input a=input/a")
    with pytest.raises(UsageError, match="SRC=DEST"):
        ip.run_cell_magic("sm_process", "--input nothing-here", "print(1)")


def test_a_failing_processing_job_raises_with_its_reason_under_wait(
    ip: InteractiveShell,
) -> None:
    with pytest.raises(UsageError, match="bad rows"):
        ip.run_cell_magic("sm_process", "broken --wait", "raise ValueError('bad rows')\n")
    job = ip.run_line_magic("sm_jobs", "--kind processing").rows[0]
    assert (job.name, job.status) == ("broken", "Failed")


def test_processing_jobs_count_in_costs_and_cleanup(ip: InteractiveShell) -> None:
    session: Session = ip.magics_manager.registry["SageMakerMagics"].session
    job = session.process(
        "import time\ntime.sleep(30)\n", name="slow", instance_type="ml.m5.xlarge"
    )
    summary = session.costs()
    running = {row.name: row for row in summary.running}
    assert running["slow"].kind == "processing" and running["slow"].cost_per_hour
    report = ip.run_line_magic("sm_cleanup", "--yes")
    assert [(i.kind, i.name) for i in report.rows] == [("processing", "slow")]
    assert job.wait(timeout=60).status == "Stopped"


def test_the_rest_json_names_the_kind(ip: InteractiveShell) -> None:
    from sm_magics.server import serialize

    session: Session = ip.magics_manager.registry["SageMakerMagics"].session
    session.process("print('x')\n", name="for-rest").wait(timeout=60)
    record = session.ledger.get_job("for-rest")
    assert record is not None
    data: dict[str, Any] = json.loads(json.dumps(serialize.job_json(record, now=0.0), default=str))
    assert data["kind"] == "processing"


def test_the_budget_guard_refuses_a_processing_job_before_anything(
    ip: InteractiveShell, sm_home: Path
) -> None:
    ip.run_line_magic("config", "SageMakerMagics.max_hourly_cost = 1.0")
    with pytest.raises(UsageError, match="processing job big"):
        ip.run_cell_magic("sm_process", "big -i ml.p3.16xlarge -n 2", "print(1)\n")
    session: Session = ip.magics_manager.registry["SageMakerMagics"].session
    assert session.ledger.get_job("big") is None
    assert not (sm_home / "jobs" / "big").exists()
    forced = ip.run_cell_magic("sm_process", "big -i ml.p3.16xlarge -n 2 --force", "print(1)\n")
    assert forced.wait(timeout=60).status == "Completed"


def test_a_processing_job_unknown_to_the_ledger_is_found_on_the_backend(sm_home: Path) -> None:
    session = Session("local")
    started = session.process("print('elsewhere')\n", name="from-elsewhere").wait(timeout=60)
    session.ledger.delete_job(started.name)  # as if another machine had started it
    found = session.job("from-elsewhere")
    assert (found.kind, found.status) == ("processing", "Completed")
    with pytest.raises(NotFound, match="No job named 'nope'"):
        session.job("nope")
