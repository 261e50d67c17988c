"""botocore's exceptions, translated into the package's error hierarchy.

One place decides what a user reads when AWS says no: the error class (so callers can
catch ``NotFound`` whatever the backend) and a message that names the exact permission or
quota and what to do about it.
"""

from __future__ import annotations

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
_NOT_FOUND_HINTS = ("could not find", "does not exist", "not found", "cannot find")


def _action(service: str, operation: str) -> str:
    camel = "".join(part.capitalize() for part in operation.split("_"))
    if service == "sagemaker-runtime" and camel == "InvokeEndpoint":
        return "sagemaker:InvokeEndpoint"
    if service == "s3":
        camel = {
            "HeadBucket": "ListBucket",
            "PutObject": "PutObject",
            "HeadObject": "GetObject",
            "UploadFile": "PutObject",
            "DownloadFile": "GetObject",
        }.get(camel, camel)
    return f"{_IAM_PREFIX.get(service, service)}:{camel}"


def translate(exc: BaseException, service: str, operation: str) -> BaseException:
    """Return the error to raise for ``exc`` from ``service.operation``.

    Exceptions that are not botocore's are returned unchanged (the caller re-raises them).
    """
    from botocore import exceptions as bx

    if isinstance(exc, SmMagicsError):
        return exc
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return BackendUnavailable(
            "No AWS credentials found. Configure them (aws configure, AWS_PROFILE, or the "
            "instance's role), or use the local backend: %config SageMakerMagics.backend = "
            "'local'."
        )
    if isinstance(exc, bx.NoRegionError):
        return BackendUnavailable("No AWS region: set %config SageMakerMagics.region.")
    if isinstance(exc, bx.EndpointConnectionError):
        return BackendUnavailable(f"Cannot reach AWS ({exc}). Check the network or proxy.")
    if isinstance(exc, bx.ParamValidationError):
        return InvalidRequest(f"{operation}: {exc}")
    if not isinstance(exc, bx.ClientError):
        return exc
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "")) or str(exc)
    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"):
        return AccessDenied(
            f"AWS refused {operation}: this needs the IAM permission {_action(service, operation)}"
            f" ({message}). Add it to your identity's policy (README: the IAM policy)."
        )
    if code in ("ResourceLimitExceeded", "ServiceQuotaExceededException"):
        return ResourceLimitExceeded(
            f"{message} Ask for a higher quota in the Service Quotas console, use another "
            "instance type, or stop what runs (%sm_jobs, %sm_endpoints)."
        )
    if code in ("ThrottlingException", "Throttling", "TooManyRequestsException", "SlowDown"):
        return BackendUnavailable(f"AWS is throttling {operation} ({message}); retry shortly.")
    if code in ("ResourceInUse", "ResourceInUseException", "BucketAlreadyExists"):
        return AlreadyExists(message)
    if code in (
        "ResourceNotFound",
        "ResourceNotFoundException",
        "NoSuchKey",
        "NoSuchBucket",
        "404",
        "NotFound",
    ):
        return NotFound(message)
    if code in ("ValidationException", "ValidationError", "InvalidParameterValue"):
        if any(hint in message.lower() for hint in _NOT_FOUND_HINTS):
            return NotFound(message)
        return InvalidRequest(message)
    return InvalidRequest(f"{operation} failed: {code}: {message}")
