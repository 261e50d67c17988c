"""What a user reads when AWS says no: the class, and a message naming what to do."""

from __future__ import annotations

from typing import Any

import pytest
from botocore import exceptions as bx
from sm_fakes import REGION, client_error

from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.backends.sagemaker.errors import api_name, iam_action, translate
from sm_magics.errors import (
    AccessDenied,
    AlreadyExists,
    BackendUnavailable,
    InvalidRequest,
    NotFound,
    ResourceLimitExceeded,
    SmMagicsError,
)


def test_no_credentials_is_backend_unavailable_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real session with nothing to sign with: no keys, no files, no IMDS."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    aws = AwsSession(REGION)
    with pytest.raises(BackendUnavailable) as caught:
        _ = aws.account
    message = str(caught.value)
    assert message.startswith("No AWS credentials found.")
    assert "aws configure" in message
    assert "SageMakerMagics.backend = 'local'" in message
    assert isinstance(caught.value.__cause__, bx.NoCredentialsError)


def test_no_region_is_backend_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(BackendUnavailable, match="No AWS region"):
        AwsSession(None)


@pytest.mark.parametrize(
    ("service", "operation", "action"),
    [
        ("sagemaker", "create_training_job", "sagemaker:CreateTrainingJob"),
        ("sagemaker", "stop_training_job", "sagemaker:StopTrainingJob"),
        ("sagemaker-runtime", "invoke_endpoint", "sagemaker:InvokeEndpoint"),
        ("logs", "get_log_events", "logs:GetLogEvents"),
        ("logs", "describe_log_streams", "logs:DescribeLogStreams"),
        ("s3", "put_object", "s3:PutObject"),
        ("s3", "head_object", "s3:GetObject"),
        ("s3", "head_bucket", "s3:ListBucket"),
        ("iam", "get_role", "iam:GetRole"),
    ],
)
def test_access_denied_names_the_permission(service: str, operation: str, action: str) -> None:
    assert iam_action(service, operation) == action
    error = translate(
        client_error("AccessDeniedException", "Access Denied", api_name(operation)),
        service,
        operation,
    )
    assert isinstance(error, AccessDenied)
    assert f"this needs the IAM permission {action}" in str(error)
    assert f"AWS refused {api_name(operation)}" in str(error)


def test_access_denied_names_the_action_aws_refused() -> None:
    """CreateTrainingJob refused for iam:PassRole: say iam:PassRole, not CreateTrainingJob."""
    error = translate(
        client_error(
            "AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/Dev/me is not authorized to "
            "perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/SM",
            "CreateTrainingJob",
        ),
        "sagemaker",
        "create_training_job",
    )
    assert "this needs the IAM permission iam:PassRole" in str(error)


def test_head_object_403_mentions_list_bucket() -> None:
    error = translate(client_error("403", "Forbidden", "HeadObject"), "s3", "head_object")
    assert isinstance(error, AccessDenied)
    assert "s3:GetObject" in str(error) and "s3:ListBucket" in str(error)


@pytest.mark.parametrize(
    ("code", "message", "cls", "needle"),
    [
        (
            "ResourceLimitExceeded",
            "The account-level service limit 'ml.g5.xlarge for training job usage' is 0 Instances",
            ResourceLimitExceeded,
            "ml.g5.xlarge for training job usage",
        ),
        ("ThrottlingException", "Rate exceeded", BackendUnavailable, "throttling"),
        ("ResourceInUse", "Training job names must be unique", AlreadyExists, "unique"),
        ("ValidationException", "Requested resource not found.", NotFound, "not found"),
        ("ValidationException", "Could not find training job 'x'.", NotFound, "Could not find"),
        (
            "ValidationException",
            "Value 'x' failed to satisfy constraint",
            InvalidRequest,
            "CreateTrainingJob: Value 'x'",
        ),
        (
            "ResourceNotFoundException",
            "The specified log group does not exist.",
            NotFound,
            "log group",
        ),
        ("SomethingNew", "odd", InvalidRequest, "CreateTrainingJob failed: SomethingNew: odd"),
    ],
)
def test_codes_map_to_classes(code: str, message: str, cls: type[Exception], needle: str) -> None:
    error = translate(
        client_error(code, message, "CreateTrainingJob"), "sagemaker", "create_training_job"
    )
    assert type(error) is cls
    assert needle in str(error)


def test_resource_limit_says_where_to_ask() -> None:
    error = translate(
        client_error("ResourceLimitExceeded", "limit 'ml.p4d.24xlarge for spot' is 0", "X"),
        "sagemaker",
        "create_training_job",
    )
    assert "Service Quotas" in str(error)
    assert "%sm_jobs" in str(error)


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (bx.EndpointConnectionError(endpoint_url="https://api.sagemaker"), BackendUnavailable),
        (bx.ConnectTimeoutError(endpoint_url="https://api.sagemaker"), BackendUnavailable),
        (bx.ReadTimeoutError(endpoint_url="https://api.sagemaker"), BackendUnavailable),
        (bx.ParamValidationError(report="Invalid type for parameter X"), InvalidRequest),
        (bx.NoRegionError(), BackendUnavailable),
        (
            bx.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
            BackendUnavailable,
        ),
    ],
)
def test_botocore_exceptions(exc: Exception, cls: type[Exception]) -> None:
    assert type(translate(exc, "sagemaker", "describe_training_job")) is cls


def test_other_exceptions_pass_through_unchanged() -> None:
    own = NotFound("ours")
    assert translate(own, "s3", "put_object") is own
    alien = KeyError("x")
    assert translate(alien, "s3", "put_object") is alien


def test_call_raises_ours_with_botocore_as_the_cause(aws: AwsSession, stubs: Any) -> None:
    stubs["sts"].add_client_error(
        "get_caller_identity", service_error_code="AccessDenied", service_message="nope"
    )
    with pytest.raises(AccessDenied, match="sts:GetCallerIdentity") as caught:
        aws.call("sts", "get_caller_identity")
    assert isinstance(caught.value.__cause__, bx.ClientError)


def test_every_error_is_one_of_ours() -> None:
    for cls in (AccessDenied, AlreadyExists, BackendUnavailable, InvalidRequest, NotFound):
        assert issubclass(cls, SmMagicsError)


def test_api_names() -> None:
    assert api_name("create_training_job") == "CreateTrainingJob"
    assert api_name("CreateTrainingJob") == "CreateTrainingJob"
