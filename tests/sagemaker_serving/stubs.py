"""Response builders for Stubber tests: the smallest answers the service model accepts."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .conftest import ACCOUNT, REGION

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)
IMAGE = f"763104351884.dkr.ecr.{REGION}.amazonaws.com/my-serving:1"


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"


def not_found(stubber: Any, operation: str, kind: str, name: str, **expected: Any) -> None:
    """Queue SageMaker's answer for a missing resource (a ValidationException)."""
    stubber.add_client_error(
        operation,
        service_error_code="ValidationException",
        service_message=f'Could not find {kind} "{arn(kind, name)}".',
        http_status_code=400,
        expected_params=expected or None,
    )


def endpoint(
    name: str,
    config: str,
    variants: list[dict[str, Any]],
    status: str = "InService",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "EndpointName": name,
        "EndpointArn": arn("endpoint", name),
        "EndpointConfigName": config,
        "ProductionVariants": variants,
        "EndpointStatus": status,
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
        **extra,
    }


def live_variant(name: str, weight: float = 1.0, count: int = 1) -> dict[str, Any]:
    return {
        "VariantName": name,
        "CurrentWeight": weight,
        "DesiredWeight": weight,
        "CurrentInstanceCount": count,
        "DesiredInstanceCount": count,
    }


def config_variant(
    name: str, model: str, weight: float = 1.0, count: int = 1, instance_type: str = "ml.m5.large"
) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InitialVariantWeight": weight,
        "InstanceType": instance_type,
        "InitialInstanceCount": count,
    }


def endpoint_config(name: str, variants: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "EndpointConfigName": name,
        "EndpointConfigArn": arn("endpoint-config", name),
        "ProductionVariants": variants,
        "CreationTime": NOW,
    }


def container(model_data: str, image: str = IMAGE, **environment: str) -> dict[str, Any]:
    """The container serving.build_container makes for an explicit image and S3 model."""
    return {
        "Image": image,
        "ModelDataUrl": model_data,
        "Environment": {
            "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
            "SAGEMAKER_REGION": REGION,
            **environment,
        },
    }


def model(name: str, primary: dict[str, Any]) -> dict[str, Any]:
    return {
        "ModelName": name,
        "ModelArn": arn("model", name),
        "CreationTime": NOW,
        "PrimaryContainer": primary,
        "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole",
    }


def config_summaries(*names: str) -> dict[str, Any]:
    return {
        "EndpointConfigs": [
            {
                "EndpointConfigName": n,
                "EndpointConfigArn": arn("endpoint-config", n),
                "CreationTime": NOW,
            }
            for n in names
        ]
    }


def owner_tags(endpoint_name: str) -> dict[str, Any]:
    return {"Tags": [{"Key": "sm-magics:endpoint", "Value": endpoint_name}]}
