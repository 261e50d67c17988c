"""One AWS session per backend: region, clients, account, execution role, bucket.

boto3 is imported here and only here (and only when the sagemaker backend is first used),
so ``%load_ext sm_magics`` never pays for it. Clients are made once per service with
botocore's adaptive retry mode, which backs off on throttling for us. Role and bucket are
discovered as the SageMaker SDK does it, and every failure says what to do.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sm_magics import config
from sm_magics.backends.sagemaker.errors import error_code, translate
from sm_magics.errors import (
    AccessDenied,
    AlreadyExists,
    BackendUnavailable,
    NotFound,
    SmMagicsError,
    notice,
)

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

#: Written by SageMaker on notebook instances and in Studio; names the notebook or user.
NOTEBOOK_METADATA_FILE = Path("/opt/ml/metadata/resource-metadata.json")
USER_AGENT = "sm-magics/0.1"
#: Attempts per call, the first try included, for services that need fewer than the default
#: (botocore's ``max_attempts`` of 10 retries, 11 attempts).
#: CloudWatch Logs is only polled: the log reader keeps its own back-off in its cursor and
#: returns the lines it already has, so a throttled poll should give up within seconds
#: rather than sit in botocore's back-off for minutes holding those lines.
MAX_ATTEMPTS = {"logs": 3}
DEFAULT_MAX_ATTEMPTS = 10
#: The role EventBridge Scheduler assumes to delete an endpoint at its ``--ttl``.
ENV_SCHEDULER_ROLE = "SM_MAGICS_SCHEDULER_ROLE"


class AwsSession:
    """Clients and discovered settings for one region (and profile).

    Parameters
    ----------
    region, profile
        Where to talk; ``region`` falls back to the boto3 configuration.
    role
        Execution role ARN; discovered when not given (see :attr:`role`).
    bucket
        S3 bucket for code, data and models; default ``sagemaker-<region>-<account>``.
    endpoint_url
        Override every client's endpoint (tests point it at moto on 127.0.0.1).
    scheduler_role
        Role EventBridge Scheduler assumes to delete endpoints at their TTL; default
        ``SM_MAGICS_SCHEDULER_ROLE``, else the execution role (see :attr:`scheduler_role`).
    """

    def __init__(
        self,
        region: str | None = None,
        *,
        profile: str | None = None,
        role: str | None = None,
        bucket: str | None = None,
        endpoint_url: str | None = None,
        boto_session: Any = None,
        scheduler_role: str | None = None,
    ) -> None:
        try:
            import boto3
            import botocore.config
        except ImportError as exc:
            raise BackendUnavailable(
                "The sagemaker backend needs boto3: pip install 'sm-magics[aws]'."
            ) from exc
        self._boto = boto_session or boto3.Session(profile_name=profile, region_name=region)
        self.region: str = self._boto.region_name or region or ""
        if not self.region:
            raise BackendUnavailable(
                "No AWS region: %config SageMakerMagics.region = 'us-east-1', or set "
                "AWS_REGION / SM_MAGICS_REGION."
            )
        self._config = botocore.config.Config(
            retries={"mode": "adaptive", "max_attempts": DEFAULT_MAX_ATTEMPTS},
            user_agent_extra=USER_AGENT,
            connect_timeout=10,
            read_timeout=70,  # InvokeEndpoint may take 60 s
        )
        self._endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        self._role = role or os.environ.get(config.ENV_ROLE) or None
        self._bucket = bucket or os.environ.get(config.ENV_BUCKET) or None
        self._scheduler_role = scheduler_role or os.environ.get(ENV_SCHEDULER_ROLE) or None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        """Return the one client of ``service`` (thread-safe, made on first use)."""
        with self._lock:
            if service not in self._clients:
                config = self._config
                if service in MAX_ATTEMPTS:
                    config = config.merge(
                        type(config)(
                            retries={
                                "mode": "adaptive",
                                "total_max_attempts": MAX_ATTEMPTS[service],
                            }
                        )
                    )
                self._clients[service] = self._boto.client(
                    service, config=config, endpoint_url=self._endpoint_url
                )
            return self._clients[service]

    @property
    def sagemaker(self) -> SageMakerClient:
        """SageMaker's operations, typed by ``mypy-boto3-sagemaker``, sent through :meth:`call`.

        ``aws.sagemaker.describe_endpoint(EndpointName=name)`` is
        ``aws.call("sagemaker", "describe_endpoint", EndpointName=name)`` (same error
        translation, same seam for tests), but mypy knows the request's parameters and the
        answer's TypedDict, and checks that answer against
        :mod:`sm_magics.backends.descriptions`. Answers come without ``ResponseMetadata``
        (the HTTP call's, not the resource's). Operations only: not ``meta`` or paginators.
        """
        # The boto3 boundary, its one cast: at run time an _Operations, typed as the client
        # it forwards to (type stubs only, no runtime cost).
        return cast("SageMakerClient", _Operations(self, "sagemaker"))

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """Call one API operation, translating botocore's errors into ours."""
        method = getattr(self.client(service), operation)
        try:
            result: dict[str, Any] = method(**params)
        except Exception as exc:
            error = translate(exc, service, operation)
            if error is exc:
                raise
            raise error from exc
        return result

    @cached_property
    def account(self) -> str:
        """The AWS account id, from ``sts get-caller-identity``."""
        return str(self.call("sts", "get_caller_identity")["Account"])

    @property
    def role(self) -> str:
        """The execution role ARN: configured, else discovered as the SageMaker SDK does."""
        if self._role is None:
            self._role = self._discover_role()
        return self._role

    @property
    def scheduler_role(self) -> str:
        """The role EventBridge Scheduler assumes for ``--ttl``: configured, else :attr:`role`.

        One role for both keeps the set-up to one trust policy (sagemaker.amazonaws.com
        and scheduler.amazonaws.com); a separate, narrower role (only
        ``sagemaker:DeleteEndpoint``) is the choice when the execution role must not be
        trusted by Scheduler.
        """
        return self._scheduler_role or self.role

    def _discover_role(self) -> str:
        """Find the execution role as the SageMaker SDK's ``get_execution_role`` does.

        On a notebook instance or in Studio, SageMaker writes
        :data:`NOTEBOOK_METADATA_FILE`; the role is then the notebook instance's, or the
        Studio user profile's (else its domain's default). Elsewhere a caller that is an
        assumed role (Studio's own kernels, an EC2 instance profile, a CI runner) is the
        role to hand on. A lookup refused for lack of permission falls through to the next
        way, as in the SDK, so a narrow policy still finds a role when one can be found.
        """
        role = self._role_from_metadata()
        if role:
            return role
        return self._role_from_caller()

    def _role_from_metadata(self) -> str | None:
        try:
            metadata = json.loads(NOTEBOOK_METADATA_FILE.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(metadata, dict):
            return None
        try:
            domain = metadata.get("DomainId")
            if domain:
                if metadata.get("ExecutionRoleArn"):
                    return str(metadata["ExecutionRoleArn"])
                user = metadata.get("UserProfileName")
                if not user and metadata.get("SpaceName"):
                    space = self.call(
                        "sagemaker",
                        "describe_space",
                        DomainId=domain,
                        SpaceName=metadata["SpaceName"],
                    )
                    user = (space.get("OwnershipSettings") or {}).get("OwnerUserProfileName")
                if user:
                    profile = self.call(
                        "sagemaker", "describe_user_profile", DomainId=domain, UserProfileName=user
                    )
                    role = (profile.get("UserSettings") or {}).get("ExecutionRole")
                    if role:
                        return str(role)
                described = self.call("sagemaker", "describe_domain", DomainId=domain)
                role = (described.get("DefaultUserSettings") or {}).get("ExecutionRole")
                return str(role) if role else None
            if metadata.get("ResourceName"):
                instance = self.call(
                    "sagemaker",
                    "describe_notebook_instance",
                    NotebookInstanceName=metadata["ResourceName"],
                )
                return str(instance["RoleArn"])
        except (AccessDenied, NotFound, SmMagicsError):
            return None  # a narrow policy: try the caller's identity next
        return None

    def _role_from_caller(self) -> str:
        caller = str(self.call("sts", "get_caller_identity")["Arn"])
        # arn:aws:sts::123:assumed-role/NAME/session -> the role behind it, if it is one
        if ":assumed-role/" in caller:
            name = caller.split(":assumed-role/", 1)[1].split("/", 1)[0]
            try:
                return str(self.call("iam", "get_role", RoleName=name)["Role"]["Arn"])
            except SmMagicsError:
                # Without iam:GetRole the role's path is unknown; SageMaker's console puts
                # the roles it creates under service-role/, as the SDK assumes too.
                _, partition, _, _, account = caller.split(":", 5)[:5]
                path = "service-role/" if name.startswith("AmazonSageMaker-ExecutionRole") else ""
                return f"arn:{partition}:iam::{account}:role/{path}{name}"
        if ":role/" in caller and caller.startswith("arn:") and ":iam::" in caller:
            return caller
        raise BackendUnavailable(
            f"No SageMaker execution role: you are {caller}, not a role SageMaker can assume. "
            "Set %config SageMakerMagics.role = 'arn:aws:iam::<account>:role/<name>' (a role "
            "trusted by sagemaker.amazonaws.com), or SM_MAGICS_ROLE."
        )

    @property
    def bucket(self) -> str:
        """The S3 bucket: configured, else ``sagemaker-<region>-<account>``, created once."""
        if self._bucket is None:
            name = f"sagemaker-{self.region}-{self.account}"
            self._ensure_bucket(name)
            self._bucket = name
        return self._bucket

    def _ensure_bucket(self, name: str) -> None:
        """Make sure the default bucket exists and is ours, creating it once if missing."""
        try:
            self.call("s3", "head_bucket", Bucket=name)
            return
        except NotFound:
            pass  # create it below
        except AccessDenied as exc:
            raise AccessDenied(
                f"The default bucket s3://{name} exists but you cannot use it (another "
                "account's, or no s3:ListBucket on it). Set %config SageMakerMagics.bucket = "
                f"'<your bucket>', or SM_MAGICS_BUCKET. ({exc})"
            ) from exc
        params: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.client("s3").create_bucket(**params)
        except Exception as exc:
            code = error_code(exc)
            if code == "BucketAlreadyOwnedByYou":
                return  # created meanwhile, by another kernel of ours
            if code == "BucketAlreadyExists":
                raise AlreadyExists(
                    f"The default bucket name s3://{name} is taken by another AWS account. "
                    "Set %config SageMakerMagics.bucket = '<your bucket>', or SM_MAGICS_BUCKET."
                ) from exc
            raise translate(exc, "s3", "create_bucket") from exc
        notice(f"created the default bucket s3://{name} for code, data and models.")


class _Operations:
    """A service's operations as attributes, each one a :meth:`AwsSession.call`."""

    def __init__(self, aws: AwsSession, service: str) -> None:
        self._aws = aws
        self._service = service

    def __getattr__(self, operation: str) -> Callable[..., dict[str, Any]]:
        def send(**params: Any) -> dict[str, Any]:
            answer = self._aws.call(self._service, operation, **params)
            return {k: v for k, v in answer.items() if k != "ResponseMetadata"}

        return send
