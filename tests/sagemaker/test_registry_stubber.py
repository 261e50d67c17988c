"""The model registry on the sagemaker backend, with botocore's Stubber.

Every request is validated against botocore's service model: the group created once, the
package with its inference specification (the serving image and the job's script-mode
handler environment), metrics uploaded by content hash, lineage as customer metadata;
approval through UpdateModelPackage; a package registered elsewhere mirrored on first
sight. moto stores packages too (tests/sagemaker/test_registry_moto.py).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from botocore.stub import ANY
from sm_fakes import BUCKET, Stubs
from test_training_stubber import IMAGE, describe_response

from sm_magics import model_registry
from sm_magics.backends.packages import PackageSpec
from sm_magics.errors import InvalidRequest
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import JobRecord

GROUP_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/churn"
PACKAGE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3"
MODEL = f"s3://{BUCKET}/sm-magics/output/job-1/output/model.tar.gz"
SUBMIT = f"s3://{BUCKET}/sm-magics/source/abc/sourcedir.tar.gz"


def _job(ledger: Ledger) -> None:
    ledger.insert_job(
        JobRecord(
            name="job-1",
            backend="sagemaker",
            status="Completed",
            created_at=1.0,
            source_hash="abc123",
            spec={"inputs": {"train": "s3://data/train/"}},
        )
    )


def test_register_sends_group_package_metrics_and_lineage(
    backend: Any, stubs: Stubs, ledger: Ledger
) -> None:
    _job(ledger)
    stubs["sagemaker"].add_response(
        "describe_training_job",
        describe_response(
            "job-1",
            "Completed",
            "Completed",
            HyperParameters={
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": json.dumps(SUBMIT),
            },
        ),
        {"TrainingJobName": "job-1"},
    )
    stubs["sagemaker"].add_response(
        "create_model_package_group",
        {"ModelPackageGroupArn": GROUP_ARN},
        {"ModelPackageGroupName": "churn", "ModelPackageGroupDescription": ANY},
    )
    body = json.dumps({"metrics": {"acc": {"value": 0.91}}}, sort_keys=True).encode()
    key = f"sm-magics/model-metrics/{hashlib.sha256(body).hexdigest()}.json"
    stubs["s3"].add_client_error(
        "head_object",
        service_error_code="404",
        http_status_code=404,
        expected_params={"Bucket": BUCKET, "Key": key},
    )
    stubs["s3"].add_response("put_object", {}, {"Bucket": BUCKET, "Key": key, "Body": body})
    stubs["sagemaker"].add_response(
        "create_model_package",
        {"ModelPackageArn": PACKAGE_ARN},
        {
            "ModelPackageGroupName": "churn",
            "ModelPackageDescription": "better recall",
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": IMAGE,  # the scikit-learn image trains and serves
                        "ModelDataUrl": MODEL,
                        "Environment": {
                            "SAGEMAKER_PROGRAM": "train.py",
                            "SAGEMAKER_SUBMIT_DIRECTORY": SUBMIT,
                        },
                    }
                ],
                "SupportedContentTypes": ["application/json", "text/csv"],
                "SupportedResponseMIMETypes": ["application/json", "text/csv"],
                "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
                "SupportedTransformInstanceTypes": ["ml.m5.large"],
            },
            "ModelApprovalStatus": "PendingManualApproval",
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://{BUCKET}/{key}",
                    }
                }
            },
            "CustomerMetadataProperties": {
                "sm-magics:source-job": "job-1",
                "sm-magics:source-hash": "abc123",
            },
        },
    )
    record = backend.register_model(
        PackageSpec(
            group="churn",
            model_data=MODEL,
            source_job="job-1",
            description="better recall",
            metrics={"acc": 0.91},
            source_hash="abc123",
        ),
        by="me@host",
    )
    assert (record.arn, record.version, record.label) == (PACKAGE_ARN, 3, "churn/3")
    stored = model_registry.get(ledger, PACKAGE_ARN)
    assert stored is not None and stored.source_job == "job-1"
    assert stored.history[0]["by"] == "me@host"


def test_an_existing_group_is_fine(backend: Any, stubs: Stubs, ledger: Ledger) -> None:
    stubs["sagemaker"].add_client_error(
        "create_model_package_group",
        service_error_code="ValidationException",
        service_message="Model Package Group already exists: churn",
        http_status_code=400,
    )
    stubs["sagemaker"].add_response("create_model_package", {"ModelPackageArn": PACKAGE_ARN})
    record = backend.register_model(
        PackageSpec(group="churn", model_data=MODEL, approval="Approved"), by="me@host"
    )
    assert record.status == "Approved"


def test_a_local_model_is_refused_before_any_call(backend: Any, stubs: Stubs) -> None:
    with pytest.raises(InvalidRequest, match="lives in S3"):
        backend.register_model(PackageSpec(group="churn", model_data="/tmp/model.tar.gz"), by="x")


def test_approval_updates_the_package_and_records_who(
    backend: Any, stubs: Stubs, ledger: Ledger
) -> None:
    stubs["sagemaker"].add_client_error(
        "create_model_package_group",
        service_error_code="ValidationException",
        service_message="already exists",
        http_status_code=400,
    )
    stubs["sagemaker"].add_response("create_model_package", {"ModelPackageArn": PACKAGE_ARN})
    backend.register_model(PackageSpec(group="churn", model_data=MODEL), by="a@h")
    stubs["sagemaker"].add_response(
        "update_model_package",
        {"ModelPackageArn": PACKAGE_ARN},
        {
            "ModelPackageArn": PACKAGE_ARN,
            "ModelApprovalStatus": "Approved",
            "ApprovalDescription": "passes the bar",
        },
    )
    record = backend.set_model_approval(PACKAGE_ARN, "Approved", by="b@h", note="passes the bar")
    assert record.status == "Approved"
    assert [h["by"] for h in record.history] == ["a@h", "b@h"]


def test_listing_mirrors_packages_registered_elsewhere(
    backend: Any, stubs: Stubs, ledger: Ledger
) -> None:
    created = datetime(2026, 11, 30, tzinfo=timezone.utc)
    stubs["sagemaker"].add_response(
        "list_model_packages",
        {
            "ModelPackageSummaryList": [
                {
                    "ModelPackageGroupName": "churn",
                    "ModelPackageVersion": 3,
                    "ModelPackageArn": PACKAGE_ARN,
                    "CreationTime": created,
                    "ModelPackageStatus": "Completed",
                    "ModelApprovalStatus": "Approved",
                }
            ]
        },
        {"ModelPackageGroupName": "churn", "MaxResults": 100},
    )
    stubs["sagemaker"].add_response(
        "describe_model_package",
        {
            "ModelPackageName": "churn",
            "ModelPackageGroupName": "churn",
            "ModelPackageVersion": 3,
            "ModelPackageArn": PACKAGE_ARN,
            "CreationTime": created,
            "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "ModelApprovalStatus": "Approved",
            "InferenceSpecification": {
                "Containers": [{"Image": IMAGE, "ModelDataUrl": MODEL}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            "CustomerMetadataProperties": {"sm-magics:source-job": "job-9"},
        },
        {"ModelPackageName": PACKAGE_ARN},
    )
    [record] = backend.list_model_packages("churn")
    assert (record.version, record.status, record.source_job) == (3, "Approved", "job-9")
    assert record.model_data == MODEL
