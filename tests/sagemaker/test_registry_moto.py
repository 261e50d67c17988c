"""The model registry against moto: real CreateModelPackageGroup/Package, approval, listing.

moto stores model package groups and packages, numbers versions and keeps approval
statuses, so the whole register -> approve -> list -> resolve path runs over HTTP here.
What moto does not do (serve the package) is not asked of it.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from sm_fakes import REGION, ROLE

from sm_magics import model_registry
from sm_magics.api import Session
from sm_magics.api.registry import resolve_package
from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.errors import InvalidRequest
from sm_magics.ledger import Ledger


@pytest.fixture
def session(moto_url: str, ledger: Ledger) -> Session:
    aws = AwsSession(REGION, role=ROLE, endpoint_url=moto_url)
    aws.client("s3").create_bucket(Bucket=aws.bucket)
    return Session("sagemaker", region=REGION, ledger=ledger, aws=aws)


def test_register_approve_list_and_resolve_on_moto(session: Session, moto_url: str) -> None:
    model = f"s3://{session.backend().aws.bucket}/models/model.tar.gz"  # type: ignore[attr-defined]
    first = session.register(model, group="fraud", description="baseline")
    second = session.register(model, group="fraud", approval="approve")
    assert (first.version, second.version) == (1, 2)
    assert second.status == "Approved"
    client = boto3.client("sagemaker", endpoint_url=moto_url, region_name=REGION)
    listed = client.list_model_packages(ModelPackageGroupName="fraud")["ModelPackageSummaryList"]
    assert sorted(p["ModelPackageVersion"] for p in listed) == [1, 2]

    session.approve("fraud/1", note="fine too")
    described = client.describe_model_package(ModelPackageName=first.arn)
    assert described["ModelApprovalStatus"] == "Approved"

    latest = resolve_package(session, "fraud")
    assert latest is not None and latest.version == 2
    session.reject("fraud/2")
    assert resolve_package(session, "fraud") is not None  # version 1 is still approved
    with pytest.raises(InvalidRequest, match="Rejected, not Approved"):
        resolve_package(session, "fraud/2")
    table = session.models("fraud")
    assert [(r.version, r.status) for r in table.rows] == [(2, "Rejected"), (1, "Approved")]


def test_a_package_registered_elsewhere_is_mirrored(session: Session, moto_url: str) -> None:
    client = boto3.client("sagemaker", endpoint_url=moto_url, region_name=REGION)
    client.create_model_package_group(ModelPackageGroupName="shared")
    arn = client.create_model_package(
        ModelPackageGroupName="shared",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "img", "ModelDataUrl": "s3://b/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    rows = session.models("shared").rows
    assert [(r.arn, r.status) for r in rows] == [(arn, "Approved")]
    stored: Any = model_registry.get(session.ledger, arn)
    assert stored.model_data == "s3://b/m.tar.gz"
