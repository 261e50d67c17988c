"""``--driver modeltrainer`` on the sagemaker backend: the SDK v3 ModelTrainer's request.

Pinned with botocore's Stubber (every request validated against the real service model):
the code and sm-magics' own driver are uploaded as the ``code`` and ``sm_drivers``
channels, the image's entry point is replaced (``ContainerEntrypoint`` /
``ContainerArguments`` run ``sm_train.sh``), and hyperparameters are serialised as
ModelTrainer serialises them, without the framework toolkit's ``sagemaker_*`` entries.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY
from sm_fakes import BUCKET, ROLE, Stubs

from sm_magics import packaging
from sm_magics.backends.sagemaker import modeltrainer, training
from sm_magics.backends.specs import TrainingSpec
from sm_magics.errors import InvalidRequest
from sm_magics.ledger import Ledger

SCRIPT = "import sys\nprint(sys.argv)\n"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-cpu-py311"


def spec(**overrides: Any) -> TrainingSpec:
    values: dict[str, Any] = {
        "name": "mt-job",
        "entry_point": "train.py",
        "script": SCRIPT,
        "image": IMAGE,
        "driver": "modeltrainer",
        "hyperparameters": {"epochs": 3, "name": "resnet", "flag": True, "layers": [64, 32]},
        "inputs": {"train": "s3://other-bucket/train/"},
    }
    values.update(overrides)
    return TrainingSpec(**values)


def expect_folder_upload(stubs: Stubs, folder: Path) -> str:
    """Queue the S3 calls of one folder uploaded by content; return its S3 prefix URI."""
    digest = packaging.hash_tree(folder)
    prefix = f"sm-magics/source/{digest}"
    manifest = f"{prefix}.manifest.json"
    stubs["s3"].add_client_error(
        "head_object",
        service_error_code="404",
        http_status_code=404,
        expected_params={"Bucket": BUCKET, "Key": manifest},
    )
    for path in packaging.iter_files(folder):
        key = f"{prefix}/{path.relative_to(folder).as_posix()}"
        stubs["s3"].add_response("put_object", {}, {"Bucket": BUCKET, "Key": key, "Body": ANY})
    stubs["s3"].add_response(
        "put_object",
        {},
        {"Bucket": BUCKET, "Key": manifest, "Body": ANY, "ContentType": "application/json"},
    )
    return f"s3://{BUCKET}/{prefix}/"


def test_the_request_is_modeltrainers(backend: Any, stubs: Stubs, ledger: Ledger) -> None:
    job = spec()
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        packaging.stage_source(code, entry_point="train.py", script=SCRIPT)
        code_uri = expect_folder_upload(stubs, code)
        drivers_uri = expect_folder_upload(
            stubs, modeltrainer.write_drivers(Path(tmp) / "sm_drivers", job)
        )

    def s3_channel(name: str, uri: str, **extra: str) -> dict[str, Any]:
        source = {
            "S3DataType": "S3Prefix",
            "S3Uri": uri,
            "S3DataDistributionType": "FullyReplicated",
        }
        return {"ChannelName": name, "DataSource": {"S3DataSource": source}, **extra}

    expected = {
        "TrainingJobName": "mt-job",
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["/bin/bash"],
            "ContainerArguments": [
                "-c",
                "chmod +x /opt/ml/input/data/sm_drivers/sm_train.sh "
                "&& /opt/ml/input/data/sm_drivers/sm_train.sh",
            ],
        },
        "RoleArn": ROLE,
        # ModelTrainer's serialisation: strings bare, the rest JSON; nothing else.
        "HyperParameters": {"epochs": "3", "name": "resnet", "flag": "true", "layers": "[64, 32]"},
        "InputDataConfig": [
            s3_channel("train", "s3://other-bucket/train/"),
            s3_channel("code", code_uri, InputMode="File"),
            s3_channel("sm_drivers", drivers_uri, InputMode="File"),
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/sm-magics/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "EnableManagedSpotTraining": False,
        "VpcConfig": {
            "SecurityGroupIds": ["sg-0123abcd", "sg-4567ef01"],
            "Subnets": ["subnet-0a1b2c3d"],
        },
        "Tags": [{"Key": "sm-magics:created-by", "Value": training.created_by()}],
    }
    stubs["sagemaker"].add_response(
        "create_training_job",
        {"TrainingJobArn": "arn:aws:sagemaker:::training-job/mt-job"},
        expected,
    )
    backend.create_training_job(job)
    stubs.assert_done()
    record = ledger.get_job("mt-job")
    assert record is not None and record.status == "InProgress"


def test_the_drivers_channel_holds_our_driver(tmp_path: Path) -> None:
    folder = modeltrainer.write_drivers(tmp_path / "sm_drivers", spec())
    assert sorted(p.name for p in folder.iterdir()) == [
        "distributed.json",
        "driver.py",
        "sm_train.sh",
        "sourcecode.json",
    ]
    shell = (folder / "sm_train.sh").read_text()
    assert "exec" in shell and "/opt/ml/input/data/sm_drivers/driver.py" in shell
    # The driver runs in the image's Python: standard library only, no sm_magics import.
    text = (folder / "driver.py").read_text()
    assert "import sm_magics" not in text and "from sm_magics" not in text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"distribution": "torch_distributed"}, "runs locally only"),
        ({"inputs": {"code": "s3://other-bucket/code/"}}, "rename the input channel code"),
    ],
)
def test_what_the_driver_does_not_do_is_refused_before_any_upload(
    backend: Any, stubs: Stubs, ledger: Ledger, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        backend.create_training_job(spec(**overrides))
    stubs.assert_done()
    assert ledger.get_job("mt-job") is None
