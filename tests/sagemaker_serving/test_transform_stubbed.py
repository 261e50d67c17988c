"""Batch transform on the sagemaker backend, request by request, under Stubber."""

from __future__ import annotations

from typing import Any

import pytest

from sm_magics.backends.specs import TransformSpec, VariantSpec
from sm_magics.errors import InvalidRequest, NotFound

from . import stubs as s
from .conftest import BUCKET, MODEL_URI, REGION, ROLE, SOURCE_URI, training_job_description

PYTORCH_TRAINING = f"763104351884.dkr.ecr.{REGION}.amazonaws.com/pytorch-training:2.1-gpu-py310"
PYTORCH_INFERENCE = f"763104351884.dkr.ecr.{REGION}.amazonaws.com/pytorch-inference:2.1-cpu-py310"
INPUT = f"s3://{BUCKET}/batch/in/"
OUTPUT = f"s3://{BUCKET}/batch/out/"
TAGS = [{"Key": "sm-magics:transform-job", "Value": "tj"}]


def spec(**kw: Any) -> TransformSpec:
    return TransformSpec(
        name="tj",
        model=VariantSpec(
            model_data=MODEL_URI, job="train-1", instance_type="ml.m5.xlarge", instance_count=2
        ),
        input_uri=kw.pop("input_uri", INPUT),
        output_uri=kw.pop("output_uri", OUTPUT),
        **kw,
    )


def transform_job(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "TransformJobName": "tj",
        "TransformJobArn": s.arn("transform-job", "tj"),
        "TransformJobStatus": status,
        "ModelName": "tj-00000001",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": INPUT}}
        },
        "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2},
        "CreationTime": s.NOW,
        **extra,
    }


def _create(stubbed: Any, **spec_kw: Any) -> Any:
    backend, stubs = stubbed
    sm = stubs("sagemaker")
    sm.add_response(
        "describe_training_job",
        training_job_description(image=PYTORCH_TRAINING),
        {"TrainingJobName": "train-1"},
    )
    sm.add_response(
        "create_model",
        {"ModelArn": s.arn("model", "tj-00000001")},
        {
            "ModelName": "tj-00000001",
            "PrimaryContainer": {
                # A model trained on a GPU, served on CPUs: the inference DLC's CPU tag.
                "Image": PYTORCH_INFERENCE,
                "ModelDataUrl": MODEL_URI,
                "Environment": {
                    "SAGEMAKER_PROGRAM": "train.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": SOURCE_URI,
                    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                    "SAGEMAKER_REGION": REGION,
                },
            },
            "ExecutionRoleArn": ROLE,
            "Tags": TAGS,
        },
    )
    return backend, stubs, sm


def test_create_transform_job_request(stubbed):
    backend, stubs, sm = _create(stubbed)
    sm.add_response(
        "create_transform_job",
        {"TransformJobArn": s.arn("transform-job", "tj")},
        {
            "TransformJobName": "tj",
            "ModelName": "tj-00000001",
            "BatchStrategy": "MultiRecord",
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": INPUT}},
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            "TransformOutput": {
                "S3OutputPath": OUTPUT,
                "AssembleWith": "Line",
                "Accept": "text/csv",
            },
            "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2},
            "Tags": TAGS,
        },
    )
    backend.create_transform_job(spec(accept="text/csv"))
    stubs.check()
    record = backend.ledger.get_job("tj")
    assert (record.kind, record.backend, record.status) == ("transform", "sagemaker", "InProgress")
    assert (record.instance_type, record.instance_count) == ("ml.m5.xlarge", 2)
    assert record.spec["model_name"] == "tj-00000001"
    assert record.spec["input_s3"] == INPUT


def test_json_lines_go_one_record_per_request(stubbed):
    backend, stubs, sm = _create(stubbed)
    sm.add_response(
        "create_transform_job",
        {"TransformJobArn": s.arn("transform-job", "tj")},
        {
            "TransformJobName": "tj",
            "ModelName": "tj-00000001",
            "BatchStrategy": "SingleRecord",
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": INPUT}},
                "ContentType": "application/jsonlines",
                "SplitType": "Line",
            },
            "TransformOutput": {"S3OutputPath": OUTPUT, "AssembleWith": "Line"},
            "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2},
            "Tags": TAGS,
        },
    )
    backend.create_transform_job(spec(content_type="application/jsonlines"))
    stubs.check()


def test_a_refused_transform_job_deletes_its_model_and_ledger_row(stubbed):
    backend, stubs, sm = _create(stubbed)
    sm.add_client_error(
        "create_transform_job", "ResourceLimitExceeded", "ml.m5.xlarge for transform: 0", 400
    )
    sm.add_response("delete_model", {}, {"ModelName": "tj-00000001"})
    with pytest.raises(Exception, match="Transform job tj was not created: CreateTransformJob"):
        backend.create_transform_job(spec())
    stubs.check()
    assert backend.ledger.get_job("tj") is None


def test_output_must_be_s3_and_nothing_is_made_otherwise(stubbed, tmp_path):
    backend, _ = stubbed
    with pytest.raises(InvalidRequest, match="s3://bucket/prefix/"):
        backend.create_transform_job(spec(output_uri=str(tmp_path)))
    assert backend.ledger.get_job("tj") is None


def test_describe_syncs_the_ledger_and_deletes_the_model_once_the_job_ended(stubbed):
    backend, stubs, sm = _create(stubbed)
    sm.add_response("create_transform_job", {"TransformJobArn": s.arn("transform-job", "tj")})
    backend.create_transform_job(spec())
    sm.add_response(
        "describe_transform_job", transform_job("InProgress"), {"TransformJobName": "tj"}
    )
    assert backend.describe_transform_job("tj")["TransformJobStatus"] == "InProgress"
    ended = dict(TransformStartTime=s.NOW, TransformEndTime=s.NOW)
    sm.add_response("describe_transform_job", transform_job("Completed", **ended))
    sm.add_response("delete_model", {}, {"ModelName": "tj-00000001"})
    backend.describe_transform_job("tj")
    sm.add_response("describe_transform_job", transform_job("Completed", **ended))
    backend.describe_transform_job("tj")  # the model is deleted once only
    stubs.check()
    record = backend.ledger.get_job("tj")
    assert record.status == "Completed" and record.ended_at == s.NOW.timestamp()


def test_stop_asks_once_and_is_idempotent_on_an_ended_job(stubbed):
    backend, stubs, sm = _create(stubbed)
    sm.add_response("create_transform_job", {"TransformJobArn": s.arn("transform-job", "tj")})
    backend.create_transform_job(spec())
    sm.add_response("describe_transform_job", transform_job("InProgress"))
    sm.add_response("stop_transform_job", {}, {"TransformJobName": "tj"})
    backend.stop_transform_job("tj")
    assert backend.ledger.get_job("tj").status == "Stopping"
    sm.add_response("describe_transform_job", transform_job("Stopped"))
    sm.add_response("delete_model", {}, {"ModelName": "tj-00000001"})
    backend.stop_transform_job("tj")  # ended: no StopTransformJob
    stubs.check()
    assert backend.ledger.get_job("tj").status == "Stopped"


def test_describe_of_an_unknown_transform_job_is_not_found(stubbed):
    backend, stubs = stubbed
    s.not_found(stubs("sagemaker"), "describe_transform_job", "transform-job", "nope")
    with pytest.raises(NotFound, match="nope"):
        backend.describe_transform_job("nope")
