"""Tuning on the sagemaker backend, with botocore's Stubber (every request validated).

The CreateHyperParameterTuningJob request is built from the CreateTrainingJob request of
the same spec (one path): these tests pin the whole request, the ledger rows of the
tuning job and of its trials, and stop's idempotence. moto knows Create/Describe but not
ListTrainingJobsForHyperParameterTuningJob nor StopHyperParameterTuningJob, so the
Stubber (which checks shapes against botocore's model) plays SageMaker here.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from sm_fakes import BUCKET, ROLE, Stubs
from test_training_stubber import IMAGE, expect_source_upload, source_hash, spec

from sm_magics.backends.sagemaker import training
from sm_magics.backends.sagemaker.tuning import SageMakerTuning, best_trial_name
from sm_magics.errors import InvalidRequest
from sm_magics.ledger import Ledger
from sm_magics.tuning import ranges
from sm_magics.tuning.spec import TuningSpec

TUNING_ARN = "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/"
CREATED = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)


def tuning_spec(**overrides: Any) -> TuningSpec:
    template = spec(
        "tune-1",
        hyperparameters={"epochs": 3},
        metric_definitions={"validation:auc": r"auc=([0-9.]+)"},
        instance_type="ml.c5.xlarge",
        keep_alive=600,
    )
    values: dict[str, Any] = {
        "name": "tune-1",
        "training": template,
        "objective": "validation:auc",
        "ranges": ranges.parse_ranges(["lr=1e-4:1e-1:log", "depth=3..10", "booster=gbtree,dart"]),
        "max_jobs": 20,
        "max_parallel": 4,
        "early_stopping": "Auto",
        "warm_start": ["tune-0"],
        "random_seed": 11,
    }
    values.update(overrides)
    return TuningSpec(**values)


def test_create_sends_the_training_definition_the_training_path_builds(
    backend: Any, stubs: Stubs, ledger: Ledger
) -> None:
    tuning = SageMakerTuning(backend.aws, ledger, backend.training)
    digest = source_hash()
    expect_source_upload(stubs, digest)
    submit = f"s3://{BUCKET}/sm-magics/source/{digest}/sourcedir.tar.gz"
    stubs["sagemaker"].add_response(
        "create_hyper_parameter_tuning_job",
        {"HyperParameterTuningJobArn": TUNING_ARN + "tune-1"},
        {
            "HyperParameterTuningJobName": "tune-1",
            "HyperParameterTuningJobConfig": {
                "Strategy": "Bayesian",
                "HyperParameterTuningJobObjective": {
                    "Type": "Maximize",
                    "MetricName": "validation:auc",
                },
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 4},
                "ParameterRanges": {
                    "ContinuousParameterRanges": [
                        {
                            "Name": "lr",
                            "MinValue": "0.0001",
                            "MaxValue": "0.1",
                            "ScalingType": "Logarithmic",
                        }
                    ],
                    "IntegerParameterRanges": [
                        {"Name": "depth", "MinValue": "3", "MaxValue": "10", "ScalingType": "Auto"}
                    ],
                    "CategoricalParameterRanges": [
                        {"Name": "booster", "Values": ["gbtree", "dart"]}
                    ],
                },
                "TrainingJobEarlyStoppingType": "Auto",
                "RandomSeed": 11,
            },
            "TrainingJobDefinition": {
                "StaticHyperParameters": {
                    "epochs": "3",
                    "sagemaker_program": '"train.py"',
                    "sagemaker_submit_directory": json.dumps(submit),
                    "sagemaker_container_log_level": "20",
                    "sagemaker_region": '"us-east-1"',
                    "sagemaker_job_name": '"tune-1"',
                },
                "AlgorithmSpecification": {
                    "TrainingImage": IMAGE,
                    "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": "validation:auc", "Regex": r"auc=([0-9.]+)"}],
                },
                "RoleArn": ROLE,
                "VpcConfig": {
                    "SecurityGroupIds": ["sg-0123abcd", "sg-4567ef01"],
                    "Subnets": ["subnet-0a1b2c3d"],
                },
                "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/sm-magics/output"},
                # no KeepAlivePeriodInSeconds: warm pools belong to single training jobs
                "ResourceConfig": {
                    "InstanceType": "ml.c5.xlarge",
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 30,
                },
                "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
                "EnableManagedSpotTraining": False,
            },
            "WarmStartConfig": {
                "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "tune-0"}],
                "WarmStartType": "IdenticalDataAndAlgorithm",
            },
            "Tags": [
                {"Key": "sm-magics:notebook", "Value": "work/demo.ipynb"},
                {"Key": "sm-magics:created-by", "Value": training.created_by()},
            ],
        },
    )

    tuning.create_tuning_job(tuning_spec())

    record = ledger.get_job("tune-1")
    assert record is not None
    assert (record.kind, record.backend, record.status) == ("tuning", "sagemaker", "InProgress")
    assert record.secondary_status == "0/20 trials"
    assert record.spec["max_parallel"] == 4
    assert record.spec["resolved_image"] == IMAGE


def test_grid_sends_no_job_count(backend: Any, stubs: Stubs, ledger: Ledger) -> None:
    tuning = SageMakerTuning(backend.aws, ledger, backend.training)
    expect_source_upload(stubs, source_hash(), present=True)
    stubs["sagemaker"].add_response(
        "create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": TUNING_ARN + "g"}
    )
    grid = tuning_spec(
        ranges=ranges.parse_ranges(["booster=gbtree,dart", "depth=3,5,7"]),
        strategy="Grid",
        max_jobs=10,
        early_stopping="Off",
        warm_start=[],
    )
    tuning.create_tuning_job(grid)
    # Stubber validated the request; look at what was sent through the ledger's spec
    assert grid.max_jobs == 6


def test_a_refused_create_leaves_no_row(backend: Any, stubs: Stubs, ledger: Ledger) -> None:
    tuning = SageMakerTuning(backend.aws, ledger, backend.training)
    expect_source_upload(stubs, source_hash(), present=True)
    stubs["sagemaker"].add_client_error(
        "create_hyper_parameter_tuning_job",
        service_error_code="ValidationException",
        service_message="The objective metric is not among the metric definitions",
        http_status_code=400,
    )
    with pytest.raises(InvalidRequest, match="objective metric"):
        tuning.create_tuning_job(tuning_spec())
    assert ledger.get_job("tune-1") is None


def _describe(status: str, **extra: Any) -> dict[str, Any]:
    response: dict[str, Any] = {
        "HyperParameterTuningJobName": "tune-1",
        "HyperParameterTuningJobArn": TUNING_ARN + "tune-1",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 4},
        },
        "HyperParameterTuningJobStatus": status,
        "CreationTime": CREATED,
        "TrainingJobStatusCounters": {"Completed": 3, "InProgress": 4, "NonRetryableError": 1},
        "ObjectiveStatusCounters": {"Succeeded": 3, "Pending": 4, "Failed": 1},
    }
    response.update(extra)
    return response


def _summary(name: str, status: str, value: float | None = None, **extra: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/" + name,
        "TuningJobName": "tune-1",
        "CreationTime": CREATED,
        "TrainingJobStatus": status,
        "TunedHyperParameters": {"lr": "0.01", "depth": "4", "booster": "dart"},
    }
    if value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": "Maximize",
            "MetricName": "validation:auc",
            "Value": value,
        }
    summary.update(extra)
    return summary


def _no_trials(stubs: Stubs) -> None:
    stubs["sagemaker"].add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job", {"TrainingJobSummaries": []}
    )


def _created(backend: Any, stubs: Stubs, ledger: Ledger) -> SageMakerTuning:
    tuning = SageMakerTuning(backend.aws, ledger, backend.training)
    expect_source_upload(stubs, source_hash(), present=True)
    stubs["sagemaker"].add_response(
        "create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": TUNING_ARN + "t"}
    )
    tuning.create_tuning_job(tuning_spec())
    return tuning


def test_describe_syncs_progress_and_trials_become_ledger_rows(
    backend: Any, stubs: Stubs, ledger: Ledger
) -> None:
    tuning = _created(backend, stubs, ledger)
    best = _summary("tune-1-002-aaaaaaaa", "Completed", 0.91)
    stubs["sagemaker"].add_response(
        "describe_hyper_parameter_tuning_job",
        _describe("InProgress", BestTrainingJob=best),
        {"HyperParameterTuningJobName": "tune-1"},
    )
    first_page = [best, _summary("tune-1-001-bbbbbbbb", "Failed", FailureReason="boom")]
    stubs["sagemaker"].add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": first_page, "NextToken": "page-2"},
        {
            "HyperParameterTuningJobName": "tune-1",
            "MaxResults": 100,
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
        },
    )
    stubs["sagemaker"].add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": [_summary("tune-1-003-cccccccc", "InProgress")]},
        {
            "HyperParameterTuningJobName": "tune-1",
            "MaxResults": 100,
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
            "NextToken": "page-2",
        },
    )
    # the row moved (0/20 -> 4/20 trials): describe also lists the trials, recording them
    description = tuning.describe_tuning_job("tune-1")
    assert best_trial_name(description) == "tune-1-002-aaaaaaaa"
    record = ledger.get_job("tune-1")
    assert record is not None and record.secondary_status == "4/20 trials, best 0.91"
    stubs["sagemaker"].add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": [*first_page, _summary("tune-1-003-cccccccc", "InProgress")]},
    )
    trials = tuning.list_tuning_trials("tune-1")
    assert [t["TrainingJobName"] for t in trials] == [
        "tune-1-002-aaaaaaaa",
        "tune-1-001-bbbbbbbb",
        "tune-1-003-cccccccc",
    ]
    failed = ledger.get_job("tune-1-001-bbbbbbbb")
    assert failed is not None
    assert (failed.status, failed.failure_reason) == ("Failed", "boom")
    assert failed.tags["sm-magics:tuning-job"] == "tune-1"
    assert (failed.instance_type, failed.kind) == ("ml.c5.xlarge", "training")


@pytest.mark.parametrize("status", ["Completed", "Failed", "Stopped", "Stopping"])
def test_stop_of_an_ended_job_does_nothing(
    backend: Any, stubs: Stubs, ledger: Ledger, status: str
) -> None:
    tuning = _created(backend, stubs, ledger)
    stubs["sagemaker"].add_response("describe_hyper_parameter_tuning_job", _describe(status))
    _no_trials(stubs)  # the row moved: its trials are listed (and recorded) once
    tuning.stop_tuning_job("tune-1")


def test_stop_a_running_tuning_job(backend: Any, stubs: Stubs, ledger: Ledger) -> None:
    tuning = _created(backend, stubs, ledger)
    stubs["sagemaker"].add_response("describe_hyper_parameter_tuning_job", _describe("InProgress"))
    _no_trials(stubs)
    stubs["sagemaker"].add_response(
        "stop_hyper_parameter_tuning_job", {}, {"HyperParameterTuningJobName": "tune-1"}
    )
    tuning.stop_tuning_job("tune-1")
    record = ledger.get_job("tune-1")
    assert record is not None and record.status == "Stopping"
