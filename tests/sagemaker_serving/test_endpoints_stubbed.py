"""Endpoints on the sagemaker backend, request by request, under botocore's Stubber.

Every request is validated against the real service model (a wrong type or a missing
member fails the test) and compared with the exact parameters below, in order; a call
nobody stubbed fails too. Resource names are made deterministic by the ``fixed_names``
fixture: ``<base>-00000001``, ``-00000002``, ... in creation order.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY

from sm_magics import packaging
from sm_magics.backends.specs import EndpointSpec, VariantSpec
from sm_magics.errors import (
    AccessDenied,
    AlreadyExists,
    InvalidRequest,
    ModelError,
    NotFound,
    ResourceLimitExceeded,
    SmMagicsNotice,
)
from sm_magics.ledger_records import EndpointRecord

from . import stubs as s
from .conftest import (
    ACCOUNT,
    BUCKET,
    MODEL_URI,
    REGION,
    ROLE,
    SKLEARN_IMAGE,
    SOURCE_URI,
    training_job_description,
)

MODEL_B = f"s3://{BUCKET}/models/b/model.tar.gz"
LOG_GROUP = "/aws/sagemaker/Endpoints/ep"
EXPLICIT = {"SM_MAGICS_IMAGE": s.IMAGE}


def variant(name: str = "AllTraffic", model_data: str = MODEL_URI, **kw: Any) -> VariantSpec:
    """A variant with an explicit image and an S3 model: no DescribeTrainingJob, no upload."""
    return VariantSpec(name=name, model_data=model_data, environment=dict(EXPLICIT), **kw)


def ours(name: str) -> list[dict[str, str]]:
    return [{"Key": "sm-magics:endpoint", "Value": name}]


def insert_record(backend: Any, name: str = "ep", status: str = "InService") -> None:
    backend.ledger.insert_endpoint(
        EndpointRecord(name=name, backend="sagemaker", status=status, created_at=time.time())
    )


# -- create ---------------------------------------------------------------------------------


def test_create_endpoint_from_a_training_job_sends_model_config_endpoint(stubbed):
    backend, stubs = stubbed
    sm = stubs("sagemaker")
    s.not_found(sm, "describe_endpoint", "endpoint", "ep", EndpointName="ep")
    sm.add_response(
        "describe_training_job", training_job_description(), {"TrainingJobName": "train-1"}
    )
    tags = [
        {"Key": "sm-magics:endpoint", "Value": "ep"},
        {"Key": "sm-magics:notebook", "Value": "work/nb.ipynb"},
        {"Key": "team", "Value": "ml"},
    ]
    sm.add_response(
        "create_model",
        {"ModelArn": s.arn("model", "ep-AllTraffic-00000001")},
        {
            "ModelName": "ep-AllTraffic-00000001",
            "PrimaryContainer": {
                # The sklearn container serves with the image it trained with.
                "Image": SKLEARN_IMAGE,
                "ModelDataUrl": MODEL_URI,
                "Environment": {
                    # JSON-decoded from the job's hyperparameters: the cell's own handlers.
                    "SAGEMAKER_PROGRAM": "train.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": SOURCE_URI,
                    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                    "SAGEMAKER_REGION": REGION,
                },
            },
            "ExecutionRoleArn": ROLE,
            "Tags": tags,
        },
    )
    sm.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": s.arn("endpoint-config", "ep-00000002")},
        {
            "EndpointConfigName": "ep-00000002",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "ep-AllTraffic-00000001",
                    "InitialVariantWeight": 1.0,
                    "InstanceType": "ml.c5.xlarge",
                    "InitialInstanceCount": 2,
                }
            ],
            "Tags": tags,
        },
    )
    sm.add_response(
        "create_endpoint",
        {"EndpointArn": s.arn("endpoint", "ep")},
        {"EndpointName": "ep", "EndpointConfigName": "ep-00000002", "Tags": tags},
    )
    backend.create_endpoint(
        EndpointSpec(
            "ep",
            [
                VariantSpec(
                    model_data=MODEL_URI,
                    job="train-1",
                    instance_type="ml.c5.xlarge",
                    instance_count=2,
                )
            ],
            tags={"team": "ml"},
            notebook="work/nb.ipynb",
        )
    )
    stubs.check()
    record = backend.ledger.get_endpoint("ep")
    assert record is not None
    assert (record.backend, record.status, record.region) == ("sagemaker", "Creating", REGION)
    assert record.url == f"https://runtime.sagemaker.{REGION}.amazonaws.com"
    assert record.variants == [
        {
            "VariantName": "AllTraffic",
            "CurrentWeight": 1.0,
            "InstanceType": "ml.c5.xlarge",
            "DesiredInstanceCount": 2,
        }
    ]


def test_serverless_variant_gets_a_serverless_config_and_no_instances(stubbed):
    backend, stubs = stubbed
    sm = stubs("sagemaker")
    s.not_found(sm, "describe_endpoint", "endpoint", "sls")
    sm.add_response(
        "create_model",
        {"ModelArn": s.arn("model", "sls-AllTraffic-00000001")},
        {
            "ModelName": "sls-AllTraffic-00000001",
            # SM_MAGICS_* keys configure us and never reach the container.
            "PrimaryContainer": s.container(MODEL_URI, MY_SETTING="1"),
            "ExecutionRoleArn": ROLE,
            "Tags": ours("sls"),
        },
    )
    sm.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": s.arn("endpoint-config", "sls-00000002")},
        {
            "EndpointConfigName": "sls-00000002",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "sls-AllTraffic-00000001",
                    "InitialVariantWeight": 1.0,
                    "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
                }
            ],
            "Tags": ours("sls"),
        },
    )
    sm.add_response(
        "create_endpoint",
        {"EndpointArn": s.arn("endpoint", "sls")},
        {"EndpointName": "sls", "EndpointConfigName": "sls-00000002", "Tags": ours("sls")},
    )
    spec = VariantSpec(
        model_data=MODEL_URI,
        serverless_memory_mb=2048,
        environment={**EXPLICIT, "MY_SETTING": "1"},
    )
    backend.create_endpoint(EndpointSpec("sls", [spec]))
    stubs.check()
    record = backend.ledger.get_endpoint("sls")
    assert record.variants[0]["InstanceType"] is None  # priced per use, not per hour


def test_entry_point_is_uploaded_once_as_its_own_sourcedir(stubbed, tmp_path: Path):
    backend, stubs = stubbed
    script = tmp_path / "serve.py"
    script.write_text("def model_fn(model_dir):\n    return 42\n")
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "serve.py").write_text(script.read_text())
    key = f"sm-magics/source/{packaging.hash_tree(staged)}/sourcedir.tar.gz"
    sm, s3 = stubs("sagemaker"), stubs("s3")
    s.not_found(sm, "describe_endpoint", "endpoint", "ep")
    s3.add_client_error("head_object", "404", "Not Found", 404, {"Bucket": BUCKET, "Key": key})
    s3.add_response("put_object", {}, {"Bucket": BUCKET, "Key": key, "Body": ANY})
    sm.add_response(
        "create_model",
        {"ModelArn": s.arn("model", "ep-AllTraffic-00000001")},
        {
            "ModelName": "ep-AllTraffic-00000001",
            "PrimaryContainer": s.container(
                MODEL_URI,
                SAGEMAKER_PROGRAM="serve.py",
                SAGEMAKER_SUBMIT_DIRECTORY=f"s3://{BUCKET}/{key}",
            ),
            "ExecutionRoleArn": ROLE,
            "Tags": ours("ep"),
        },
    )
    sm.add_response("create_endpoint_config", {"EndpointConfigArn": s.arn("endpoint-config", "x")})
    sm.add_response("create_endpoint", {"EndpointArn": s.arn("endpoint", "ep")})
    backend.create_endpoint(EndpointSpec("ep", [variant(entry_point=script)]))
    stubs.check()


def test_failed_create_endpoint_rolls_back_models_config_and_ledger_row(stubbed):
    backend, stubs = stubbed
    sm = stubs("sagemaker")
    s.not_found(sm, "describe_endpoint", "endpoint", "ab")
    for name in ("ab-a-00000001", "ab-b-00000002"):
        sm.add_response(
            "create_model",
            {"ModelArn": s.arn("model", name)},
            {
                "ModelName": name,
                "PrimaryContainer": ANY,
                "ExecutionRoleArn": ROLE,
                "Tags": ours("ab"),
            },
        )
    sm.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": s.arn("endpoint-config", "ab-00000003")},
        {
            "EndpointConfigName": "ab-00000003",
            "ProductionVariants": [
                s.config_variant("a", "ab-a-00000001", 0.8),
                s.config_variant("b", "ab-b-00000002", 0.2),
            ],
            "Tags": ours("ab"),
        },
    )
    sm.add_client_error(
        "create_endpoint",
        service_error_code="ResourceLimitExceeded",
        service_message="The account-level service limit 'ml.m5.large for endpoint usage' is 0.",
        http_status_code=400,
    )
    # Newest first: the config, then the models.
    sm.add_response("delete_endpoint_config", {}, {"EndpointConfigName": "ab-00000003"})
    sm.add_response("delete_model", {}, {"ModelName": "ab-b-00000002"})
    sm.add_response("delete_model", {}, {"ModelName": "ab-a-00000001"})
    spec = EndpointSpec("ab", [variant("a", weight=0.8), variant("b", MODEL_B, weight=0.2)])
    with pytest.raises(ResourceLimitExceeded) as caught:
        backend.create_endpoint(spec)
    stubs.check()
    message = str(caught.value)
    assert message.startswith("Endpoint ab was not created: CreateEndpoint hit an AWS quota: ")
    assert "The account-level service limit 'ml.m5.large for endpoint usage'" in message
    assert "Rolled back: deleted ab-00000003, ab-b-00000002, ab-a-00000001." in message
    assert backend.ledger.get_endpoint("ab") is None


def test_failed_create_model_says_what_could_not_be_rolled_back(stubbed):
    backend, stubs = stubbed
    sm = stubs("sagemaker")
    s.not_found(sm, "describe_endpoint", "endpoint", "ab")
    sm.add_response("create_model", {"ModelArn": s.arn("model", "ab-a-00000001")})
    sm.add_client_error("create_model", "AccessDeniedException", "not allowed", 400)
    sm.add_client_error("delete_model", "AccessDeniedException", "no delete either", 400)
    spec = EndpointSpec("ab", [variant("a"), variant("b", MODEL_B)])
    with pytest.raises(AccessDenied) as caught:
        backend.create_endpoint(spec)
    stubs.check()
    message = str(caught.value)
    assert message.startswith("Endpoint ab was not created (variant b): AWS refused CreateModel")
    assert "sagemaker:CreateModel" in message
    assert "Left behind, delete in the SageMaker console" in message
    assert "ab-a-00000001 (AWS refused DeleteModel" in message
    assert backend.ledger.get_endpoint("ab") is None


def test_an_endpoint_already_on_aws_is_not_touched(stubbed):
    backend, stubs = stubbed
    sm = stubs("sagemaker")
    sm.add_response("describe_endpoint", s.endpoint("ep", "ep-cfg", [s.live_variant("AllTraffic")]))
    with pytest.raises(AlreadyExists, match="already exists on SageMaker"):
        backend.create_endpoint(EndpointSpec("ep", [variant()]))
    stubs.check()
    assert backend.ledger.get_endpoint("ep") is None


def test_invalid_variants_are_refused_before_any_call(stubbed):
    backend, _ = stubbed
    with pytest.raises(InvalidRequest, match="unique"):
        backend.create_endpoint(EndpointSpec("ep", [variant("a"), variant("a")]))
    with pytest.raises(InvalidRequest, match="1024, 2048"):
        backend.create_endpoint(EndpointSpec("ep", [variant(serverless_memory_mb=1000)]))
    with pytest.raises(InvalidRequest, match="instance-count"):
        backend.create_endpoint(EndpointSpec("ep", [variant(instance_count=0)]))
    assert backend.ledger.get_endpoint("ep") is None


# -- describe -------------------------------------------------------------------------------


def test_describe_merges_endpoint_and_config_and_syncs_the_ledger(stubbed):
    backend, stubs = stubbed
    insert_record(backend, status="Creating")
    sm = stubs("sagemaker")
    sm.add_response(
        "describe_endpoint",
        s.endpoint("ep", "ep-000000aa", [s.live_variant("a", 0.7, 2), s.live_variant("b", 0.3)]),
    )
    sm.add_response(
        "describe_endpoint_config",
        s.endpoint_config(
            "ep-000000aa",
            [
                s.config_variant("a", "ep-a-000000aa", 0.7, 2),
                s.config_variant("b", "ep-b-000000aa"),
            ],
        ),
        {"EndpointConfigName": "ep-000000aa"},
    )
    sm.add_response("describe_model", s.model("ep-a-000000aa", s.container(MODEL_URI)))
    s.not_found(sm, "describe_model", "model", "ep-b-000000aa")  # gone: no URL, no error
    description = backend.describe_endpoint("ep")
    assert description["EndpointStatus"] == "InService"
    assert description["Url"] == f"https://runtime.sagemaker.{REGION}.amazonaws.com"
    first, second = description["ProductionVariants"]
    assert first == {
        "VariantName": "a",
        "CurrentWeight": 0.7,
        "DesiredWeight": 0.7,
        "CurrentInstanceCount": 2,
        "DesiredInstanceCount": 2,
        "InstanceType": "ml.m5.large",
        "ModelName": "ep-a-000000aa",
        "ModelDataUrl": MODEL_URI,
    }
    assert second["ModelDataUrl"] is None
    record = backend.ledger.get_endpoint("ep")
    assert record.status == "InService"
    assert [v["DesiredInstanceCount"] for v in record.variants] == [2, 1]
    # The config and the model are cached: a second describe is one call.
    sm.add_response(
        "describe_endpoint", s.endpoint("ep", "ep-000000aa", [s.live_variant("a", 1.0, 2)])
    )
    sm.add_response("describe_model", s.model("ep-b-000000aa", s.container(MODEL_B)))
    backend.describe_endpoint("ep")
    stubs.check()


def test_describe_maps_statuses_outside_the_contract_and_keeps_the_raw_one(stubbed):
    backend, stubs = stubbed
    sm = stubs("sagemaker")
    sm.add_response(
        "describe_endpoint",
        s.endpoint(
            "ep",
            "c-00000001",
            [s.live_variant("a")],
            status="UpdateRollbackFailed",
            FailureReason="boom",
        ),
    )
    sm.add_response(
        "describe_endpoint_config", s.endpoint_config("c-00000001", [s.config_variant("a", "m")])
    )
    sm.add_response("describe_model", s.model("m", s.container(MODEL_URI)))
    description = backend.describe_endpoint("ep")
    assert description["EndpointStatus"] == "Failed"
    assert description["SageMakerStatus"] == "UpdateRollbackFailed"
    assert description["FailureReason"] == "boom"


def test_describe_of_a_vanished_endpoint_marks_the_ledger_row_deleted(stubbed):
    backend, stubs = stubbed
    insert_record(backend)
    s.not_found(stubs("sagemaker"), "describe_endpoint", "endpoint", "ep")
    with pytest.raises(NotFound, match="No SageMaker endpoint named 'ep'"):
        backend.describe_endpoint("ep")
    assert backend.ledger.get_endpoint("ep").status == "Deleted"


# -- update ---------------------------------------------------------------------------------


def _current_endpoint(sm: Any, variants: list[tuple[str, str, str]]) -> None:
    """Stub the describe of ``ep`` serving ``(variant, model, model data)`` on ep-000000aa."""
    sm.add_response(
        "describe_endpoint",
        s.endpoint("ep", "ep-000000aa", [s.live_variant(v) for v, _, _ in variants]),
    )
    sm.add_response(
        "describe_endpoint_config",
        s.endpoint_config("ep-000000aa", [s.config_variant(v, m) for v, m, _ in variants]),
    )


def test_update_with_the_same_models_only_moves_weights_and_counts(stubbed):
    backend, stubs = stubbed
    insert_record(backend)
    sm = stubs("sagemaker")
    _current_endpoint(sm, [("a", "ep-a-000000aa", MODEL_URI), ("b", "ep-b-000000aa", MODEL_B)])
    sm.add_response("describe_model", s.model("ep-a-000000aa", s.container(MODEL_URI)))
    sm.add_response("describe_model", s.model("ep-b-000000aa", s.container(MODEL_B)))
    sm.add_response(
        "update_endpoint_weights_and_capacities",
        {"EndpointArn": s.arn("endpoint", "ep")},
        {
            "EndpointName": "ep",
            "DesiredWeightsAndCapacities": [
                {"VariantName": "a", "DesiredWeight": 0.5, "DesiredInstanceCount": 3},
                {"VariantName": "b", "DesiredWeight": 0.5, "DesiredInstanceCount": 1},
            ],
        },
    )
    backend.update_endpoint(
        "ep", [variant("a", weight=0.5, instance_count=3), variant("b", MODEL_B, weight=0.5)]
    )
    stubs.check()
    record = backend.ledger.get_endpoint("ep")
    assert record.status == "Updating"
    assert [v["CurrentWeight"] for v in record.variants] == [0.5, 0.5]


def test_update_with_a_new_model_is_blue_green_and_cleans_the_old_fleet_once_in_service(stubbed):
    backend, stubs = stubbed
    insert_record(backend)
    sm = stubs("sagemaker")
    _current_endpoint(sm, [("a", "ep-a-000000aa", MODEL_URI)])
    sm.add_response("describe_model", s.model("ep-a-000000aa", s.container(MODEL_URI)))
    new_a = f"s3://{BUCKET}/models/a2/model.tar.gz"
    sm.add_response(
        "create_model",
        {"ModelArn": s.arn("model", "ep-a-00000001")},
        {
            "ModelName": "ep-a-00000001",
            "PrimaryContainer": s.container(new_a),
            "ExecutionRoleArn": ROLE,
            "Tags": ours("ep"),
        },
    )
    sm.add_response(
        "create_model",
        {"ModelArn": s.arn("model", "ep-b-00000002")},
        {
            "ModelName": "ep-b-00000002",
            "PrimaryContainer": s.container(MODEL_B),
            "ExecutionRoleArn": ROLE,
            "Tags": ours("ep"),
        },
    )
    sm.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": s.arn("endpoint-config", "ep-00000003")},
        {
            "EndpointConfigName": "ep-00000003",
            "ProductionVariants": [
                s.config_variant("a", "ep-a-00000001", 0.9),
                s.config_variant("b", "ep-b-00000002", 0.1),
            ],
            "Tags": ours("ep"),
        },
    )
    sm.add_response(
        "update_endpoint",
        {"EndpointArn": s.arn("endpoint", "ep")},
        {"EndpointName": "ep", "EndpointConfigName": "ep-00000003"},
    )
    backend.update_endpoint(
        "ep", [variant("a", new_a, weight=0.9), variant("b", MODEL_B, weight=0.1)]
    )
    stubs.check()
    assert backend.ledger.get_endpoint("ep").status == "Updating"

    # While SageMaker brings the new fleet up: Updating, desired = the pending config.
    sm.add_response(
        "describe_endpoint",
        s.endpoint(
            "ep",
            "ep-000000aa",
            [s.live_variant("a")],
            status="Updating",
            PendingDeploymentSummary={"EndpointConfigName": "ep-00000003"},
        ),
    )
    sm.add_response(
        "describe_endpoint_config",
        s.endpoint_config(
            "ep-00000003",
            [
                s.config_variant("a", "ep-a-00000001", 0.9),
                s.config_variant("b", "ep-b-00000002", 0.1),
            ],
        ),
    )
    sm.add_response("describe_model", s.model("ep-a-00000001", s.container(new_a)))
    sm.add_response("describe_model", s.model("ep-b-00000002", s.container(MODEL_B)))
    description = backend.describe_endpoint("ep")
    assert description["EndpointStatus"] == "Updating"
    assert {
        v["VariantName"]: (v["CurrentWeight"], v["DesiredWeight"])
        for v in description["ProductionVariants"]
    } == {
        "a": (1.0, 0.9),
        "b": (0.0, 0.1),
    }
    stubs.check()

    # InService on the new config: the old config and its model go, the new ones stay.
    sm.add_response(
        "describe_endpoint",
        s.endpoint("ep", "ep-00000003", [s.live_variant("a", 0.9), s.live_variant("b", 0.1)]),
    )
    sm.add_response(
        "list_endpoint_configs",
        s.config_summaries("ep-000000aa", "ep-00000003"),
        {"NameContains": "ep", "MaxResults": 100},
    )
    sm.add_response(
        "list_tags", s.owner_tags("ep"), {"ResourceArn": s.arn("endpoint-config", "ep-000000aa")}
    )
    sm.add_response(
        "list_tags", s.owner_tags("ep"), {"ResourceArn": s.arn("endpoint-config", "ep-00000003")}
    )
    sm.add_response(
        "describe_endpoint_config",
        s.endpoint_config("ep-000000aa", [s.config_variant("a", "ep-a-000000aa")]),
        {"EndpointConfigName": "ep-000000aa"},
    )
    sm.add_response("delete_model", {}, {"ModelName": "ep-a-000000aa"})
    sm.add_response("delete_endpoint_config", {}, {"EndpointConfigName": "ep-000000aa"})
    assert backend.describe_endpoint("ep")["EndpointStatus"] == "InService"
    stubs.check()
    assert backend.ledger.get_endpoint("ep").status == "InService"

    # Cleaned once: the next describe is one call.
    sm.add_response(
        "describe_endpoint", s.endpoint("ep", "ep-00000003", [s.live_variant("a", 0.9)])
    )
    backend.describe_endpoint("ep")
    stubs.check()


def test_failed_update_rolls_back_and_restores_the_autoscaling_it_suspended(stubbed):
    """Removing an autoscaled variant needs it deregistered first (SageMaker's rule)."""
    backend, stubs = stubbed
    insert_record(backend)
    sm, scaling = stubs("sagemaker"), stubs("application-autoscaling")
    _current_endpoint(sm, [("a", "ep-a-000000aa", MODEL_URI), ("b", "ep-b-000000aa", MODEL_B)])
    sm.add_response("describe_model", s.model("ep-a-000000aa", s.container(MODEL_URI)))
    sm.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": s.arn("endpoint-config", "ep-00000001")},
        {
            "EndpointConfigName": "ep-00000001",
            "ProductionVariants": [s.config_variant("a", "ep-a-000000aa")],  # model reused
            "Tags": ours("ep"),
        },
    )
    target_b = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/ep/variant/b",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    described_target = {
        **target_b,
        "MinCapacity": 1,
        "MaxCapacity": 4,
        "RoleARN": "arn:aws:iam::123456789012:role/aws-service-role/x",
        "CreationTime": s.NOW,
    }
    by_ids = {**target_b, "ResourceIds": [target_b["ResourceId"]]}
    del by_ids["ResourceId"]
    scaling.add_response(
        "describe_scalable_targets", {"ScalableTargets": [described_target]}, by_ids
    )
    scaling.add_response(
        "describe_scaling_policies",
        {
            "ScalingPolicies": [
                {
                    "PolicyARN": "arn:aws:autoscaling:policy/x",
                    "PolicyName": "sm-magics-invocations-per-instance",
                    "PolicyType": "TargetTrackingScaling",
                    "CreationTime": s.NOW,
                    "TargetTrackingScalingPolicyConfiguration": {
                        "TargetValue": 120.0,
                        "PredefinedMetricSpecification": {
                            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                        },
                        "ScaleInCooldown": 600,
                        "ScaleOutCooldown": 30,
                    },
                    **target_b,
                }
            ]
        },
        target_b,
    )
    scaling.add_response(
        "describe_scalable_targets", {"ScalableTargets": [described_target]}, by_ids
    )
    scaling.add_response("deregister_scalable_target", {}, target_b)
    sm.add_client_error("update_endpoint", "ValidationException", "Cannot update now.", 400)
    sm.add_response("delete_endpoint_config", {}, {"EndpointConfigName": "ep-00000001"})
    scaling.add_response(
        "register_scalable_target", {}, {**target_b, "MinCapacity": 1, "MaxCapacity": 4}
    )
    scaling.add_response(
        "put_scaling_policy",
        {"PolicyARN": "arn:aws:autoscaling:policy/y"},
        {
            **target_b,
            "PolicyName": "sm-magics-invocations-per-instance",
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 120.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                },
                "ScaleInCooldown": 600,
                "ScaleOutCooldown": 30,
            },
        },
    )
    with pytest.raises(InvalidRequest) as caught:
        backend.update_endpoint("ep", [variant("a")])
    stubs.check()
    assert str(caught.value) == (
        "Endpoint ep was not updated: UpdateEndpoint: Cannot update now. Rolled back: deleted "
        "ep-00000001. "
        "Autoscaling was restored. The endpoint keeps serving as before."
    )
    assert backend.ledger.get_endpoint("ep").status == "InService"


def test_update_is_refused_while_the_endpoint_is_not_in_service(stubbed):
    backend, stubs = stubbed
    stubs("sagemaker").add_response(
        "describe_endpoint", s.endpoint("ep", "c", [s.live_variant("a")], status="Creating")
    )
    with pytest.raises(InvalidRequest, match="ep is Creating; it can be updated once InService"):
        backend.update_endpoint("ep", [variant()])
    stubs.check()


# -- delete ---------------------------------------------------------------------------------


def test_delete_removes_endpoint_then_every_config_and_model_it_used(stubbed):
    backend, stubs = stubbed
    insert_record(backend)
    sm, scaling = stubs("sagemaker"), stubs("application-autoscaling")
    sm.add_response("describe_endpoint", s.endpoint("ep", "ep-000000aa", [s.live_variant("a")]))
    scaling.add_response(
        "describe_scalable_targets",
        {"ScalableTargets": []},
        {
            "ServiceNamespace": "sagemaker",
            "ResourceIds": ["endpoint/ep/variant/a"],
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        },
    )
    sm.add_response("delete_endpoint", {}, {"EndpointName": "ep"})
    # An older config of ep (an update whose clean-up never ran), and one of another owner.
    sm.add_response(
        "list_endpoint_configs",
        s.config_summaries("ep-000000aa", "ep-000000bb", "ep-000000cc", "ep-other-00000001"),
    )
    sm.add_response("list_tags", s.owner_tags("ep"))
    sm.add_response("list_tags", s.owner_tags("ep"))
    sm.add_response(
        "list_tags",
        s.owner_tags("ep-other"),
        {"ResourceArn": s.arn("endpoint-config", "ep-000000cc")},
    )
    sm.add_response(
        "describe_endpoint_config",
        s.endpoint_config("ep-000000aa", [s.config_variant("a", "ep-a-000000aa")]),
        {"EndpointConfigName": "ep-000000aa"},
    )
    sm.add_response("delete_model", {}, {"ModelName": "ep-a-000000aa"})
    sm.add_response("delete_endpoint_config", {}, {"EndpointConfigName": "ep-000000aa"})
    sm.add_response(
        "describe_endpoint_config",
        s.endpoint_config("ep-000000bb", [s.config_variant("a", "ep-a-000000bb")]),
        {"EndpointConfigName": "ep-000000bb"},
    )
    s.not_found(sm, "delete_model", "model", "ep-a-000000bb")  # already gone: fine
    sm.add_response("delete_endpoint_config", {}, {"EndpointConfigName": "ep-000000bb"})
    backend.delete_endpoint("ep")
    stubs.check()
    record = backend.ledger.get_endpoint("ep")
    assert record.status == "Deleted" and record.deleted_at is not None


def test_delete_converges_when_aws_already_lost_the_endpoint(stubbed):
    backend, stubs = stubbed
    insert_record(backend)
    sm = stubs("sagemaker")
    s.not_found(sm, "describe_endpoint", "endpoint", "ep")
    sm.add_response("list_endpoint_configs", s.config_summaries())
    backend.delete_endpoint("ep")
    stubs.check()
    assert backend.ledger.get_endpoint("ep").status == "Deleted"


def test_delete_of_an_unknown_endpoint_is_not_found(stubbed):
    backend, stubs = stubbed
    s.not_found(stubs("sagemaker"), "describe_endpoint", "endpoint", "nope")
    with pytest.raises(NotFound):
        backend.delete_endpoint("nope")
    stubs.check()


# -- invoke ---------------------------------------------------------------------------------


def test_invoke_sends_content_type_accept_and_target_variant(stubbed):
    backend, stubs = stubbed
    runtime = stubs("sagemaker-runtime")
    answer = b'{"predictions": [1]}'
    runtime.add_response(
        "invoke_endpoint",
        {
            "Body": StreamingBody(io.BytesIO(answer), len(answer)),
            "ContentType": "application/json",
            "InvokedProductionVariant": "b",
        },
        {
            "EndpointName": "ep",
            "Body": b"1,2,3",
            "ContentType": "text/csv",
            "Accept": "application/json",
            "TargetVariant": "b",
        },
    )
    result = backend.invoke_endpoint(
        "ep", b"1,2,3", content_type="text/csv", accept="application/json", target_variant="b"
    )
    stubs.check()
    assert (result.body, result.content_type, result.variant) == (answer, "application/json", "b")


def test_a_model_error_keeps_the_containers_status_and_message(stubbed):
    backend, stubs = stubbed
    stubs("sagemaker-runtime").add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        service_message="Received server error (500) from primary with message ...",
        http_status_code=424,
        modeled_fields={
            "OriginalStatusCode": 500,
            "OriginalMessage": "ValueError: could not convert string to float: 'x'",
            "LogStreamArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{LOG_GROUP}",
        },
    )
    with pytest.raises(ModelError) as caught:
        backend.invoke_endpoint("ep", b"x", content_type="text/csv", target_variant="a")
    assert caught.value.status == 500
    assert caught.value.variant == "a"
    assert "could not convert string to float" in str(caught.value)
    assert "/aws/sagemaker/Endpoints/ep" in str(caught.value)


def test_invoke_of_an_unknown_endpoint_is_not_found(stubbed):
    backend, stubs = stubbed
    stubs("sagemaker-runtime").add_client_error(
        "invoke_endpoint",
        service_error_code="ValidationError",
        service_message="Endpoint nope of account 123456789012 not found.",
        http_status_code=400,
    )
    with pytest.raises(NotFound, match="nope"):
        backend.invoke_endpoint("nope", b"{}", content_type="application/json")


def test_deleting_an_endpoint_made_elsewhere_leaves_its_config_and_models(stubbed):
    """Not in the ledger and not tagged ours: its config and models may be shared."""
    backend, stubs = stubbed
    sm, scaling = stubs("sagemaker"), stubs("application-autoscaling")
    sm.add_response("describe_endpoint", s.endpoint("ext", "shared-config", [s.live_variant("a")]))
    scaling.add_response("describe_scalable_targets", {"ScalableTargets": []})
    sm.add_response("delete_endpoint", {}, {"EndpointName": "ext"})
    sm.add_response("list_endpoint_configs", s.config_summaries())
    with pytest.warns(SmMagicsNotice, match="shared-config was not made by sm-magics and is left"):
        backend.delete_endpoint("ext")
    stubs.check()
