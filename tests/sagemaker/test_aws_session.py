"""The AWS session: clients, the execution role found as the SDK finds it, the bucket.

The role is discovered in the SageMaker SDK's order: the notebook metadata file
SageMaker writes on notebook instances and in Studio (``NOTEBOOK_METADATA_FILE``, pointed
at a temporary file here), then the caller's identity when it is an assumed role. Each
lookup is stubbed with Stubber on the session's own clients.
"""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sm_fakes import ACCOUNT, REGION, ROLE, Stubs

from sm_magics.backends.sagemaker import aws as aws_module
from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.errors import AccessDenied, AlreadyExists, BackendUnavailable, SmMagicsNotice

NOTEBOOK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-NB"
STUDIO_ROLE = f"arn:aws:iam::{ACCOUNT}:role/StudioUser"
DOMAIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/StudioDomainDefault"


@pytest.fixture
def session() -> AwsSession:
    """A session with nothing configured: role and bucket must be discovered."""
    return AwsSession(REGION)


@pytest.fixture
def stubbed(session: AwsSession) -> Any:
    stubs = Stubs(session)
    yield stubs
    try:
        stubs.assert_done()
    finally:
        stubs.deactivate()


@pytest.fixture
def metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    path = tmp_path / "resource-metadata.json"
    monkeypatch.setattr(aws_module, "NOTEBOOK_METADATA_FILE", path)

    def write(content: dict[str, Any]) -> None:
        path.write_text(json.dumps(content))

    return write


def caller(stubs: Stubs, arn: str) -> None:
    stubs["sts"].add_response(
        "get_caller_identity", {"UserId": "AROAEXAMPLE:me", "Account": ACCOUNT, "Arn": arn}
    )


def iam_role(name: str, path: str = "/") -> dict[str, Any]:
    return {
        "Role": {
            "Path": path,
            "RoleName": name,
            "RoleId": "AROAEXAMPLEEXAMPLE1",
            "Arn": f"arn:aws:iam::{ACCOUNT}:role{path}{name}",
            "CreateDate": datetime(2025, 1, 1, tzinfo=timezone.utc),
        }
    }


# -- role -------------------------------------------------------------------------------------


def test_configured_role_is_used_as_is(stubbed: Stubs) -> None:
    assert AwsSession(REGION, role=ROLE).role == ROLE


def test_role_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SM_MAGICS_ROLE", ROLE)
    monkeypatch.setenv("SM_MAGICS_BUCKET", "env-bucket")
    session = AwsSession(REGION)
    assert (session.role, session.bucket) == (ROLE, "env-bucket")


def test_role_of_a_notebook_instance(session: AwsSession, stubbed: Stubs, metadata: Any) -> None:
    metadata({"ResourceArn": "arn:...:notebook-instance/my-nb", "ResourceName": "my-nb"})
    stubbed["sagemaker"].add_response(
        "describe_notebook_instance",
        {"NotebookInstanceName": "my-nb", "RoleArn": NOTEBOOK_ROLE},
        {"NotebookInstanceName": "my-nb"},
    )
    assert session.role == NOTEBOOK_ROLE
    assert session.role == NOTEBOOK_ROLE  # found once, remembered


def test_role_of_a_studio_user_profile(session: AwsSession, stubbed: Stubs, metadata: Any) -> None:
    metadata({"DomainId": "d-abc123", "UserProfileName": "alice", "ResourceName": "default"})
    stubbed["sagemaker"].add_response(
        "describe_user_profile",
        {
            "DomainId": "d-abc123",
            "UserProfileName": "alice",
            "UserSettings": {"ExecutionRole": STUDIO_ROLE},
        },
        {"DomainId": "d-abc123", "UserProfileName": "alice"},
    )
    assert session.role == STUDIO_ROLE


def test_studio_profile_without_a_role_falls_back_to_the_domain(
    session: AwsSession, stubbed: Stubs, metadata: Any
) -> None:
    metadata({"DomainId": "d-abc123", "UserProfileName": "bob"})
    stubbed["sagemaker"].add_response(
        "describe_user_profile", {"DomainId": "d-abc123", "UserSettings": {}}
    )
    stubbed["sagemaker"].add_response(
        "describe_domain",
        {"DomainId": "d-abc123", "DefaultUserSettings": {"ExecutionRole": DOMAIN_ROLE}},
        {"DomainId": "d-abc123"},
    )
    assert session.role == DOMAIN_ROLE


def test_studio_space_finds_its_owner_profile(
    session: AwsSession, stubbed: Stubs, metadata: Any
) -> None:
    metadata({"DomainId": "d-abc123", "SpaceName": "team-space"})
    stubbed["sagemaker"].add_response(
        "describe_space",
        {
            "DomainId": "d-abc123",
            "SpaceName": "team-space",
            "OwnershipSettings": {"OwnerUserProfileName": "carol"},
        },
        {"DomainId": "d-abc123", "SpaceName": "team-space"},
    )
    stubbed["sagemaker"].add_response(
        "describe_user_profile",
        {"UserSettings": {"ExecutionRole": STUDIO_ROLE}},
        {"DomainId": "d-abc123", "UserProfileName": "carol"},
    )
    assert session.role == STUDIO_ROLE


def test_role_written_in_the_metadata_needs_no_call(
    session: AwsSession, stubbed: Stubs, metadata: Any
) -> None:
    metadata({"DomainId": "d-abc123", "ExecutionRoleArn": STUDIO_ROLE})
    assert session.role == STUDIO_ROLE


def test_role_of_an_assumed_role_caller(session: AwsSession, stubbed: Stubs) -> None:
    caller(stubbed, f"arn:aws:sts::{ACCOUNT}:assumed-role/MLTeam/botocore-session-1")
    stubbed["iam"].add_response("get_role", iam_role("MLTeam", "/ml/"), {"RoleName": "MLTeam"})
    assert session.role == f"arn:aws:iam::{ACCOUNT}:role/ml/MLTeam"  # with its path


def test_assumed_role_without_iam_get_role_is_built_from_the_arn(
    session: AwsSession, stubbed: Stubs
) -> None:
    caller(
        stubbed,
        f"arn:aws:sts::{ACCOUNT}:assumed-role/AmazonSageMaker-ExecutionRole-2025/SageMaker",
    )
    stubbed["iam"].add_client_error(
        "get_role", service_error_code="AccessDenied", service_message="not authorized"
    )
    assert session.role == (
        f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-2025"
    )


def test_notebook_lookup_refused_falls_back_to_the_caller(
    session: AwsSession, stubbed: Stubs, metadata: Any
) -> None:
    metadata({"ResourceName": "my-nb"})
    stubbed["sagemaker"].add_client_error(
        "describe_notebook_instance",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: sagemaker:DescribeNotebookInstance",
    )
    caller(stubbed, f"arn:aws:sts::{ACCOUNT}:assumed-role/NotebookRole/SageMaker")
    stubbed["iam"].add_response("get_role", iam_role("NotebookRole"))
    assert session.role == f"arn:aws:iam::{ACCOUNT}:role/NotebookRole"


def test_a_user_is_not_a_role(session: AwsSession, stubbed: Stubs) -> None:
    caller(stubbed, f"arn:aws:iam::{ACCOUNT}:user/alice")
    with pytest.raises(BackendUnavailable) as caught:
        _ = session.role
    message = str(caught.value)
    assert f"you are arn:aws:iam::{ACCOUNT}:user/alice" in message
    assert "%config SageMakerMagics.role" in message and "SM_MAGICS_ROLE" in message


def test_a_broken_metadata_file_is_ignored(
    session: AwsSession, stubbed: Stubs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    monkeypatch.setattr(aws_module, "NOTEBOOK_METADATA_FILE", broken)
    caller(stubbed, f"arn:aws:sts::{ACCOUNT}:assumed-role/R/s")
    stubbed["iam"].add_response("get_role", iam_role("R"))
    assert session.role.endswith(":role/R")


# -- bucket -----------------------------------------------------------------------------------


def test_default_bucket_is_created_once_and_said(session: AwsSession, stubbed: Stubs) -> None:
    caller(stubbed, f"arn:aws:sts::{ACCOUNT}:assumed-role/R/s")
    name = f"sagemaker-{REGION}-{ACCOUNT}"
    stubbed["s3"].add_client_error(
        "head_bucket",
        service_error_code="404",
        http_status_code=404,
        expected_params={"Bucket": name},
    )
    stubbed["s3"].add_response("create_bucket", {"Location": f"/{name}"}, {"Bucket": name})
    with pytest.warns(SmMagicsNotice, match=f"created the default bucket s3://{name}"):
        assert session.bucket == name
    assert session.bucket == name  # no second lookup


def test_default_bucket_outside_us_east_1_names_its_region(stubbed: Stubs) -> None:
    session = AwsSession("eu-west-1")
    stubs = Stubs(session)
    caller(stubs, f"arn:aws:sts::{ACCOUNT}:assumed-role/R/s")
    name = f"sagemaker-eu-west-1-{ACCOUNT}"
    stubs["s3"].add_client_error("head_bucket", service_error_code="404", http_status_code=404)
    stubs["s3"].add_response(
        "create_bucket",
        {},
        {"Bucket": name, "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}},
    )
    assert session.bucket == name
    stubs.assert_done()
    stubs.deactivate()


def test_existing_default_bucket_is_used_quietly(session: AwsSession, stubbed: Stubs) -> None:
    caller(stubbed, f"arn:aws:sts::{ACCOUNT}:assumed-role/R/s")
    stubbed["s3"].add_response("head_bucket", {})
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmMagicsNotice)
        assert session.bucket == f"sagemaker-{REGION}-{ACCOUNT}"


def test_default_bucket_of_another_account(session: AwsSession, stubbed: Stubs) -> None:
    caller(stubbed, f"arn:aws:sts::{ACCOUNT}:assumed-role/R/s")
    stubbed["s3"].add_client_error("head_bucket", service_error_code="403", http_status_code=403)
    with pytest.raises(AccessDenied, match=r"SageMakerMagics\.bucket"):
        _ = session.bucket


def test_default_bucket_name_taken(session: AwsSession, stubbed: Stubs) -> None:
    caller(stubbed, f"arn:aws:sts::{ACCOUNT}:assumed-role/R/s")
    stubbed["s3"].add_client_error("head_bucket", service_error_code="404", http_status_code=404)
    stubbed["s3"].add_client_error(
        "create_bucket", service_error_code="BucketAlreadyExists", http_status_code=409
    )
    with pytest.raises(AlreadyExists, match="taken by another AWS account"):
        _ = session.bucket


def test_default_bucket_created_meanwhile_by_us(session: AwsSession, stubbed: Stubs) -> None:
    caller(stubbed, f"arn:aws:sts::{ACCOUNT}:assumed-role/R/s")
    stubbed["s3"].add_client_error("head_bucket", service_error_code="404", http_status_code=404)
    stubbed["s3"].add_client_error(
        "create_bucket", service_error_code="BucketAlreadyOwnedByYou", http_status_code=409
    )
    assert session.bucket == f"sagemaker-{REGION}-{ACCOUNT}"


# -- clients ----------------------------------------------------------------------------------


def test_clients_are_made_once_with_adaptive_retries(session: AwsSession) -> None:
    sagemaker = session.client("sagemaker")
    assert session.client("sagemaker") is sagemaker
    assert sagemaker.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 11}
    assert "sm-magics/" in sagemaker.meta.config.user_agent_extra


def test_the_logs_client_gives_up_sooner(session: AwsSession) -> None:
    """The log reader backs off itself, keeping the lines it has; botocore should not."""
    logs = session.client("logs")
    assert logs.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 3}


def test_endpoint_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
    assert AwsSession(REGION).client("s3").meta.endpoint_url == "http://127.0.0.1:5999"
