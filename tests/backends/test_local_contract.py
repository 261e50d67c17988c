"""The local backend honours the SageMaker training container contract.

A script-mode script written for SageMaker reads its environment, config files, channels
and arguments here exactly as it would in a framework container; what it leaves in the
model folder comes back as ``model.tar.gz``. One job (the ``contract`` fixture) runs a
script that records everything it can see; the tests then check one part each.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from helpers import (
    make_spec,
    new_home,
    path_from_uri,
    read_all_logs,
    tar_members,
    wait_for_log,
    wait_group_gone,
    wait_until_terminal,
)

from sm_magics.backends.local.jobdir import JobDir
from sm_magics.errors import AlreadyExists, InvalidRequest

#: Every variable a script-mode script on SageMaker commonly reads.
CONTRACT_VARIABLES = [
    "SM_MODEL_DIR",
    "SM_CHANNELS",
    "SM_HPS",
    "SM_HOSTS",
    "SM_CURRENT_HOST",
    "SM_NUM_CPUS",
    "SM_NUM_GPUS",
    "SM_OUTPUT_DATA_DIR",
    "SM_TRAINING_ENV",
    "SM_USER_ARGS",
    "SM_INPUT_DIR",
    "SM_INPUT_CONFIG_DIR",
    "SM_OUTPUT_DIR",
    "SM_RESOURCE_CONFIG",
    "SM_INPUT_DATA_CONFIG",
    "SM_MODULE_NAME",
    "SM_MODULE_DIR",
    "SM_USER_ENTRY_POINT",
    "SM_CURRENT_INSTANCE_TYPE",
    "SM_LOG_LEVEL",
    "SM_NETWORK_INTERFACE_NAME",
    "SAGEMAKER_BASE_DIR",
    "TRAINING_JOB_NAME",
]

HYPERPARAMETERS: dict[str, Any] = {
    "epochs": 3,
    "lr": 0.1,
    "name": "resnet",
    "opt": {"width": 8, "depth": 4},
}

CONTRACT_SCRIPT = """\
import argparse
import json
import os
import sys
from pathlib import Path

import util_mod  # a sibling module of --source-dir

NAMES = __NAMES__

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, required=True)
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--name", required=True)
parser.add_argument("--opt", required=True)
args = parser.parse_args()  # strict: an argument the script does not expect fails the job

config_dir = Path(os.environ["SAGEMAKER_BASE_DIR"], "input", "config")
channel_vars = {k: v for k, v in os.environ.items() if k.startswith("SM_CHANNEL_")}
report = {
    "env": {name: os.environ.get(name) for name in NAMES},
    "channel_vars": channel_vars,
    "hp_vars": {k: v for k, v in os.environ.items() if k.startswith("SM_HP_")},
    "args": vars(args),
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "sibling": util_mod.MARKER,
    "my_setting": os.environ.get("MY_SETTING"),
    "configs": {p.name: json.loads(p.read_text()) for p in sorted(config_dir.glob("*.json"))},
    "channel_files": {
        key[len("SM_CHANNEL_"):].lower(): {
            str(p.relative_to(path)): p.read_text()
            for p in sorted(Path(path).rglob("*")) if p.is_file()
        }
        for key, path in channel_vars.items()
    },
}
model_dir = Path(os.environ["SM_MODEL_DIR"])
(model_dir / "report.json").write_text(json.dumps(report))
(model_dir / "weights").mkdir()
(model_dir / "weights" / "w.bin").write_bytes(b"\\x00\\x01\\x02")
Path(os.environ["SM_OUTPUT_DATA_DIR"], "metrics.json").write_text('{"acc": 0.9}')
print("contract script done")
""".replace("__NAMES__", repr(CONTRACT_VARIABLES))


def _channel_data(root: Path) -> dict[str, str]:
    train = root / "train-data"
    train.mkdir()
    (train / "a.csv").write_text("1,2\n")
    (train / "sub").mkdir()
    (train / "sub" / "b.csv").write_text("3,4\n")
    single = root / "single.csv"
    single.write_text("5,6\n")
    test = root / "test-data"
    test.mkdir()
    (test / "t.csv").write_text("7,8\n")
    return {"train": str(train), "validation": str(single), "test": test.as_uri()}


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Run the recording script once as a job and return what it saw and produced."""
    from sm_magics.backends.local.engine import LocalBackend

    root = tmp_path_factory.mktemp("contract")
    source = root / "src"
    source.mkdir()
    (source / "train.py").write_text(CONTRACT_SCRIPT)
    (source / "util_mod.py").write_text("MARKER = 'sibling imported'\n")
    inputs = _channel_data(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SM_MAGICS_HOME", str(new_home(tmp_path_factory)))
        patch.setenv("SM_MAGICS_STOP_GRACE", "1")
        backend = LocalBackend()
        spec = make_spec(
            script=None,
            source_dir=source,
            entry_point="train.py",
            hyperparameters=HYPERPARAMETERS,
            inputs=inputs,
            instance_type="ml.c5.xlarge",
            environment={"MY_SETTING": "a value, with=odd chars"},
        )
        backend.create_training_job(spec)
        description = wait_until_terminal(backend, spec.name)
        events = read_all_logs(backend, spec.name)
        streams = backend.log_stream_names(spec.name)
        backend.ledger.close()
    assert description["TrainingJobStatus"] == "Completed", description
    job_dir = Path(description["LocalJobDir"])
    model = tar_members(path_from_uri(description["ModelArtifacts"]["S3ModelArtifacts"]))
    return SimpleNamespace(
        spec=spec,
        source=source,
        inputs=inputs,
        description=description,
        job_dir=job_dir,
        code=job_dir / "code",
        model=model,
        report=json.loads(model["report.json"]),
        events=events,
        streams=streams,
    )


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def test_every_contract_variable_is_set(contract: SimpleNamespace) -> None:
    env = contract.report["env"]
    missing = [name for name in CONTRACT_VARIABLES if not env.get(name)]
    assert missing == []


def test_paths_follow_the_opt_ml_layout_under_sagemaker_base_dir(contract: SimpleNamespace) -> None:
    env = contract.report["env"]
    base = contract.job_dir
    assert env["SAGEMAKER_BASE_DIR"] == str(base)
    assert env["SM_MODEL_DIR"] == str(base / "model")
    assert env["SM_INPUT_DIR"] == str(base / "input")
    assert env["SM_INPUT_CONFIG_DIR"] == str(base / "input" / "config")
    assert env["SM_OUTPUT_DIR"] == str(base / "output")
    assert env["SM_OUTPUT_DATA_DIR"] == str(base / "output" / "data")
    assert env["TRAINING_JOB_NAME"] == contract.spec.name


def test_scalar_variables_are_strings_as_the_toolkit_formats_them(
    contract: SimpleNamespace,
) -> None:
    env = contract.report["env"]
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert env["SM_HOSTS"] == '["algo-1"]'
    assert env["SM_NUM_CPUS"] == str(os.cpu_count())
    assert env["SM_NUM_GPUS"] == "0"
    assert env["SM_LOG_LEVEL"] == "20"
    assert env["SM_NETWORK_INTERFACE_NAME"] == "eth0"
    assert env["SM_CURRENT_INSTANCE_TYPE"] == "ml.c5.xlarge"
    assert env["SM_MODULE_NAME"] == "train"
    assert env["SM_USER_ENTRY_POINT"] == "train.py"
    assert env["SM_MODULE_DIR"] == contract.code.as_uri()  # the submit directory, as given
    assert env["SM_CHANNELS"] == '["test","train","validation"]'


def test_hyperparameter_variables_keep_strings_and_json_encode_the_rest(
    contract: SimpleNamespace,
) -> None:
    hp_vars = contract.report["hp_vars"]
    assert hp_vars == {
        "SM_HP_EPOCHS": "3",
        "SM_HP_LR": "0.1",
        "SM_HP_NAME": "resnet",
        "SM_HP_OPT": '{"depth":4,"width":8}',
    }
    raw = contract.report["env"]["SM_HPS"]
    assert raw == _compact(HYPERPARAMETERS)
    decoded = json.loads(raw)
    assert decoded == HYPERPARAMETERS
    assert isinstance(decoded["epochs"], int)
    assert isinstance(decoded["lr"], float)
    assert isinstance(decoded["name"], str)
    assert isinstance(decoded["opt"], dict)


def test_hyperparameters_arrive_as_sorted_cli_args_like_to_cmd_args(
    contract: SimpleNamespace,
) -> None:
    expected = ["--epochs", "3", "--lr", "0.1", "--name", "resnet", "--opt", "depth=4,width=8"]
    assert contract.report["argv"] == expected
    assert contract.report["args"] == {
        "epochs": 3,
        "lr": 0.1,
        "name": "resnet",
        "opt": "depth=4,width=8",
    }
    raw = contract.report["env"]["SM_USER_ARGS"]
    assert json.loads(raw) == expected
    assert raw == _compact(expected)


def test_structured_variables_are_compact_json_matching_the_config_files(
    contract: SimpleNamespace,
) -> None:
    env = contract.report["env"]
    configs = contract.report["configs"]
    for name in ("SM_RESOURCE_CONFIG", "SM_INPUT_DATA_CONFIG", "SM_TRAINING_ENV"):
        assert ", " not in env[name] and ": " not in env[name], name
        assert env[name] == _compact(json.loads(env[name])), name
    assert json.loads(env["SM_RESOURCE_CONFIG"]) == configs["resourceconfig.json"]
    assert json.loads(env["SM_INPUT_DATA_CONFIG"]) == configs["inputdataconfig.json"]


def test_training_env_describes_the_job(contract: SimpleNamespace) -> None:
    training_env = json.loads(contract.report["env"]["SM_TRAINING_ENV"])
    base = contract.job_dir
    assert training_env["job_name"] == contract.spec.name
    assert training_env["hyperparameters"] == HYPERPARAMETERS
    assert training_env["hosts"] == ["algo-1"]
    assert training_env["current_host"] == "algo-1"
    assert training_env["model_dir"] == str(base / "model")
    assert training_env["output_data_dir"] == str(base / "output" / "data")
    assert training_env["module_name"] == "train"
    assert training_env["user_entry_point"] == "train.py"
    assert training_env["channel_input_dirs"] == {
        name: str(base / "input" / "data" / name) for name in ("test", "train", "validation")
    }


def test_hyperparameters_json_holds_json_encoded_strings(contract: SimpleNamespace) -> None:
    on_disk = json.loads((contract.job_dir / "input/config/hyperparameters.json").read_text())
    assert on_disk == contract.report["configs"]["hyperparameters.json"]
    assert all(isinstance(value, str) for value in on_disk.values())
    for key, value in HYPERPARAMETERS.items():
        assert json.loads(on_disk[key]) == value
    assert on_disk["name"] == '"resnet"'
    assert json.loads(on_disk["sagemaker_program"]) == "train.py"
    submit = json.loads(on_disk["sagemaker_submit_directory"])
    assert path_from_uri(submit) == contract.code


def test_resourceconfig_names_the_current_host_and_all_hosts(contract: SimpleNamespace) -> None:
    resource = contract.report["configs"]["resourceconfig.json"]
    assert resource["current_host"] == "algo-1"
    assert resource["hosts"] == ["algo-1"]
    assert resource["current_instance_type"] == "ml.c5.xlarge"


def test_inputdataconfig_lists_every_channel_in_file_mode(contract: SimpleNamespace) -> None:
    channels = contract.report["configs"]["inputdataconfig.json"]
    assert sorted(channels) == ["test", "train", "validation"]
    assert {c["TrainingInputMode"] for c in channels.values()} == {"File"}


def test_channels_from_a_folder_a_single_file_and_a_file_uri(contract: SimpleNamespace) -> None:
    base = contract.job_dir / "input" / "data"
    assert contract.report["channel_vars"] == {
        "SM_CHANNEL_TRAIN": str(base / "train"),
        "SM_CHANNEL_VALIDATION": str(base / "validation"),
        "SM_CHANNEL_TEST": str(base / "test"),
    }
    assert contract.report["channel_files"] == {
        "train": {"a.csv": "1,2\n", "sub/b.csv": "3,4\n"},
        "validation": {"single.csv": "5,6\n"},  # the object inside the channel folder
        "test": {"t.csv": "7,8\n"},
    }
    uris = {
        c["ChannelName"]: c["DataSource"]["FileDataSource"]["FileUri"]
        for c in contract.description["InputDataConfig"]
    }
    assert path_from_uri(uris["test"]) == path_from_uri(contract.inputs["test"])


def test_working_directory_is_the_code_folder_and_siblings_import(
    contract: SimpleNamespace,
) -> None:
    assert os.path.realpath(contract.report["cwd"]) == os.path.realpath(contract.code)
    assert contract.report["sibling"] == "sibling imported"


def test_entry_point_file_of_source_dir_runs_unchanged(contract: SimpleNamespace) -> None:
    assert (contract.code / "train.py").read_bytes() == (contract.source / "train.py").read_bytes()
    assert (contract.code / "util_mod.py").is_file()
    assert any("contract script done" in e.message for e in contract.events)


def test_env_option_values_reach_the_script(contract: SimpleNamespace) -> None:
    assert contract.report["my_setting"] == "a value, with=odd chars"


def test_model_tar_gz_at_model_artifacts_holds_the_model_folder(contract: SimpleNamespace) -> None:
    uri = contract.description["ModelArtifacts"]["S3ModelArtifacts"]
    assert uri.startswith("file://")
    archive = path_from_uri(uri)
    assert archive.name == "model.tar.gz"
    assert archive.is_file()
    assert sorted(contract.model) == ["report.json", "weights/w.bin"]
    assert contract.model["weights/w.bin"] == b"\x00\x01\x02"


def test_output_data_is_packed_into_output_tar_gz(contract: SimpleNamespace) -> None:
    archive = path_from_uri(contract.description["OutputDataArtifacts"])
    assert archive.name == "output.tar.gz"
    assert tar_members(archive) == {"metrics.json": b'{"acc": 0.9}'}


def test_single_host_writes_one_cloudwatch_named_stream(contract: SimpleNamespace) -> None:
    files = sorted(p.name for p in (contract.job_dir / "logs").glob("*.log"))
    assert len(files) == 1
    assert re.fullmatch(r"algo-1-\d{10}\.log", files[0])
    assert contract.streams == [f"{contract.spec.name}/{files[0][:-4]}"]
    assert {e.host for e in contract.events} == {"algo-1"}


def test_cell_script_imports_a_sibling_module_of_source_dir(local_backend, tmp_path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "helper_lib.py").write_text("def answer():\n    return 41 + 1\n")
    script = "import helper_lib\nprint('answer is', helper_lib.answer())\n"
    spec = make_spec(script=script, source_dir=source, entry_point="cell.py")
    local_backend.create_training_job(spec)
    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    assert any(e.message == "answer is 42" for e in read_all_logs(local_backend, spec.name))


# -- invalid requests leave nothing behind ------------------------------------------------


def _assert_nothing_left(backend: Any, name: str) -> None:
    assert backend.ledger.get_job(name) is None
    assert backend.ledger.list_jobs() == []
    assert not JobDir.for_job(name).root.exists()


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("/definitely/not/here", "does not exist"),
        ("file:///definitely/not/here", "does not exist"),
        ("s3://bucket/prefix/train", "s3://bucket/prefix/train"),
        ("gs://bucket/train", "unsupported URI scheme"),
    ],
)
def test_unusable_channel_raises_invalid_request_and_leaves_nothing(
    local_backend, uri: str, message: str
) -> None:
    spec = make_spec(inputs={"train": uri})
    with pytest.raises(InvalidRequest, match=re.escape(message)):
        local_backend.create_training_job(spec)
    _assert_nothing_left(local_backend, spec.name)


def test_missing_source_dir_raises_invalid_request_and_leaves_nothing(
    local_backend, tmp_path
) -> None:
    spec = make_spec(source_dir=tmp_path / "nope")
    with pytest.raises(InvalidRequest):
        local_backend.create_training_job(spec)
    _assert_nothing_left(local_backend, spec.name)


def test_duplicate_name_raises_already_exists_and_the_first_job_is_untouched(
    local_backend,
) -> None:
    spec = make_spec()
    local_backend.create_training_job(spec)
    with pytest.raises(AlreadyExists):
        local_backend.create_training_job(make_spec(name=spec.name))
    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Completed"
    assert len(local_backend.ledger.list_jobs()) == 1


def test_foreign_job_folder_is_refused_and_kept(local_backend, sm_home) -> None:
    spec = make_spec()
    foreign = JobDir.for_job(spec.name).root
    foreign.mkdir(parents=True)
    (foreign / "keep.txt").write_text("someone else's")
    with pytest.raises(InvalidRequest, match="exists"):
        local_backend.create_training_job(spec)
    assert (foreign / "keep.txt").read_text() == "someone else's"
    assert local_backend.ledger.get_job(spec.name) is None


# -- several hosts ---------------------------------------------------------------------------

MULTI_HOST_SCRIPT = """\
import json
import os
from pathlib import Path

host = os.environ["SM_CURRENT_HOST"]
model = Path(os.environ["SM_MODEL_DIR"])
(model / f"{host}.txt").write_text(host)
(model / "common.txt").write_text(host)
resource = json.loads(Path(os.environ["SM_INPUT_CONFIG_DIR"], "resourceconfig.json").read_text())
print(f"host={host} hosts={os.environ['SM_HOSTS']} config_host={resource['current_host']}")
"""


def test_three_hosts_each_get_their_identity_and_own_stream(local_backend) -> None:
    spec = make_spec(script=MULTI_HOST_SCRIPT, instance_count=3)
    local_backend.create_training_job(spec)
    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    job_dir = Path(description["LocalJobDir"])

    files = sorted(p.name for p in (job_dir / "logs").glob("*.log"))
    assert [re.fullmatch(r"(algo-\d)-\d{10}\.log", f).group(1) for f in files] == [
        "algo-1",
        "algo-2",
        "algo-3",
    ]
    assert local_backend.log_stream_names(spec.name) == [f"{spec.name}/{f[:-4]}" for f in files]

    events = read_all_logs(local_backend, spec.name)
    hosts_line = '["algo-1","algo-2","algo-3"]'
    for host in ("algo-1", "algo-2", "algo-3"):
        lines = [e.message for e in events if e.host == host and e.message.startswith("host=")]
        assert lines == [f"host={host} hosts={hosts_line} config_host={host}"]
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)


def test_model_tar_merges_host_model_dirs_with_algo_1_winning(local_backend) -> None:
    spec = make_spec(script=MULTI_HOST_SCRIPT, instance_count=3)
    local_backend.create_training_job(spec)
    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    model = tar_members(path_from_uri(description["ModelArtifacts"]["S3ModelArtifacts"]))
    assert model == {
        "algo-1.txt": b"algo-1",
        "algo-2.txt": b"algo-2",
        "algo-3.txt": b"algo-3",
        "common.txt": b"algo-1",
    }


ONE_HOST_FAILS_SCRIPT = """\
import os
import time

host = os.environ["SM_CURRENT_HOST"]
print(f"{host} ready", flush=True)
if host == "algo-2":
    time.sleep(0.3)
    raise RuntimeError("algo-2 ran out of data")
while True:
    time.sleep(0.1)
"""


def test_one_failing_host_fails_the_job_and_stops_the_others(local_backend) -> None:
    spec = make_spec(script=ONE_HOST_FAILS_SCRIPT, instance_count=3)
    local_backend.create_training_job(spec)
    for host in ("algo-1", "algo-3"):
        wait_for_log(local_backend, spec.name, f"{host} ready")
    description = wait_until_terminal(local_backend, spec.name)
    assert description["TrainingJobStatus"] == "Failed"
    assert "algo-2 ran out of data" in description["FailureReason"]
    state = json.loads((Path(description["LocalJobDir"]) / "state.json").read_text())
    assert len(state["host_pgids"]) == 3
    for pgid in state["host_pgids"]:
        wait_group_gone(pgid)
