"""Autoscaling of endpoint variants: Application Auto Scaling target tracking.

SageMaker endpoints scale through a separate service: a variant is registered as a
*scalable target* (its ``DesiredInstanceCount`` between a minimum and a maximum) and a
*target tracking* policy keeps ``SageMakerVariantInvocationsPerInstance`` near a value,
adding instances when each one gets more requests per minute than that. This is what
``%sm_deploy --autoscale MIN:MAX`` turns on.

Two SageMaker rules make the rest of this module: an ``UpdateEndpoint`` that removes an
autoscaled variant or changes its instance type is refused until the variant is
deregistered (so :func:`suspend` before, :func:`restore` after), and deleting an endpoint
deregisters its targets only if the caller may, so :func:`disable_endpoint_autoscaling`
does it explicitly and tolerates a missing permission.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.backends.specs import parse_capacity_range
from sm_magics.errors import AccessDenied, InvalidRequest, NotFound, SmMagicsError

SERVICE = "application-autoscaling"
NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"
POLICY_NAME = "sm-magics-invocations-per-instance"
#: Invocations per instance per minute; the value AWS's own examples start from.
DEFAULT_TARGET_INVOCATIONS = 70.0
#: Scale out fast (a queue of requests is visible at once), scale in slowly (a dip is not
#: a trend): AWS's recommended starting points.
DEFAULT_SCALE_OUT_COOLDOWN = 60
DEFAULT_SCALE_IN_COOLDOWN = 300


@dataclass(frozen=True)
class ScalingSetting:
    """One variant's autoscaling, as registered: enough to register it again."""

    variant: str
    min_capacity: int
    max_capacity: int
    target_invocations_per_instance: float = DEFAULT_TARGET_INVOCATIONS
    scale_in_cooldown: int = DEFAULT_SCALE_IN_COOLDOWN
    scale_out_cooldown: int = DEFAULT_SCALE_OUT_COOLDOWN


def resource_id(endpoint: str, variant: str) -> str:
    """Return Application Auto Scaling's id of one endpoint variant."""
    return f"endpoint/{endpoint}/variant/{variant}"


#: ``--autoscale MIN:MAX`` parsing, shared with the API (it lives with the contract).
parse_range = parse_capacity_range


def _check_variant(aws: AwsSession, endpoint: str, variant: str) -> None:
    """Refuse early, with a clear message, what Application Auto Scaling refuses cryptically."""
    try:
        description = aws.call("sagemaker", "describe_endpoint", EndpointName=endpoint)
    except NotFound:
        raise NotFound(f"No SageMaker endpoint named {endpoint!r} in {aws.region}.") from None
    status = description["EndpointStatus"]
    if status != "InService":
        raise InvalidRequest(
            f"Endpoint {endpoint} is {status}; autoscaling can be set once it is InService "
            "(%sm_deploy --wait)."
        )
    config = aws.call(
        "sagemaker",
        "describe_endpoint_config",
        EndpointConfigName=description["EndpointConfigName"],
    )
    variants = {v["VariantName"]: v for v in config["ProductionVariants"]}
    if variant not in variants:
        raise InvalidRequest(
            f"Endpoint {endpoint} has no variant {variant!r} (it has {', '.join(variants)})."
        )
    if variants[variant].get("ServerlessConfig"):
        raise InvalidRequest(
            f"Variant {variant} of {endpoint} is serverless: it scales by itself, up to its "
            "--max-concurrency."
        )


def enable_autoscaling(
    aws: AwsSession,
    endpoint: str,
    variant: str,
    min_capacity: int,
    max_capacity: int,
    *,
    target_invocations_per_instance: float = DEFAULT_TARGET_INVOCATIONS,
    scale_in_cooldown: int = DEFAULT_SCALE_IN_COOLDOWN,
    scale_out_cooldown: int = DEFAULT_SCALE_OUT_COOLDOWN,
    check: bool = True,
) -> str:
    """Make a variant scale between ``min_capacity`` and ``max_capacity`` instances.

    Registers the scalable target, then puts the target tracking policy on invocations
    per instance; if the policy is refused, the target is deregistered again so nothing is
    half-configured. Calling it again changes the bounds and the target in place.

    Parameters
    ----------
    check
        Check first that the endpoint is ``InService`` and the variant exists and is not
        serverless (one ``DescribeEndpoint`` and one ``DescribeEndpointConfig``).

    Returns
    -------
    str
        The policy's ARN.
    """
    if not 1 <= min_capacity <= max_capacity:
        raise InvalidRequest(
            f"Autoscaling needs 1 <= min <= max instances (got {min_capacity}:{max_capacity})."
        )
    if target_invocations_per_instance <= 0:
        raise InvalidRequest("The target invocations per instance must be more than 0.")
    if check:
        _check_variant(aws, endpoint, variant)
    target = {
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id(endpoint, variant),
        "ScalableDimension": DIMENSION,
    }
    aws.call(
        SERVICE,
        "register_scalable_target",
        MinCapacity=min_capacity,
        MaxCapacity=max_capacity,
        **target,
    )
    try:
        policy = aws.call(
            SERVICE,
            "put_scaling_policy",
            PolicyName=POLICY_NAME,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": float(target_invocations_per_instance),
                "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
                "ScaleInCooldown": scale_in_cooldown,
                "ScaleOutCooldown": scale_out_cooldown,
            },
            **target,
        )
    except BaseException:
        # The error being raised says more than a failed clean-up would.
        with contextlib.suppress(SmMagicsError):
            aws.call(SERVICE, "deregister_scalable_target", **target)
        raise
    return str(policy["PolicyARN"])


def _targets(aws: AwsSession, endpoint: str, variants: Iterable[str]) -> list[dict[str, Any]]:
    ids = [resource_id(endpoint, v) for v in variants]
    if not ids:
        return []
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {
        "ServiceNamespace": NAMESPACE,
        "ResourceIds": ids,
        "ScalableDimension": DIMENSION,
    }
    while True:
        page = aws.call(SERVICE, "describe_scalable_targets", **params)
        found += page.get("ScalableTargets", [])
        if not page.get("NextToken"):
            return found
        params["NextToken"] = page["NextToken"]


def settings(aws: AwsSession, endpoint: str, variants: Iterable[str]) -> list[ScalingSetting]:
    """Return the autoscaling of those ``variants`` that have it."""
    result = []
    for target in _targets(aws, endpoint, variants):
        variant = target["ResourceId"].rsplit("/", 1)[-1]
        setting = ScalingSetting(variant, target["MinCapacity"], target["MaxCapacity"])
        policies = aws.call(
            SERVICE,
            "describe_scaling_policies",
            ServiceNamespace=NAMESPACE,
            ResourceId=target["ResourceId"],
            ScalableDimension=DIMENSION,
        ).get("ScalingPolicies", [])
        for policy in policies:
            config = policy.get("TargetTrackingScalingPolicyConfiguration") or {}
            metric = (config.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
            if metric == METRIC:
                setting = ScalingSetting(
                    variant,
                    setting.min_capacity,
                    setting.max_capacity,
                    float(config["TargetValue"]),
                    int(config.get("ScaleInCooldown", DEFAULT_SCALE_IN_COOLDOWN)),
                    int(config.get("ScaleOutCooldown", DEFAULT_SCALE_OUT_COOLDOWN)),
                )
                break
        result.append(setting)
    return result


def disable_autoscaling(aws: AwsSession, endpoint: str, variant: str) -> bool:
    """Deregister a variant (its policies go with it); return whether it had autoscaling."""
    if not _targets(aws, endpoint, [variant]):
        return False
    aws.call(
        SERVICE,
        "deregister_scalable_target",
        ServiceNamespace=NAMESPACE,
        ResourceId=resource_id(endpoint, variant),
        ScalableDimension=DIMENSION,
    )
    return True


def suspend(aws: AwsSession, endpoint: str, variants: Iterable[str]) -> list[ScalingSetting]:
    """Deregister the autoscaled ones of ``variants``; return their settings for :func:`restore`.

    Raises on the first failure, after restoring what it had already deregistered.
    """
    saved = settings(aws, endpoint, variants)
    done: list[ScalingSetting] = []
    try:
        for setting in saved:
            disable_autoscaling(aws, endpoint, setting.variant)
            done.append(setting)
    except BaseException:
        restore(aws, endpoint, done)
        raise
    return saved


def restore(aws: AwsSession, endpoint: str, saved: Iterable[ScalingSetting]) -> list[str]:
    """Register ``saved`` settings again; return what could not be (as text)."""
    problems = []
    for setting in saved:
        try:
            enable_autoscaling(
                aws,
                endpoint,
                setting.variant,
                setting.min_capacity,
                setting.max_capacity,
                target_invocations_per_instance=setting.target_invocations_per_instance,
                scale_in_cooldown=setting.scale_in_cooldown,
                scale_out_cooldown=setting.scale_out_cooldown,
                check=False,
            )
        except SmMagicsError as exc:
            problems.append(f"autoscaling of variant {setting.variant}: {exc}")
    return problems


def disable_endpoint_autoscaling(
    aws: AwsSession, endpoint: str, variants: Iterable[str]
) -> list[str]:
    """Deregister every autoscaled variant of an endpoint about to be deleted.

    Returns problems as text instead of raising: the endpoint must be deleted anyway (it
    bills), and SageMaker deregisters the targets itself when the caller may. Without the
    permission to even look (``application-autoscaling:DescribeScalableTargets``) there is
    nothing to report.
    """
    try:
        targets = _targets(aws, endpoint, variants)
    except AccessDenied:
        return []
    except SmMagicsError as exc:
        return [f"autoscaling of {endpoint}: {exc}"]
    problems = []
    for target in targets:
        try:
            aws.call(
                SERVICE,
                "deregister_scalable_target",
                ServiceNamespace=NAMESPACE,
                ResourceId=target["ResourceId"],
                ScalableDimension=DIMENSION,
            )
        except SmMagicsError as exc:
            problems.append(f"autoscaling of {target['ResourceId']}: {exc}")
    return problems
