"""Training on the sagemaker backend, request by request, with botocore's Stubber.

Stubber sits on the real clients of an ``AwsSession``: every request is validated against
the real service model (types, required members, unknown keys), each stubbed response is
validated too, and a call the test did not queue fails the test. So these tests pin the
exact ``CreateTrainingJob`` the backend sends and exactly which S3 calls precede it.
"""

from __future__ import annotations

import json
import sys
import types
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY
from sm_fakes import BUCKET, REGION, ROLE, Stubs

from sm_magics import packaging
from sm_magics.backends.sagemaker import training, training_requests
from sm_magics.backends.specs import TrainingSpec
from sm_magics.errors import (
    AccessDenied,
    AlreadyExists,
    BackendUnavailable,
    InvalidRequest,
    NotFound,
    ResourceLimitExceeded,
    SmMagicsNotice,
)
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import JobRecord

SCRIPT = "import os\nprint('training on', os.environ.get('SM_CURRENT_HOST'))\n"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/"


def source_hash(script: str = SCRIPT, entry_point: str = "train.py") -> str:
    """The content hash the backend will compute for a cell, computed the same way."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return packaging.stage_source(Path(tmp) / "code", entry_point=entry_point, script=script)


def source_key(digest: str) -> str:
    return f"sm-magics/source/{digest}/sourcedir.tar.gz"


def row(ledger: Ledger, name: str = "job-1") -> JobRecord:
    record = ledger.get_job(name)
    assert record is not None, f"no ledger row for {name}"
    return record


def spec(name: str = "job-1", **overrides: Any) -> TrainingSpec:
    values: dict[str, Any] = {
        "name": name,
        "entry_point": "train.py",
        "script": SCRIPT,
        "image": IMAGE,
        "notebook": "work/demo.ipynb",
    }
    values.update(overrides)
    return TrainingSpec(**values)


def expect_source_upload(stubs: Stubs, digest: str, *, present: bool = False) -> None:
    head = {"Bucket": BUCKET, "Key": source_key(digest)}
    if present:
        stubs["s3"].add_response("head_object", {"ContentLength": 321}, head)
        return
    stubs["s3"].add_client_error(
        "head_object",
        service_error_code="404",
        service_message="Not Found",
        http_status_code=404,
        expected_params=head,
    )
    stubs["s3"].add_response(
        "put_object", {"ETag": '"etag"'}, {"Bucket": BUCKET, "Key": source_key(digest), "Body": ANY}
    )


def expect_create(stubs: Stubs, params: dict[str, Any] | None = None, name: str = "job-1") -> None:
    stubs["sagemaker"].add_response(
        "create_training_job", {"TrainingJobArn": ARN + name}, params if params else None
    )


def describe_response(name: str, status: str, secondary: str, **extra: Any) -> dict[str, Any]:
    """A DescribeTrainingJob response that passes the service model's validation."""
    created = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
    response: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": ARN + name,
        "ModelArtifacts": {
            "S3ModelArtifacts": f"s3://{BUCKET}/sm-magics/output/{name}/output/model.tar.gz"
        },
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": created,
        "EnableManagedSpotTraining": False,
    }
    response.update(extra)
    return response


# -- the request ------------------------------------------------------------------------------


def test_create_sends_the_exact_request(
    backend: Any, stubs: Stubs, ledger: Ledger, tmp_path: Path
) -> None:
    data = tmp_path / "train-data"
    (data / "part").mkdir(parents=True)
    (data / "a.csv").write_text("1,2\n")
    (data / "part" / "b.csv").write_text("3,4\n")
    digest = source_hash()
    data_digest = packaging.hash_tree(data)
    job = spec(
        "full-job",
        hyperparameters={"epochs": 3, "lr": 0.1, "criterion": "gini", "layers": [64, 32]},
        inputs={"train": str(data), "test": "s3://other-bucket/test/"},
        instance_type="ml.c5.xlarge",
        instance_count=2,
        metric_definitions={"loss": r"loss=([0-9.]+)", "acc": r"acc=([0-9.]+)"},
        environment={"TOKENIZERS_PARALLELISM": "false"},
        spot=True,
        max_run=3600,
        max_wait=7200,
        checkpoint_uri="s3://other-bucket/checkpoints/full-job/",
        tags={"team": "ml", "cost-center": "42"},
        notebook="work/My Notebook (v2).ipynb",
    )
    expect_source_upload(stubs, digest)
    # The folder: its manifest decides; files first, the manifest last.
    manifest = f"sm-magics/data/{data_digest}.manifest.json"
    stubs["s3"].add_client_error(
        "head_object",
        service_error_code="404",
        http_status_code=404,
        expected_params={"Bucket": BUCKET, "Key": manifest},
    )
    for relative in ("a.csv", "part/b.csv"):
        stubs["s3"].add_response(
            "put_object",
            {},
            {"Bucket": BUCKET, "Key": f"sm-magics/data/{data_digest}/{relative}", "Body": ANY},
        )
    stubs["s3"].add_response(
        "put_object",
        {},
        {"Bucket": BUCKET, "Key": manifest, "Body": ANY, "ContentType": "application/json"},
    )
    submit = f"s3://{BUCKET}/sm-magics/source/{digest}/sourcedir.tar.gz"
    expect_create(
        stubs,
        {
            "TrainingJobName": "full-job",
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [
                    {"Name": "loss", "Regex": r"loss=([0-9.]+)"},
                    {"Name": "acc", "Regex": r"acc=([0-9.]+)"},
                ],
            },
            "RoleArn": ROLE,
            "HyperParameters": {
                "epochs": "3",
                "lr": "0.1",
                "criterion": '"gini"',
                "layers": "[64, 32]",
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": json.dumps(submit),
                "sagemaker_container_log_level": "20",
                "sagemaker_region": '"us-east-1"',
                "sagemaker_job_name": '"full-job"',
            },
            "InputDataConfig": [
                {
                    "ChannelName": "test",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": "s3://other-bucket/test/",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                },
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{BUCKET}/sm-magics/data/{data_digest}/",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                },
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/sm-magics/output"},
            "ResourceConfig": {
                "InstanceType": "ml.c5.xlarge",
                "InstanceCount": 2,
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
            "EnableManagedSpotTraining": True,
            "CheckpointConfig": {"S3Uri": "s3://other-bucket/checkpoints/full-job/"},
            "VpcConfig": {
                "SecurityGroupIds": ["sg-0123abcd", "sg-4567ef01"],
                "Subnets": ["subnet-0a1b2c3d"],
            },
            "Environment": {"TOKENIZERS_PARALLELISM": "false"},
            "Tags": [
                {"Key": "sm-magics:notebook", "Value": "work/My Notebook _v2_.ipynb"},
                {"Key": "sm-magics:created-by", "Value": training.created_by()},
                {"Key": "team", "Value": "ml"},
                {"Key": "cost-center", "Value": "42"},
            ],
        },
        name="full-job",
    )

    backend.create_training_job(job)

    record = ledger.get_job("full-job")
    assert record is not None
    assert (record.backend, record.status, record.secondary_status) == (
        "sagemaker",
        "InProgress",
        "Starting",
    )
    assert (record.instance_type, record.instance_count, record.spot) == ("ml.c5.xlarge", 2, True)
    assert record.source_hash == digest
    assert record.tags == {"team": "ml", "cost-center": "42"}
    assert record.notebook == "work/My Notebook (v2).ipynb"


def test_minimal_request_sends_no_optional_fields(aws: Any, ledger: Ledger, stubs: Stubs) -> None:
    """Without spot, VPC, channels, checkpoints or env: none of those keys is sent."""
    from sm_magics.backends.sagemaker import SageMakerBackend

    plain = SageMakerBackend(aws=aws, ledger=ledger)
    digest = source_hash()
    expect_source_upload(stubs, digest)
    expect_create(
        stubs,
        {
            "TrainingJobName": "job-1",
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "HyperParameters": {
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/{source_key(digest)}"),
                "sagemaker_container_log_level": "20",
                "sagemaker_region": '"us-east-1"',
                "sagemaker_job_name": '"job-1"',
            },
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/sm-magics/output"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
            "EnableManagedSpotTraining": False,
            "Tags": [
                {"Key": "sm-magics:notebook", "Value": "work/demo.ipynb"},
                {"Key": "sm-magics:created-by", "Value": training.created_by()},
            ],
        },
    )
    plain.create_training_job(spec())


def test_spot_without_max_wait_allows_twice_the_run(backend: Any) -> None:
    sent = training_requests.training_job_request(
        spec(spot=True, max_run=1800),
        region=backend.aws.region,
        image=IMAGE,
        role=ROLE,
        bucket=BUCKET,
        submit_dir="s3://b/k",
        channels={},
    )
    assert sent["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800, "MaxWaitTimeInSeconds": 3600}
    assert sent["EnableManagedSpotTraining"] is True


def test_an_unchanged_cell_is_uploaded_once(backend: Any, stubs: Stubs, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("x,y\n1,2\n")
    from sm_magics.backends.sagemaker.uploads import digest_of_file

    data_key = f"sm-magics/data/{digest_of_file(data)}/data.csv"
    digest = source_hash()
    # First job: nothing on S3 yet, both are put.
    expect_source_upload(stubs, digest)
    stubs["s3"].add_client_error(
        "head_object",
        service_error_code="404",
        http_status_code=404,
        expected_params={"Bucket": BUCKET, "Key": data_key},
    )
    stubs["s3"].add_response("put_object", {}, {"Bucket": BUCKET, "Key": data_key, "Body": ANY})
    expect_create(stubs, name="job-1")
    backend.create_training_job(spec("job-1", inputs={"train": str(data)}))
    # Second job, same cell and data: two HeadObject calls find them, no PutObject at all
    # (Stubber would fail on an unqueued put_object).
    expect_source_upload(stubs, digest, present=True)
    stubs["s3"].add_response(
        "head_object", {"ContentLength": 8}, {"Bucket": BUCKET, "Key": data_key}
    )
    expect_create(stubs, name="job-2")
    backend.create_training_job(spec("job-2", inputs={"train": data.as_uri()}))


def test_a_changed_cell_is_uploaded_under_its_new_hash(backend: Any, stubs: Stubs) -> None:
    changed = SCRIPT + "print('one more line')\n"
    assert source_hash(changed) != source_hash()
    expect_source_upload(stubs, source_hash(changed))
    expect_create(stubs)
    backend.create_training_job(spec(script=changed))


def test_session_train_goes_through_the_backend(aws: Any, ledger: Ledger, stubs: Stubs) -> None:
    from sm_magics.api import Session

    session = Session("sagemaker", region=REGION, ledger=ledger, notebook="nb.ipynb", aws=aws)
    expect_source_upload(stubs, source_hash(), present=True)
    expect_create(stubs, name="api-job")
    job = session.train(SCRIPT, name="api-job", image=IMAGE, hyperparameters={"epochs": 2})
    assert (job.name, job.backend_name) == ("api-job", "sagemaker")
    record = ledger.get_job("api-job")
    assert record is not None and record.backend == "sagemaker"


# -- the image --------------------------------------------------------------------------------


def test_framework_resolves_the_image_through_the_sdk_lazily(
    backend: Any, stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []
    uri = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-cpu-py311"

    def retrieve(framework: str, region: str, **kwargs: Any) -> str:
        calls.append((framework, region, kwargs))
        return uri

    fake = types.ModuleType("sagemaker.core.image_uris")
    fake.retrieve = retrieve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sagemaker", types.ModuleType("sagemaker"))
    monkeypatch.setitem(sys.modules, "sagemaker.core", types.ModuleType("sagemaker.core"))
    monkeypatch.setitem(sys.modules, "sagemaker.core.image_uris", fake)
    expect_source_upload(stubs, source_hash(), present=True)
    expect_create(stubs)
    backend.create_training_job(
        spec(
            image=None,
            framework="pytorch",
            framework_version="2.5",
            py_version="py311",
            instance_type="ml.c5.2xlarge",
        )
    )
    assert calls == [
        (
            "pytorch",
            "us-east-1",
            {
                "version": "2.5",
                "py_version": "py311",
                "instance_type": "ml.c5.2xlarge",
                "image_scope": "training",
            },
        )
    ]
    assert backend.ledger.get_job("job-1").spec["resolved_image"] == uri


def test_framework_without_the_sdk_says_what_to_install(
    backend: Any, stubs: Stubs, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sagemaker.core.image_uris", None)  # import fails
    with pytest.raises(BackendUnavailable) as caught:
        backend.create_training_job(
            spec(image=None, framework="sklearn", framework_version="1.2-1")
        )
    assert "pip install 'sm-magics[sagemaker]'" in str(caught.value)
    assert "--image" in str(caught.value)
    assert ledger.get_job("job-1") is None  # and no AWS call: Stubber has none queued


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"image": None, "framework": "pytorch"}, "needs --framework-version"),
        ({"framework": "pytorch", "framework_version": "2.5"}, "not both"),
        ({"inputs": {"train": "/no/such/folder"}}, "does not exist"),
        ({"inputs": {"train": "gs://bucket/x"}}, "Unsupported URI scheme"),
        ({"checkpoint_uri": "/tmp/ckpt"}, "must be an s3:// URI"),
        ({"max_wait": 7200}, "add --spot"),
        ({"spot": True, "max_run": 7200, "max_wait": 3600}, "at least --max-run"),
        ({"tags": {"sm-magics:notebook": "x"}}, "set by sm-magics"),
    ],
)
def test_bad_specs_fail_before_any_call(
    backend: Any, stubs: Stubs, ledger: Ledger, overrides: dict[str, Any], expected: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        backend.create_training_job(spec(**overrides))
    assert expected in str(caught.value)
    assert ledger.get_job("job-1") is None


def test_half_a_vpc_is_refused(aws: Any, ledger: Ledger, stubs: Stubs) -> None:
    from sm_magics.backends.options import BackendOptions
    from sm_magics.backends.sagemaker import SageMakerBackend

    half = SageMakerBackend(aws=aws, ledger=ledger, options=BackendOptions(subnets=("subnet-1",)))
    with pytest.raises(InvalidRequest, match="both subnets and security_group_ids"):
        half.create_training_job(spec())


# -- errors from CreateTrainingJob ------------------------------------------------------------

QUOTA = (
    "The account-level service limit 'ml.p3.2xlarge for training job usage' is 0 Instances, "
    "with current utilization of 0 Instances and a request delta of 1 Instances. Please use "
    "AWS Service Quotas to request an increase for this quota."
)


@pytest.mark.parametrize(
    ("code", "status", "message", "error", "must_say"),
    [
        (
            "ResourceLimitExceeded",
            400,
            QUOTA,
            ResourceLimitExceeded,
            ["ml.p3.2xlarge for training job usage", "Service Quotas", "CreateTrainingJob"],
        ),
        (
            "AccessDeniedException",
            400,
            "User: arn:aws:sts::123456789012:assumed-role/Dev/me is not authorized to perform: "
            "sagemaker:CreateTrainingJob on resource: arn:aws:sagemaker:us-east-1:123456789012:"
            "training-job/job-1 because no identity-based policy allows the "
            "sagemaker:CreateTrainingJob action",
            AccessDenied,
            ["IAM permission sagemaker:CreateTrainingJob"],
        ),
        (
            "AccessDeniedException",
            400,
            "User: arn:aws:sts::123456789012:assumed-role/Dev/me is not authorized to perform: "
            "iam:PassRole on resource: " + ROLE,
            AccessDenied,
            ["IAM permission iam:PassRole"],
        ),
        (
            "ValidationException",
            400,
            "1 validation error detected: Value 'ml.nope' at 'resourceConfig.instanceType' "
            "failed to satisfy constraint",
            InvalidRequest,
            ["CreateTrainingJob", "ml.nope"],
        ),
        (
            "ThrottlingException",
            400,
            "Rate exceeded",
            BackendUnavailable,
            ["throttling CreateTrainingJob", "Rate exceeded"],
        ),
        (
            "ResourceInUse",
            400,
            "Training job names must be unique within an AWS account and region, and a training "
            "job with this name already exists",
            AlreadyExists,
            ["already exists"],
        ),
    ],
)
def test_create_errors_are_one_clear_error_and_leave_no_row(
    backend: Any,
    stubs: Stubs,
    ledger: Ledger,
    code: str,
    status: int,
    message: str,
    error: type[Exception],
    must_say: list[str],
) -> None:
    expect_source_upload(stubs, source_hash(), present=True)
    stubs["sagemaker"].add_client_error(
        "create_training_job",
        service_error_code=code,
        service_message=message,
        http_status_code=status,
    )
    if code == "ThrottlingException":  # ambiguous: did an earlier attempt create it? No.
        stubs["sagemaker"].add_client_error(
            "describe_training_job",
            service_error_code="ValidationException",
            service_message="Requested resource not found.",
            expected_params={"TrainingJobName": "job-1"},
        )
    if code == "ResourceInUse":  # someone else's job of that name, another script
        stubs["sagemaker"].add_response(
            "describe_training_job",
            describe_response("job-1", "InProgress", "Training", HyperParameters={"x": "1"}),
        )
    with pytest.raises(error) as caught:
        backend.create_training_job(spec(instance_type="ml.p3.2xlarge"))
    text = str(caught.value)
    for needle in must_say:
        assert needle in text
    assert "\n" not in text  # one short message, not a dump
    assert ledger.get_job("job-1") is None  # nothing half-created


def test_an_answer_lost_to_a_timeout_keeps_the_job_it_created(
    backend: Any, stubs: Stubs, ledger: Ledger
) -> None:
    """The first attempt created the job, its answer was lost, the retry met the job."""
    expect_source_upload(stubs, source_hash(), present=True)
    sent = training_requests.training_job_request(
        spec(),
        region=backend.aws.region,
        image=IMAGE,
        role=ROLE,
        bucket=BUCKET,
        submit_dir=f"s3://{BUCKET}/{source_key(source_hash())}",
        channels={},
        vpc=training_requests.vpc_config(backend.options),
    )
    stubs["sagemaker"].add_client_error(
        "create_training_job",
        service_error_code="ResourceInUse",
        service_message="a training job with this name already exists",
    )
    stubs["sagemaker"].add_response(
        "describe_training_job",
        describe_response(
            "job-1",
            "InProgress",
            "Starting",
            HyperParameters=sent["HyperParameters"],
            RoleArn=ROLE,
            CreationTime=datetime.now(timezone.utc),
        ),
        {"TrainingJobName": "job-1"},
    )
    backend.create_training_job(spec())  # no error: it is our job
    assert row(ledger).status == "InProgress"  # tracked, so cleanup can find it


def test_a_failed_upload_leaves_no_row(backend: Any, stubs: Stubs, ledger: Ledger) -> None:
    digest = source_hash()
    stubs["s3"].add_client_error("head_object", service_error_code="404", http_status_code=404)
    stubs["s3"].add_client_error(
        "put_object",
        service_error_code="AccessDenied",
        service_message="Access Denied",
        http_status_code=403,
        expected_params={"Bucket": BUCKET, "Key": source_key(digest), "Body": ANY},
    )
    with pytest.raises(AccessDenied, match="s3:PutObject"):
        backend.create_training_job(spec())
    assert ledger.get_job("job-1") is None


def test_a_name_taken_in_the_ledger_makes_no_call(backend: Any, stubs: Stubs) -> None:
    expect_source_upload(stubs, source_hash(), present=True)
    expect_create(stubs)
    backend.create_training_job(spec())
    with pytest.raises(AlreadyExists):
        backend.create_training_job(spec())  # nothing queued: any AWS call would fail


# -- describe and stop ------------------------------------------------------------------------


def created_job(backend: Any, stubs: Stubs, name: str = "job-1") -> None:
    expect_source_upload(stubs, source_hash(), present=True)
    expect_create(stubs, name=name)
    backend.create_training_job(spec(name))


def test_describe_returns_the_response_and_syncs_the_ledger(
    backend: Any, stubs: Stubs, ledger: Ledger
) -> None:
    created_job(backend, stubs)
    started = datetime(2026, 11, 22, 10, 2, tzinfo=timezone.utc)
    ended = datetime(2026, 11, 22, 10, 9, tzinfo=timezone.utc)
    stubs["sagemaker"].add_response(
        "describe_training_job",
        describe_response("job-1", "InProgress", "Training", TrainingStartTime=started),
        {"TrainingJobName": "job-1"},
    )
    stubs["sagemaker"].add_response(
        "describe_training_job",
        describe_response(
            "job-1", "Completed", "Completed", TrainingStartTime=started, TrainingEndTime=ended
        ),
        {"TrainingJobName": "job-1"},
    )
    first = backend.describe_training_job("job-1")
    assert first["SecondaryStatus"] == "Training"
    assert "ResponseMetadata" not in first
    record = row(ledger)
    assert (record.status, record.secondary_status, record.started_at) == (
        "InProgress",
        "Training",
        started.timestamp(),
    )
    assert record.model_data is None  # named early by the API, but not there yet
    final = backend.describe_training_job("job-1")
    assert final["TrainingJobStatus"] == "Completed"
    record = row(ledger)
    assert (record.status, record.ended_at) == ("Completed", ended.timestamp())
    assert record.model_data == f"s3://{BUCKET}/sm-magics/output/job-1/output/model.tar.gz"


def test_failure_reason_reaches_the_ledger(backend: Any, stubs: Stubs, ledger: Ledger) -> None:
    created_job(backend, stubs)
    stubs["sagemaker"].add_response(
        "describe_training_job",
        describe_response(
            "job-1",
            "Failed",
            "Failed",
            FailureReason="AlgorithmError: ExecuteUserScriptError: exit code 1",
        ),
    )
    backend.describe_training_job("job-1")
    record = row(ledger)
    assert record.status == "Failed"
    assert record.failure_reason == "AlgorithmError: ExecuteUserScriptError: exit code 1"


def test_describe_of_an_unknown_job_is_not_found(backend: Any, stubs: Stubs) -> None:
    stubs["sagemaker"].add_client_error(
        "describe_training_job",
        service_error_code="ValidationException",
        service_message="Requested resource not found.",
    )
    with pytest.raises(NotFound, match="No SageMaker training job named 'ghost'"):
        backend.describe_training_job("ghost")


@pytest.mark.parametrize("status", ["Completed", "Failed", "Stopped", "Stopping"])
def test_stop_on_an_ended_job_does_nothing(backend: Any, stubs: Stubs, status: str) -> None:
    stubs["sagemaker"].add_response(
        "describe_training_job", describe_response("job-1", status, status)
    )
    backend.stop_training_job("job-1")  # no StopTrainingJob queued: calling it would fail


def test_stop_a_running_job(backend: Any, stubs: Stubs, ledger: Ledger) -> None:
    created_job(backend, stubs)
    stubs["sagemaker"].add_response(
        "describe_training_job", describe_response("job-1", "InProgress", "Training")
    )
    stubs["sagemaker"].add_response("stop_training_job", {}, {"TrainingJobName": "job-1"})
    backend.stop_training_job("job-1")
    assert row(ledger).status == "Stopping"


def test_stop_racing_the_end_is_tolerated(backend: Any, stubs: Stubs) -> None:
    """The job ends between our describe and the stop: SageMaker's ValidationException."""
    stubs["sagemaker"].add_response(
        "describe_training_job", describe_response("job-1", "InProgress", "Uploading")
    )
    stubs["sagemaker"].add_client_error(
        "stop_training_job",
        service_error_code="ValidationException",
        service_message="The request was rejected because the training job is in status Completed.",
    )
    stubs["sagemaker"].add_response(
        "describe_training_job", describe_response("job-1", "Completed", "Completed")
    )
    backend.stop_training_job("job-1")


def test_stop_refused_for_another_reason_is_raised(backend: Any, stubs: Stubs) -> None:
    stubs["sagemaker"].add_response(
        "describe_training_job", describe_response("job-1", "InProgress", "Training")
    )
    stubs["sagemaker"].add_client_error(
        "stop_training_job",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: sagemaker:StopTrainingJob",
    )
    with pytest.raises(AccessDenied, match="sagemaker:StopTrainingJob"):
        backend.stop_training_job("job-1")


def test_stop_an_unknown_job_is_not_found(backend: Any, stubs: Stubs) -> None:
    stubs["sagemaker"].add_client_error(
        "describe_training_job",
        service_error_code="ValidationException",
        service_message="Requested resource not found.",
    )
    with pytest.raises(NotFound):
        backend.stop_training_job("ghost")


def test_read_logs_of_a_job_started_elsewhere_describes_it_once(backend: Any, stubs: Stubs) -> None:
    """No ledger row: the instance count comes from one describe; the logs group is empty.

    Two hosts, running: one ``FilterLogEvents`` for both, from the beginning.
    """
    stubs["sagemaker"].add_response(
        "describe_training_job", describe_response("other-job", "InProgress", "Starting")
    )
    stubs["logs"].add_client_error(
        "filter_log_events",
        service_error_code="ResourceNotFoundException",
        service_message="The specified log group does not exist.",
        expected_params={
            "logGroupName": "/aws/sagemaker/TrainingJobs",
            "logStreamNamePrefix": "other-job/",
            "startTime": 0,
            "limit": 10_000,
        },
    )
    batch = backend.read_training_logs("other-job")
    assert batch.events == []
    assert batch.cursor["hosts"] == 2
    assert backend.read_training_logs("other-job", batch.cursor).events == []  # paced: no call


def test_no_image_and_no_framework_trains_in_the_default_container(backend: Any) -> None:
    """No --image, no --framework: the SageMaker scikit-learn container, said in a notice."""
    from sm_magics.backends.sagemaker import images
    from sm_magics.backends.sagemaker.training import resolve_image

    with pytest.warns(SmMagicsNotice) as said:
        image = resolve_image(spec(image=None), "eu-west-1")
    assert (
        image == "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    )
    notice = str(said[0].message)
    assert image in notice and "--image URI" in notice
    assert images.default_sklearn_image("cn-north-1").endswith(
        ".amazonaws.com.cn/sagemaker-scikit-learn:1.2-1-cpu-py3"
    )
    with pytest.raises(InvalidRequest, match="no default container"):
        resolve_image(spec(image=None), "xx-nowhere-1")
