"""``--driver modeltrainer``: the local backend and SageMaker give a script the same view.

The local job runs the script through the local backend. The SageMaker side is played
without AWS: the ``CreateTrainingJob`` request the sagemaker backend would send is built
(:func:`training_job_request`, no call made), a container's ``/opt/ml`` is laid out from
it as SageMaker lays it out (the request's ``HyperParameters`` as ``hyperparameters.json``,
its channels, ``code`` and ``sm_drivers`` included, in ``inputdataconfig.json``), and the
``sm_drivers`` channel's own driver runs the same script there. Every ``SM_*`` variable
the driver sets, the arguments and the working folder must agree, paths compared relative
to each side's ``/opt/ml``. Only ``SM_MASTER_PORT`` differs, on purpose (a free port per
local job; 7777 on SageMaker).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers import make_spec, path_from_uri, tar_members, wait_until_terminal

from sm_magics.backends.local import environment
from sm_magics.backends.sagemaker import modeltrainer, training_requests

SCRIPT = """\
import json
import os
import sys
from pathlib import Path

report = {k: v for k, v in os.environ.items() if k.startswith("SM_")}
report["argv"] = sys.argv[1:]
report["cwd"] = os.getcwd()
Path(os.environ["SM_MODEL_DIR"], os.environ["SM_CURRENT_HOST"] + ".json").write_text(
    json.dumps(report)
)
"""

HYPERPARAMETERS = {"epochs": 3, "lr": 0.1, "name": "x", "flag": True, "layers": [1, 2], "n": "7"}
HOSTS = ["algo-1", "algo-2"]
#: Differ on purpose: each local job gets a free port, SageMaker's drivers use 7777.
PORT_KEYS = {"SM_MASTER_PORT"}


def _normalised(report: dict[str, Any]) -> dict[str, Any]:
    """Paths relative to this side's /opt/ml; JSON values decoded; the port left out."""
    root = report["SM_MODEL_DIR"][: -len("/model")]
    out: dict[str, Any] = {}
    for key, value in report.items():
        if key in PORT_KEYS:
            continue
        if isinstance(value, str):
            value = value.replace(root, "/opt/ml")
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        elif isinstance(value, list):
            value = [v.replace(root, "/opt/ml") for v in value]
        if key == "SM_TRAINING_ENV":
            value.pop("master_port")
        out[key] = value
    return out


def _sagemaker_side(spec: Any, tmp: Path, host: str) -> dict[str, Any]:
    """Run the script as the sm_drivers channel's driver would in a SageMaker container."""
    channels = {"train": "s3://bucket/train/"}
    driver_channels = {"code": "s3://bucket/code/", "sm_drivers": "s3://bucket/drivers/"}
    request = training_requests.training_job_request(
        spec,
        region="us-east-1",
        image="pytorch-training:2.5-cpu-py311",
        role="arn:aws:iam::123456789012:role/r",
        bucket="bucket",
        submit_dir="",
        channels=channels,
        driver_channels=driver_channels,
    )
    root = tmp / host / "opt-ml"
    config = root / "input" / "config"
    config.mkdir(parents=True)
    files = {
        "hyperparameters.json": request["HyperParameters"],
        "resourceconfig.json": environment.resource_config(host, HOSTS, spec.instance_type),
        "inputdataconfig.json": environment.input_data_config(
            {c["ChannelName"]: "" for c in request["InputDataConfig"]}
        ),
    }
    for name, content in files.items():
        (config / name).write_text(json.dumps(content))
    data = root / "input" / "data"
    (data / "train").mkdir(parents=True)
    (data / "code").mkdir()
    (data / "code" / "train.py").write_text(SCRIPT)
    drivers = modeltrainer.write_drivers(data / "sm_drivers", spec)
    (root / "model").mkdir()
    (root / "output").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    env["TRAINING_JOB_NAME"] = spec.name
    result = subprocess.run(
        [sys.executable, str(drivers / "driver.py"), "--root", str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads((root / "model" / f"{host}.json").read_text())
    return report


def test_local_and_sagemaker_drivers_agree(local_backend: Any, tmp_path: Path) -> None:
    data = tmp_path / "train"
    data.mkdir()
    (data / "rows.csv").write_text("1,2\n")
    spec = make_spec(
        script=SCRIPT,
        instance_count=2,
        hyperparameters=HYPERPARAMETERS,
        inputs={"train": str(data)},
        driver="modeltrainer",
    )
    local_backend.create_training_job(spec)
    job = wait_until_terminal(local_backend, spec.name, timeout=180)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    members = tar_members(path_from_uri(job["ModelArtifacts"]["S3ModelArtifacts"]))
    for host in HOSTS:
        local = json.loads(members[f"{host}.json"])
        remote = _sagemaker_side(spec, tmp_path / "sagemaker", host)
        # Every variable the driver sets, the local job sets to the same value...
        keys = set(remote) - {"argv", "cwd"}
        theirs = _normalised({k: v for k, v in remote.items() if k in keys})
        ours = _normalised({k: v for k, v in local.items() if k in keys})
        assert set(ours) == set(theirs), set(ours) ^ set(theirs)
        for key in sorted(theirs):
            assert ours[key] == theirs[key], (key, ours[key], theirs[key])
        # ...the arguments are the same (a string "7" stays "7", true is JSON's true)...
        assert local["argv"] == remote["argv"]
        assert "--n" in local["argv"] and local["argv"][local["argv"].index("--n") + 1] == "7"
        # ...and both run from the code channel (locally a link to the staged code).
        assert Path(remote["cwd"]).name == Path(local["cwd"]).name == "code"
        assert int(local["SM_MASTER_PORT"]) > 0 and remote["SM_MASTER_PORT"] == "7777"
    shutil.rmtree(tmp_path / "sagemaker", ignore_errors=True)


def test_the_uploaded_driver_reports_a_failed_script(tmp_path: Path) -> None:
    # On SageMaker the failure file becomes the job's FailureReason: the driver writes it
    # when the script did not, and exits with the script's code.
    spec = make_spec(script="import sys\nsys.exit(3)\n", driver="modeltrainer")
    root = tmp_path / "opt-ml"
    config = root / "input" / "config"
    config.mkdir(parents=True)
    files = {
        "hyperparameters.json": {},
        "resourceconfig.json": environment.resource_config("algo-1", ["algo-1"], "ml.m5.large"),
        "inputdataconfig.json": environment.input_data_config({"code": "", "sm_drivers": ""}),
    }
    for name, content in files.items():
        (config / name).write_text(json.dumps(content))
    code = root / "input" / "data" / "code"
    code.mkdir(parents=True)
    (code / "train.py").write_text("import sys\nsys.exit(3)\n")
    drivers = modeltrainer.write_drivers(root / "input" / "data" / "sm_drivers", spec)
    result = subprocess.run(
        [sys.executable, str(drivers / "driver.py"), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3
    assert "exited with code 3" in (root / "output" / "failure").read_text()
