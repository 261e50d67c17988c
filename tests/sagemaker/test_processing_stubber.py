"""Processing jobs on the sagemaker backend, request by request, with botocore's Stubber.

Every request is validated against the real ``sagemaker`` and ``s3`` service models, and
each test states exactly which calls happen: the content-hashed code and data uploads,
then one ``CreateProcessingJob`` whose every field is pinned here.
"""

from __future__ import annotations

import sys
import tempfile
import types
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY
from sm_fakes import BUCKET, ROLE, Stubs

from sm_magics import packaging
from sm_magics.backends import processing as proc
from sm_magics.backends import statuses
from sm_magics.backends.sagemaker import processing as sm_processing
from sm_magics.backends.sagemaker import uploads
from sm_magics.errors import AlreadyExists, InvalidRequest, NotFound, SmMagicsNotice
from sm_magics.ledger import Ledger

SCRIPT = "import sys\nprint('processing', sys.argv[1:])\n"
DEFAULT_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/"


def code_digest(script: str = SCRIPT, requirements: Path | None = None) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        return packaging.stage_source(
            Path(tmp) / "code", entry_point="process.py", script=script, requirements=requirements
        )


def not_found(stubs: Stubs, key: str) -> None:
    stubs["s3"].add_client_error(
        "head_object",
        service_error_code="404",
        service_message="Not Found",
        http_status_code=404,
        expected_params={"Bucket": BUCKET, "Key": key},
    )


def expect_code_upload(stubs: Stubs, digest: str, files: list[str], *, present: bool) -> None:
    """``upload_path`` of the code folder: one HeadObject on its manifest, files if absent."""
    manifest = f"{sm_processing.CODE_PREFIX}/{digest}.manifest.json"
    if present:
        stubs["s3"].add_response(
            "head_object", {"ContentLength": 10}, {"Bucket": BUCKET, "Key": manifest}
        )
        return
    not_found(stubs, manifest)
    for name in files:
        key = f"{sm_processing.CODE_PREFIX}/{digest}/{name}"
        stubs["s3"].add_response(
            "put_object", {"ETag": '"e"'}, {"Bucket": BUCKET, "Key": key, "Body": ANY}
        )
    stubs["s3"].add_response(
        "put_object",
        {"ETag": '"m"'},
        {"Bucket": BUCKET, "Key": manifest, "Body": ANY, "ContentType": "application/json"},
    )


def spec(name: str = "prep-1", **overrides: Any) -> proc.ProcessingSpec:
    values: dict[str, Any] = {
        "name": name,
        "entry_point": "process.py",
        "script": SCRIPT,
        "notebook": "work/demo.ipynb",
    }
    values.update(overrides)
    return proc.ProcessingSpec.create(**values)


def describe_response(name: str, status: str, **extra: Any) -> dict[str, Any]:
    """A DescribeProcessingJob response that passes the service model's validation."""
    response: dict[str, Any] = {
        "ProcessingJobName": name,
        "ProcessingJobArn": ARN + name,
        "ProcessingJobStatus": status,
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 2,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 30,
            }
        },
        "AppSpecification": {"ImageUri": DEFAULT_IMAGE},
        "CreationTime": datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc),
    }
    response.update(extra)
    return response


def test_create_sends_the_exact_request(
    backend: Any, stubs: Stubs, ledger: Ledger, tmp_path: Path
) -> None:
    raw = tmp_path / "raw.csv"
    raw.write_text("a,b\n1,2\n")
    digest = code_digest()
    expect_code_upload(stubs, digest, ["process.py"], present=False)
    data_digest = uploads.digest_of_file(raw)
    not_found(stubs, f"sm-magics/data/{data_digest}/raw.csv")
    stubs["s3"].add_response(
        "put_object",
        {"ETag": '"d"'},
        {"Bucket": BUCKET, "Key": f"sm-magics/data/{data_digest}/raw.csv", "Body": ANY},
    )
    expected = {
        "ProcessingJobName": "prep-1",
        "ProcessingInputs": [
            {
                "InputName": "code",
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/{sm_processing.CODE_PREFIX}/{digest}/",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                },
            },
            {
                "InputName": "raw",
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/sm-magics/data/{data_digest}/",
                    "LocalPath": "/opt/ml/processing/input/raw",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                },
            },
            {
                "InputName": "shards",
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": "s3://data-bucket/parts/",
                    "LocalPath": "/opt/ml/processing/input/shards",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "ShardedByS3Key",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "train",
                    "AppManaged": False,
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/sm-magics/output/prep-1/output/train",
                        "LocalPath": "/opt/ml/processing/output/train",
                        "S3UploadMode": "EndOfJob",
                    },
                },
                {
                    "OutputName": "test",
                    "AppManaged": False,
                    "S3Output": {
                        "S3Uri": "s3://results/test/",
                        "LocalPath": "/opt/ml/processing/output/test",
                        "S3UploadMode": "EndOfJob",
                    },
                },
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 2,
                "InstanceType": "ml.c5.xlarge",
                "VolumeSizeInGB": 30,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
        "AppSpecification": {
            "ImageUri": DEFAULT_IMAGE,
            "ContainerEntrypoint": [
                "/bin/sh",
                "-c",
                'cd /opt/ml/processing/input/code && exec python3 process.py "$@"',
                "sm-process",
            ],
            "ContainerArguments": ["--ratio", "0.2"],
        },
        "Environment": {"MODE": "fast"},
        "NetworkConfig": {
            "VpcConfig": {
                "SecurityGroupIds": ["sg-0123abcd", "sg-4567ef01"],
                "Subnets": ["subnet-0a1b2c3d"],
            }
        },
        "RoleArn": ROLE,
        "Tags": [
            {"Key": "sm-magics:created-by", "Value": ANY},
            {"Key": "sm-magics:notebook", "Value": "work/demo.ipynb"},
            {"Key": "team", "Value": "ml"},
        ],
    }
    stubs["sagemaker"].add_response(
        "create_processing_job", {"ProcessingJobArn": ARN + "prep-1"}, expected
    )
    with pytest.warns(SmMagicsNotice, match="processing job prep-1 runs in the default container"):
        backend.create_processing_job(
            spec(
                inputs=[
                    proc.ProcessingInput("raw", str(raw), "input/raw"),
                    proc.ProcessingInput(
                        "shards", "s3://data-bucket/parts/", "input/shards", proc.SHARDED_BY_S3_KEY
                    ),
                ],
                outputs=[
                    proc.ProcessingOutput("train", "output/train"),
                    proc.ProcessingOutput(
                        "test", "/opt/ml/processing/output/test", "s3://results/test/"
                    ),
                ],
                arguments=["--ratio", "0.2"],
                environment={"MODE": "fast"},
                instance_type="ml.c5.xlarge",
                instance_count=2,
                max_run=1800,
                tags={"team": "ml"},
            )
        )
    record = ledger.get_job("prep-1")
    assert record is not None
    assert (record.kind, record.backend, record.status) == ("processing", "sagemaker", "InProgress")
    assert record.source_hash == digest
    assert {o["name"]: o["uri"] for o in record.spec["outputs"]} == {
        "train": f"s3://{BUCKET}/sm-magics/output/prep-1/output/train",
        "test": "s3://results/test/",
    }
    assert record.spec["resolved_image"] == DEFAULT_IMAGE


def test_unchanged_code_is_not_uploaded_again_and_requirements_are_installed(
    backend: Any, stubs: Stubs, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pandas\n")
    digest = code_digest(requirements=requirements)
    expect_code_upload(stubs, digest, [], present=True)
    stubs["sagemaker"].add_response(
        "create_processing_job",
        {"ProcessingJobArn": ARN + "prep-2"},
        {
            "ProcessingJobName": "prep-2",
            "ProcessingInputs": ANY,
            "ProcessingResources": ANY,
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
            "AppSpecification": {
                "ImageUri": "my/image:1",
                "ContainerEntrypoint": [
                    "/bin/sh",
                    "-c",
                    "cd /opt/ml/processing/input/code && python3 -m pip install --quiet -r "
                    'requirements.txt && exec python3 process.py "$@"',
                    "sm-process",
                ],
            },
            "NetworkConfig": ANY,
            "RoleArn": ROLE,
            "Tags": ANY,
        },
    )
    backend.create_processing_job(spec("prep-2", requirements=requirements, image="my/image:1"))


def test_framework_image_is_the_frameworks_training_image(
    backend: Any, stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    uri = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-cpu-py311"

    def retrieve(framework: str, region: str, **kwargs: Any) -> str:
        calls.append({"framework": framework, **kwargs})
        return uri

    fake = types.ModuleType("sagemaker.core.image_uris")
    fake.retrieve = retrieve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sagemaker", types.ModuleType("sagemaker"))
    monkeypatch.setitem(sys.modules, "sagemaker.core", types.ModuleType("sagemaker.core"))
    monkeypatch.setitem(sys.modules, "sagemaker.core.image_uris", fake)
    expect_code_upload(stubs, code_digest(), [], present=True)
    stubs["sagemaker"].add_response("create_processing_job", {"ProcessingJobArn": ARN + "p"})
    backend.create_processing_job(spec("p", framework="pytorch", framework_version="2.5"))
    assert calls[0]["framework"] == "pytorch"
    assert calls[0]["image_scope"] == "training"
    assert backend.ledger.get_job("p").spec["resolved_image"] == uri


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"outputs": [proc.ProcessingOutput("o", "output/o", "/tmp/out")]}, "outputs go to S3"),
        ({"inputs": [proc.ProcessingInput("x", "/no/such/data", "input/x")]}, "does not exist"),
        ({"inputs": [proc.ProcessingInput("x", "ftp://h/x", "input/x")]}, "Unsupported URI"),
        ({"tags": {"sm-magics:notebook": "x"}}, "set by sm-magics"),
    ],
)
def test_refused_before_any_aws_call(
    backend: Any, stubs: Stubs, ledger: Ledger, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        backend.create_processing_job(spec("bad", **overrides))
    assert ledger.get_job("bad") is None


def test_a_failed_create_leaves_no_ledger_row(backend: Any, stubs: Stubs, ledger: Ledger) -> None:
    expect_code_upload(stubs, code_digest(), [], present=True)
    stubs["sagemaker"].add_client_error(
        "create_processing_job",
        service_error_code="ResourceInUse",
        service_message="Job name already exists",
        http_status_code=400,
    )
    with pytest.raises(AlreadyExists):
        backend.create_processing_job(spec("taken"))
    assert ledger.get_job("taken") is None


def test_describe_syncs_the_row_and_stop_is_idempotent(
    backend: Any, stubs: Stubs, ledger: Ledger
) -> None:
    expect_code_upload(stubs, code_digest(), [], present=True)
    stubs["sagemaker"].add_response("create_processing_job", {"ProcessingJobArn": ARN + "p"})
    backend.create_processing_job(spec("p", instance_count=2))
    started = datetime(2026, 11, 22, 10, 1, tzinfo=timezone.utc)
    sm = stubs["sagemaker"]
    sm.add_response(
        "describe_processing_job",
        describe_response("p", "InProgress", ProcessingStartTime=started),
        {"ProcessingJobName": "p"},
    )
    sm.add_response("stop_processing_job", {}, {"ProcessingJobName": "p"})
    backend.stop_processing_job("p")
    record = ledger.get_job("p")
    assert record is not None
    assert (record.status, record.started_at) == (statuses.STOPPING, started.timestamp())
    sm.add_response(
        "describe_processing_job",
        describe_response(
            "p",
            "Stopped",
            ProcessingStartTime=started,
            ProcessingEndTime=datetime(2026, 11, 22, 10, 5, tzinfo=timezone.utc),
        ),
        {"ProcessingJobName": "p"},
    )
    backend.stop_processing_job("p")  # ended: no StopProcessingJob
    record = ledger.get_job("p")
    assert record is not None and record.status == statuses.STOPPED and record.ended_at


def test_describe_of_an_unknown_job_is_not_found(backend: Any, stubs: Stubs) -> None:
    stubs["sagemaker"].add_client_error(
        "describe_processing_job",
        service_error_code="ValidationException",
        service_message="Could not find requested job with name nope",
        http_status_code=400,
    )
    with pytest.raises(NotFound, match="processing job named 'nope'"):
        backend.describe_processing_job("nope")


def test_logs_come_from_the_processing_log_group(backend: Any, stubs: Stubs) -> None:
    assert backend.processing.processing_log_reader.group == "/aws/sagemaker/ProcessingJobs"
