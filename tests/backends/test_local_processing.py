"""Local processing jobs: the processing container's contract with plain processes.

The spec's validation and the sharding rule are pure; the rest runs real detached jobs
(scripts that finish in a fraction of a second; waits only guard against hangs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import path_from_uri, unique_name, wait_until

from sm_magics.backends import kinds, statuses
from sm_magics.backends import processing as proc
from sm_magics.backends.local.jobdir import JobDir
from sm_magics.backends.local.processor import localize
from sm_magics.errors import InvalidRequest, NotFound

# Prints what it sees, writes each input file upper-cased into --out, fails on request.
SCRIPT = """\
import argparse, json, os, sys
parser = argparse.ArgumentParser()
parser.add_argument("--data")
parser.add_argument("--out")
parser.add_argument("--fail", action="store_true")
args = parser.parse_args()
walk = os.walk(args.data, followlinks=True)
files = sorted(os.path.relpath(os.path.join(d, f), args.data) for d, _, fs in walk for f in fs)
print("SEEN", json.dumps(files), flush=True)
print("MODE", os.environ.get("MODE"), flush=True)
if args.fail:
    print("Traceback (most recent call last):", file=sys.stderr)
    print("ValueError: bad rows", file=sys.stderr)
    sys.exit(3)
os.makedirs(args.out, exist_ok=True)
for name in files:
    target = os.path.join(args.out, name.replace("/", "_") + ".up")
    with open(os.path.join(args.data, name)) as src, open(target, "w") as dst:
        dst.write(src.read().upper())
"""

ARGS = ["--data", "/opt/ml/processing/input/data", "--out", "/opt/ml/processing/output/train"]


def wait_processing(backend: Any, name: str, timeout: float = 60) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        description: dict[str, Any] = backend.describe_processing_job(name)
        return (
            description
            if description["ProcessingJobStatus"] in statuses.TERMINAL_STATUSES
            else None
        )

    result: dict[str, Any] = wait_until(ended, timeout=timeout, what=f"processing job {name}")
    return result


def messages(backend: Any, name: str) -> list[tuple[str, str]]:
    batch = backend.read_processing_logs(name)
    events = []
    while batch.events:
        events += [(e.host, e.message) for e in batch.events]
        batch = backend.read_processing_logs(name, batch.cursor)
    return events


def seen(events: list[tuple[str, str]]) -> dict[str, list[str]]:
    return {h: json.loads(m.split(" ", 1)[1]) for h, m in events if m.startswith("SEEN ")}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    (folder / "more").mkdir(parents=True)
    for index in range(1, 5):
        (folder / f"part-{index}.csv").write_text(f"row,{index}\n")
    (folder / "more" / "part-5.csv").write_text("row,5\n")
    return folder


def make(name: str | None = None, **overrides: Any) -> proc.ProcessingSpec:
    values: dict[str, Any] = {
        "name": name or unique_name("proc"),
        "entry_point": "process.py",
        "script": SCRIPT,
        "arguments": ARGS,
    }
    values.update(overrides)
    return proc.ProcessingSpec.create(**values)


# -- the spec ---------------------------------------------------------------------------------


def test_container_paths_are_normalised_under_the_processing_root() -> None:
    assert proc.container_path("input/raw", "x") == "/opt/ml/processing/input/raw"
    assert proc.container_path("/opt/ml/processing/a/../b/", "x") == "/opt/ml/processing/b"
    for bad in ("/tmp/x", "/opt/ml/processing", "../x", "input/../../y", ""):
        with pytest.raises(InvalidRequest):
            proc.container_path(bad, "--input")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"inputs": [proc.ProcessingInput("code", "d", "input/x")]}, "carries the code"),
        ({"inputs": [proc.ProcessingInput("x", "d", "input/code")]}, "holds the code"),
        (
            {
                "inputs": [
                    proc.ProcessingInput("a", "d", "in/a"),
                    proc.ProcessingInput("a", "e", "in/b"),
                ]
            },
            "share name",
        ),
        ({"inputs": [proc.ProcessingInput("a", "d", "in/a", "Sometimes")]}, "distribution"),
        (
            {
                "inputs": [proc.ProcessingInput("a", "d", "work")],
                "outputs": [proc.ProcessingOutput("o", "work/out")],
            },
            "overlaps input",
        ),
        ({"outputs": [proc.ProcessingOutput("o/x", "out")]}, "Invalid output name"),
        ({"arguments": ["x" * 257]}, "256 characters"),
        ({"arguments": ["a"] * 101}, "At most 100"),
        ({"environment": {"1BAD": "x"}}, "environment variable"),
        ({"instance_count": 0}, "from 1 to 100"),
        ({"max_run": 0}, "--max-run"),
        ({"script": None}, "Nothing to run"),
        (
            {"inputs": [proc.ProcessingInput(f"i{n}", "d", f"in/{n}") for n in range(10)]},
            "At most 9",
        ),
    ],
)
def test_the_spec_refuses_what_sagemaker_would(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        make(**overrides)


def test_a_spec_survives_its_json() -> None:
    spec = make(
        inputs=[proc.ProcessingInput("d", "data", "input/d", proc.SHARDED_BY_S3_KEY)],
        outputs=[proc.ProcessingOutput("o", "output/o", "file:///tmp/o")],
        source_dir=Path("/tmp"),
    )
    assert proc.ProcessingSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


def test_sharding_gives_every_file_to_exactly_one_host() -> None:
    files = [f"f{i}" for i in range(7)]
    shards = proc.shard(files, 3)
    assert sorted(f for s in shards for f in s) == files
    assert [len(s) for s in shards] == [3, 2, 2]
    assert proc.shard(files, 3) == shards  # the same on every run
    assert proc.shard(["only"], 2) == [["only"], []]


def test_container_paths_in_arguments_are_rewritten_only_as_whole_prefixes() -> None:
    root = Path("/jobs/p")
    assert localize("/opt/ml/processing/x", root) == "/jobs/p/processing/x"
    assert localize("--out=/opt/ml/processing/x", root) == "--out=/jobs/p/processing/x"
    assert localize("/opt/mlx/y", root) == "/opt/mlx/y"
    assert localize("/data/opt/ml/y", root) == "/data/opt/ml/y"


def test_kinds_read_processing_descriptions() -> None:
    description = {
        "ProcessingJobStatus": "Completed",
        "ProcessingResources": {
            "ClusterConfig": {"InstanceType": "ml.c5.xlarge", "InstanceCount": 3}
        },
    }
    assert kinds.of_description(description) is kinds.PROCESSING
    assert kinds.status_of(description) == "Completed"
    assert kinds.resources_of(description) == ("ml.c5.xlarge", 3)


# -- running ----------------------------------------------------------------------------------


def test_sharded_input_splits_files_across_hosts_and_outputs_are_collected(
    local_backend: Any, data: Path
) -> None:
    spec = make(
        inputs=[proc.ProcessingInput("data", str(data), "input/data", proc.SHARDED_BY_S3_KEY)],
        outputs=[proc.ProcessingOutput("train", "output/train")],
        instance_count=2,
        environment={"MODE": "sharded"},
    )
    local_backend.create_processing_job(spec)
    description = wait_processing(local_backend, spec.name)
    assert description["ProcessingJobStatus"] == statuses.COMPLETED, description.get(
        "FailureReason"
    )
    by_host = seen(messages(local_backend, spec.name))
    assert sorted(by_host) == ["algo-1", "algo-2"]
    every = sorted(f for files in by_host.values() for f in files)
    assert every == ["more/part-5.csv", *(f"part-{i}.csv" for i in range(1, 5))]
    assert by_host["algo-1"] == sorted(proc.shard(every, 2)[0])
    uri = proc.output_uris(description)["train"]
    assert uri.startswith("file://")
    stored = sorted(p.name for p in path_from_uri(uri).iterdir())
    assert stored == sorted(f.replace("/", "_") + ".up" for f in every)
    assert (path_from_uri(uri) / "part-1.csv.up").read_text() == "ROW,1\n"
    assert ("algo-1", "MODE sharded") in messages(local_backend, spec.name)
    record = local_backend.ledger.get_job(spec.name)
    assert (record.kind, record.status, record.instance_count) == ("processing", "Completed", 2)
    assert record.started_at and record.ended_at


def test_fully_replicated_input_reaches_every_host_and_config_files_exist(
    local_backend: Any, data: Path, tmp_path: Path
) -> None:
    chosen = tmp_path / "chosen"
    spec = make(
        inputs=[proc.ProcessingInput("data", data.as_uri(), "input/data")],
        outputs=[proc.ProcessingOutput("train", "output/train", str(chosen))],
        instance_count=2,
    )
    local_backend.create_processing_job(spec)
    description = wait_processing(local_backend, spec.name)
    assert description["ProcessingJobStatus"] == statuses.COMPLETED
    by_host = seen(messages(local_backend, spec.name))
    assert by_host["algo-1"] == by_host["algo-2"] and len(by_host["algo-1"]) == 5
    assert proc.output_uris(description) == {"train": chosen.resolve().as_uri()}
    assert len(list(chosen.iterdir())) == 5
    folder = JobDir.for_job(spec.name)
    resource = json.loads((folder.root / "hosts/algo-2/config/resourceconfig.json").read_text())
    assert resource == {"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}
    config = json.loads((folder.root / "config/processingjobconfig.json").read_text())
    assert config["ProcessingJobName"] == spec.name
    assert [i["InputName"] for i in config["ProcessingInputs"]] == ["code", "data"]
    assert (
        description["ProcessingInputs"][1]["S3Input"]["LocalPath"]
        == "/opt/ml/processing/input/data"
    )
    assert description["AppSpecification"]["ContainerArguments"] == ARGS


def test_a_failing_script_fails_with_its_error_and_stores_no_output(
    local_backend: Any, data: Path
) -> None:
    spec = make(
        inputs=[proc.ProcessingInput("data", str(data), "input/data")],
        outputs=[proc.ProcessingOutput("train", "output/train")],
        arguments=[*ARGS, "--fail"],
    )
    local_backend.create_processing_job(spec)
    description = wait_processing(local_backend, spec.name)
    assert description["ProcessingJobStatus"] == statuses.FAILED
    assert "ValueError: bad rows" in description["FailureReason"]
    assert "ExitCode 3" in description["FailureReason"]
    assert not path_from_uri(proc.output_uris(description)["train"]).exists()
    assert messages(local_backend, spec.name)[-1] == ("algo-1", "Processing job failed")


def test_stop_ends_a_running_job_stopped(local_backend: Any) -> None:
    spec = make(script="import time\nprint('ready', flush=True)\ntime.sleep(60)\n", arguments=[])
    local_backend.create_processing_job(spec)
    wait_until(lambda: ("algo-1", "ready") in messages(local_backend, spec.name), what="the script")
    local_backend.stop_processing_job(spec.name)
    assert local_backend.describe_processing_job(spec.name)["ProcessingJobStatus"] in (
        statuses.STOPPING,
        statuses.STOPPED,
    )
    assert wait_processing(local_backend, spec.name)["ProcessingJobStatus"] == statuses.STOPPED
    local_backend.stop_processing_job(spec.name)  # idempotent


def test_max_run_stops_the_job(local_backend: Any) -> None:
    spec = make(script="import time\ntime.sleep(60)\n", arguments=[], max_run=1)
    local_backend.create_processing_job(spec)
    assert wait_processing(local_backend, spec.name)["ProcessingJobStatus"] == statuses.STOPPED
    assert local_backend.ledger.get_job(spec.name).secondary_status == statuses.MAX_RUNTIME_EXCEEDED


def test_bad_input_leaves_nothing_behind(local_backend: Any, tmp_path: Path) -> None:
    name = unique_name("bad")
    for spec in (
        make(name, inputs=[proc.ProcessingInput("d", str(tmp_path / "missing"), "input/d")]),
        make(name, inputs=[proc.ProcessingInput("d", "s3://bucket/x", "input/d")]),
        make(name, outputs=[proc.ProcessingOutput("o", "output/o", "s3://bucket/o")]),
    ):
        with pytest.raises(InvalidRequest):
            local_backend.create_processing_job(spec)
        assert local_backend.ledger.get_job(name) is None
        assert not JobDir.for_job(name).root.exists()


def test_kinds_do_not_answer_for_each_other(local_backend: Any) -> None:
    spec = make(script="print('x')\n", arguments=[])
    local_backend.create_processing_job(spec)
    with pytest.raises(NotFound):
        local_backend.describe_training_job(spec.name)
    with pytest.raises(NotFound):
        local_backend.describe_transform_job(spec.name)
    wait_processing(local_backend, spec.name)
    with pytest.raises(NotFound):
        local_backend.describe_processing_job("no-such-job")


HARD_CODED = """\
import json
from pathlib import Path

host = json.loads(Path("/opt/ml/config/resourceconfig.json").read_text())["current_host"]
files = sorted(p.name for p in Path("/opt/ml/processing/input/data").rglob("*.csv"))
out = Path("/opt/ml/processing/output/result")
out.mkdir(parents=True, exist_ok=True)
(out / f"{host}.txt").write_text("\\n".join(files))
print("SEEN", host, json.dumps(files), flush=True)
"""


def test_hard_coded_container_paths_work_where_namespaces_bind_opt_ml(
    local_backend: Any, data: Path
) -> None:
    from sm_magics.backends.local.host_launch import namespaces_reason

    reason = namespaces_reason()
    if reason is not None:
        pytest.skip(f"no namespaces here ({reason}): /opt/ml cannot be bound")
    spec = make(
        script=HARD_CODED,
        arguments=[],
        inputs=[proc.ProcessingInput("data", str(data), "input/data", proc.SHARDED_BY_S3_KEY)],
        outputs=[proc.ProcessingOutput("result", "output/result")],
        instance_count=2,
    )
    local_backend.create_processing_job(spec)
    description = wait_processing(local_backend, spec.name)
    assert description["ProcessingJobStatus"] == statuses.COMPLETED, description.get(
        "FailureReason"
    )
    folder = path_from_uri(proc.output_uris(description)["result"])
    shares = {p.stem: p.read_text().split() for p in folder.iterdir()}
    assert sorted(shares) == ["algo-1", "algo-2"]
    assert sorted(shares["algo-1"] + shares["algo-2"]) == [f"part-{i}.csv" for i in range(1, 6)]
