"""botocore's exceptions, translated into the package's error hierarchy.

One place decides what a user reads when AWS says no: the error class (so callers can
catch ``NotFound`` whatever the backend) and a message that names the exact permission or
quota and what to do about it. Messages use the API's own operation names
(``CreateTrainingJob``), which are what IAM policies, CloudTrail and AWS's documentation
use, not boto3's snake_case method names.
"""

from __future__ import annotations

import re

from sm_magics.errors import (
    AccessDenied,
    AlreadyExists,
    BackendUnavailable,
    InvalidRequest,
    NotFound,
    ResourceLimitExceeded,
    SmMagicsError,
)

# IAM action prefixes of the services we call, for "needs <service>:<Action>" messages.
_IAM_PREFIX = {
    "sagemaker-runtime": "sagemaker",
    "logs": "logs",
    "s3": "s3",
    "sts": "sts",
    "iam": "iam",
    "sagemaker": "sagemaker",
    "application-autoscaling": "application-autoscaling",
}
# S3 checks permissions by action, not by API name: HeadObject is allowed by s3:GetObject.
_S3_ACTIONS = {
    "HeadBucket": "ListBucket",
    "HeadObject": "GetObject",
    "UploadFile": "PutObject",
    "DownloadFile": "GetObject",
    "ListObjectsV2": "ListBucket",
}
_NOT_FOUND_HINTS = ("could not find", "does not exist", "not found", "cannot find")
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"}
)
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "RateExceeded",
    }
)
NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFound",
        "ResourceNotFoundException",
        "NoSuchKey",
        "NoSuchBucket",
        "404",
        "NotFound",
    }
)
# "User: arn:... is not authorized to perform: iam:PassRole on resource: ..." names the
# action that was refused, which is often not the operation called (CreateTrainingJob
# fails on iam:PassRole when the caller may not hand the execution role to SageMaker).
_REFUSED_ACTION = re.compile(r"perform:\s*([A-Za-z0-9-]+:[A-Za-z0-9*]+)")


def api_name(operation: str) -> str:
    """Return the API name of a boto3 method name (``create_training_job`` → ``CreateTrainingJob``).

    Names already in CamelCase are returned unchanged.
    """
    if "_" not in operation and operation[:1].isupper():
        return operation
    return "".join(part.capitalize() for part in operation.split("_"))


def iam_action(service: str, operation: str) -> str:
    """Return the IAM action that allows ``operation`` of ``service`` (``s3:GetObject``)."""
    camel = api_name(operation)
    if service == "s3":
        camel = _S3_ACTIONS.get(camel, camel)
    return f"{_IAM_PREFIX.get(service, service)}:{camel}"


def error_code(exc: BaseException) -> str | None:
    """Return the AWS error code of a botocore ``ClientError`` (else ``None``)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = (response.get("Error") or {}).get("Code")
    return str(code) if code else None


def translate(exc: BaseException, service: str, operation: str) -> BaseException:
    """Return the error to raise for ``exc`` from ``service.operation``.

    Exceptions that are not botocore's are returned unchanged (the caller re-raises them).
    """
    from botocore import exceptions as bx

    if isinstance(exc, SmMagicsError):
        return exc
    api = api_name(operation)
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return BackendUnavailable(
            "No AWS credentials found. Configure them (aws configure, AWS_PROFILE, or the "
            "instance's role), or use the local backend: %config SageMakerMagics.backend = "
            "'local'."
        )
    if isinstance(exc, bx.NoRegionError):
        return BackendUnavailable("No AWS region: set %config SageMakerMagics.region.")
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
        return BackendUnavailable(f"Cannot reach AWS ({exc}). Check the network or proxy.")
    if isinstance(exc, bx.ReadTimeoutError):
        return BackendUnavailable(f"AWS did not answer {api} in time ({exc}); retry shortly.")
    if isinstance(exc, bx.ParamValidationError):
        return InvalidRequest(f"{api}: {exc}")
    if not isinstance(exc, bx.ClientError):
        return exc
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "")) or str(exc)
    if code in ACCESS_DENIED_CODES:
        refused = _REFUSED_ACTION.search(message)
        action = refused.group(1) if refused else iam_action(service, operation)
        extra = ""
        if service == "s3" and api == "HeadObject":
            # S3 answers 403 instead of 404 for a missing key when ListBucket is not allowed.
            extra = (
                " (and s3:ListBucket on the bucket, without which a missing object reads as 403)"
            )
        return AccessDenied(
            f"AWS refused {api}: this needs the IAM permission {action}{extra}"
            f" ({message}). Add it to your identity's policy (README: the IAM policy)."
        )
    if code in ("ResourceLimitExceeded", "ServiceQuotaExceededException", "LimitExceededException"):
        return ResourceLimitExceeded(
            f"{api} hit an AWS quota: {message} Ask for a higher quota in the Service Quotas "
            "console (Amazon SageMaker), use another instance type, or stop what runs "
            "(%sm_jobs, %sm_endpoints)."
        )
    if code in THROTTLING_CODES:
        return BackendUnavailable(
            f"AWS is throttling {api} ({message}), even after retries with backoff; wait a "
            "minute and try again."
        )
    if code in ("ResourceInUse", "ResourceInUseException", "BucketAlreadyExists"):
        return AlreadyExists(message)
    if code in NOT_FOUND_CODES:
        return NotFound(message)
    if code in ("ValidationException", "ValidationError", "InvalidParameterValue"):
        if any(hint in message.lower() for hint in _NOT_FOUND_HINTS):
            return NotFound(message)
        return InvalidRequest(f"{api}: {message}")
    return InvalidRequest(f"{api} failed: {code}: {message}")
