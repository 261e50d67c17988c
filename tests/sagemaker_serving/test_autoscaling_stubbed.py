"""Autoscaling requests (Application Auto Scaling), validated by botocore's Stubber."""

from __future__ import annotations

import pytest

from sm_magics.backends.sagemaker import autoscaling
from sm_magics.errors import InvalidRequest

from . import stubs as s

TARGET = {
    "ServiceNamespace": "sagemaker",
    "ResourceId": "endpoint/ep/variant/AllTraffic",
    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
}
POLICY = {
    **TARGET,
    "PolicyName": "sm-magics-invocations-per-instance",
    "PolicyType": "TargetTrackingScaling",
    "TargetTrackingScalingPolicyConfiguration": {
        "TargetValue": 100.0,
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        },
        "ScaleInCooldown": 300,
        "ScaleOutCooldown": 60,
    },
}


def _endpoint_in_service(sm, serverless: bool = False) -> None:
    sm.add_response(
        "describe_endpoint", s.endpoint("ep", "ep-00000001", [s.live_variant("AllTraffic")])
    )
    variant = s.config_variant("AllTraffic", "m")
    if serverless:
        del variant["InstanceType"], variant["InitialInstanceCount"]
        variant["ServerlessConfig"] = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    sm.add_response(
        "describe_endpoint_config",
        s.endpoint_config("ep-00000001", [variant]),
        {"EndpointConfigName": "ep-00000001"},
    )


def test_enable_registers_the_variant_and_tracks_invocations_per_instance(stubbed):
    backend, stubs = stubbed
    sm, scaling = stubs("sagemaker"), stubs("application-autoscaling")
    _endpoint_in_service(sm)
    scaling.add_response(
        "register_scalable_target", {}, {**TARGET, "MinCapacity": 1, "MaxCapacity": 4}
    )
    scaling.add_response("put_scaling_policy", {"PolicyARN": "arn:policy/1"}, POLICY)
    arn = autoscaling.enable_autoscaling(
        backend.aws, "ep", "AllTraffic", 1, 4, target_invocations_per_instance=100
    )
    stubs.check()
    assert arn == "arn:policy/1"


def test_a_refused_policy_deregisters_the_target_again(stubbed):
    backend, stubs = stubbed
    sm, scaling = stubs("sagemaker"), stubs("application-autoscaling")
    _endpoint_in_service(sm)
    scaling.add_response("register_scalable_target", {})
    scaling.add_client_error("put_scaling_policy", "AccessDeniedException", "not authorized", 400)
    scaling.add_response("deregister_scalable_target", {}, TARGET)
    with pytest.raises(Exception, match="application-autoscaling:PutScalingPolicy"):
        autoscaling.enable_autoscaling(backend.aws, "ep", "AllTraffic", 1, 2)
    stubs.check()


def test_serverless_unknown_and_not_in_service_variants_are_refused_early(stubbed):
    backend, stubs = stubbed
    sm = stubs("sagemaker")
    _endpoint_in_service(sm, serverless=True)
    with pytest.raises(InvalidRequest, match="serverless"):
        autoscaling.enable_autoscaling(backend.aws, "ep", "AllTraffic", 1, 2)
    _endpoint_in_service(sm)
    with pytest.raises(InvalidRequest, match="no variant 'b'"):
        autoscaling.enable_autoscaling(backend.aws, "ep", "b", 1, 2)
    sm.add_response(
        "describe_endpoint", s.endpoint("ep", "c", [s.live_variant("a")], status="Creating")
    )
    with pytest.raises(InvalidRequest, match="Creating"):
        autoscaling.enable_autoscaling(backend.aws, "ep", "AllTraffic", 1, 2)
    with pytest.raises(InvalidRequest, match="1 <= min <= max"):
        autoscaling.enable_autoscaling(backend.aws, "ep", "AllTraffic", 3, 2)
    stubs.check()


def test_disable_deregisters_only_what_is_registered(stubbed):
    backend, stubs = stubbed
    scaling = stubs("application-autoscaling")
    by_ids = {
        "ServiceNamespace": "sagemaker",
        "ResourceIds": [TARGET["ResourceId"]],
        "ScalableDimension": TARGET["ScalableDimension"],
    }
    scaling.add_response("describe_scalable_targets", {"ScalableTargets": []}, by_ids)
    assert autoscaling.disable_autoscaling(backend.aws, "ep", "AllTraffic") is False
    registered = {
        **TARGET,
        "MinCapacity": 1,
        "MaxCapacity": 3,
        "RoleARN": "arn:aws:iam::123456789012:role/x",
        "CreationTime": s.NOW,
    }
    scaling.add_response("describe_scalable_targets", {"ScalableTargets": [registered]}, by_ids)
    scaling.add_response("deregister_scalable_target", {}, TARGET)
    assert autoscaling.disable_autoscaling(backend.aws, "ep", "AllTraffic") is True
    stubs.check()


def test_endpoint_deletion_tolerates_missing_autoscaling_permissions(stubbed):
    backend, stubs = stubbed
    stubs("application-autoscaling").add_client_error(
        "describe_scalable_targets", "AccessDeniedException", "no", 400
    )
    assert autoscaling.disable_endpoint_autoscaling(backend.aws, "ep", ["a"]) == []
    stubs.check()


@pytest.mark.parametrize(
    ("text", "bounds"), [("1:4", (1, 4)), ("2:2", (2, 2)), (" 1 : 3 ", (1, 3))]
)
def test_parse_range(text, bounds):
    assert autoscaling.parse_range(text) == bounds


@pytest.mark.parametrize("text", ["4", "0:2", "3:1", "a:b", "1:", ":2"])
def test_parse_range_refuses(text):
    with pytest.raises(InvalidRequest, match="MIN:MAX"):
        autoscaling.parse_range(text)
