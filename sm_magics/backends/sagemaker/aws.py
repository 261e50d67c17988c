"""One AWS session per backend: region, clients, account, execution role, bucket.

boto3 is imported here and only here (and only when the sagemaker backend is first used),
so ``%load_ext sm_magics`` never pays for it. Clients are made once per service with
botocore's adaptive retry mode, which backs off on throttling for us. Role and bucket are
discovered as the SageMaker SDK does it, and every failure says what to do.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

from sm_magics import config
from sm_magics.backends.sagemaker.errors import translate
from sm_magics.errors import AccessDenied, BackendUnavailable

#: Written by SageMaker on notebook instances and in Studio; names the notebook or user.
NOTEBOOK_METADATA_FILE = Path("/opt/ml/metadata/resource-metadata.json")
USER_AGENT = "sm-magics/0.1"


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
            retries={"mode": "adaptive", "max_attempts": 10},
            user_agent_extra=USER_AGENT,
            connect_timeout=10,
            read_timeout=70,  # InvokeEndpoint may take 60 s
        )
        self._endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        self._role = role or os.environ.get(config.ENV_ROLE) or None
        self._bucket = bucket or os.environ.get(config.ENV_BUCKET) or None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        """Return the one client of ``service`` (thread-safe, made on first use)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._boto.client(
                    service, config=self._config, endpoint_url=self._endpoint_url
                )
            return self._clients[service]

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """Call one API operation, translating botocore's errors into ours."""
        method = getattr(self.client(service), operation)
        try:
            result: dict[str, Any] = method(**params)
        except Exception as exc:
            raise translate(exc, service, operation) from exc
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

    def _discover_role(self) -> str:
        if NOTEBOOK_METADATA_FILE.is_file():
            metadata = json.loads(NOTEBOOK_METADATA_FILE.read_text())
            if metadata.get("ExecutionRoleArn"):
                return str(metadata["ExecutionRoleArn"])
            if metadata.get("DomainId") and metadata.get("UserProfileName"):
                profile = self.call(
                    "sagemaker",
                    "describe_user_profile",
                    DomainId=metadata["DomainId"],
                    UserProfileName=metadata["UserProfileName"],
                )
                role = (profile.get("UserSettings") or {}).get("ExecutionRole")
                if not role:
                    domain = self.call(
                        "sagemaker", "describe_domain", DomainId=metadata["DomainId"]
                    )
                    role = (domain.get("DefaultUserSettings") or {}).get("ExecutionRole")
                if role:
                    return str(role)
            if metadata.get("ResourceName"):
                instance = self.call(
                    "sagemaker",
                    "describe_notebook_instance",
                    NotebookInstanceName=metadata["ResourceName"],
                )
                return str(instance["RoleArn"])
        caller = str(self.call("sts", "get_caller_identity")["Arn"])
        # arn:aws:sts::123:assumed-role/NAME/session -> the role behind it, if it is one
        if ":assumed-role/" in caller:
            name = caller.split(":assumed-role/", 1)[1].split("/", 1)[0]
            try:
                return str(self.call("iam", "get_role", RoleName=name)["Role"]["Arn"])
            except AccessDenied:
                partition = caller.split(":", 2)[1]
                return f"arn:{partition}:iam::{self.account}:role/{name}"
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
        try:
            self.call("s3", "head_bucket", Bucket=name)
            return
        except Exception:  # noqa: BLE001, S110 - missing (or not ours): try to create it below
            pass
        params: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        self.call("s3", "create_bucket", **params)
        print(
            f"sm-magics: created the default bucket s3://{name} for code, data and models.",
            file=sys.stderr,
        )
