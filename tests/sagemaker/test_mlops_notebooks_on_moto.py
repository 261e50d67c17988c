"""The registry and tuning notebooks, unchanged but for the backend line, against moto.

The harness is the quickstart's (``test_quickstart_on_moto.py``): moto as SageMaker, S3
and CloudWatch Logs over HTTP; its fake container runs each training and processing job
from the request the kernel sent. Where moto stops for these notebooks:

* the model registry: moto stores groups, versions and approvals itself (nothing faked);
* endpoints: moto creates them ``InService`` and answers ``InvokeEndpoint`` with a canned
  body (no model runs), so the notebook's invoke shows moto's answer, not a prediction;
* tuning: moto stores a tuning job but runs no trial and has neither
  ``ListTrainingJobsForHyperParameterTuningJob`` nor ``StopHyperParameterTuningJob``.
  :class:`FakeTuner` plays SageMaker's tuner: it samples each trial's values from the
  request's ``ParameterRanges`` (seeded random search), creates the trials as training
  jobs in moto (which the fake container runs), reads their objective from their
  CloudWatch lines with the request's regex, and keeps the tuning job's status, counters
  and best trial; the two missing operations are answered from its trials.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import test_quickstart_on_moto as quickstart
from test_quickstart_on_moto import (
    ROOT,
    FakeContainer,
    _kernel_requests,
    _run_on_moto,
)

REGISTRY_NOTEBOOK = ROOT / "notebooks" / "registry.ipynb"
TUNING_NOTEBOOK = ROOT / "notebooks" / "tuning.ipynb"

#: The quickstart's fixtures (moto with the fake container; moto's request recorder),
#: registered here under the names this module's tests ask for.
moto_container = quickstart.container
moto_recording = quickstart.recording


def _texts(notebook: Any) -> str:
    return "\n".join(
        o.get("text", "") or json.dumps(o.get("data", {}))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
    )


def _no_errors(notebook: Any) -> None:
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{cell.source[:60]!r} failed: {errors}"


def test_registry_notebook_runs_unchanged_on_the_sagemaker_backend(
    moto_url: str,
    moto_container: FakeContainer,
    moto_recording: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notebook, original, load, _, _ = _run_on_moto(
        REGISTRY_NOTEBOOK, moto_url, moto_container, tmp_path, monkeypatch
    )
    _no_errors(notebook)
    assert [c.source for c in notebook.cells if c.source != notebook.cells[load + 1].source] == [
        c.source for c in original.cells
    ]
    text = _texts(notebook)
    assert "churn-classifier/1" in text and "is Approved" in text
    assert "model package churn-classifier/1" in text  # the lineage, from the ledger
    assert "processing job churn-prep" in text
    requests = _kernel_requests(moto_recording)
    operations = [op for op, _ in requests]
    for operation in (
        "CreateProcessingJob",
        "CreateTrainingJob",
        "CreateModelPackageGroup",
        "CreateModelPackage",
        "UpdateModelPackage",
        "CreateEndpoint",
        "DeleteEndpoint",
    ):
        assert operation in operations, f"no {operation} sent"
    package = next(params for op, params in requests if op == "CreateModelPackage")
    container_spec = package["InferenceSpecification"]["Containers"][0]
    assert container_spec["ModelDataUrl"].endswith("churn-large/output/model.tar.gz")
    assert container_spec["Environment"]["SAGEMAKER_PROGRAM"] == "train.py"
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["CustomerMetadataProperties"]["sm-magics:source-job"] == "churn-large"


def test_tuning_notebook_runs_unchanged_on_the_sagemaker_backend(
    moto_url: str,
    moto_container: FakeContainer,
    moto_recording: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``notebooks/tuning.ipynb`` on moto, trials run by :class:`FakeTuner`."""
    import boto3
    from botocore.config import Config
    from tuning_container import FakeTuner, install

    logs = boto3.client(
        "logs",
        endpoint_url=moto_url,
        config=Config(user_agent_extra=quickstart.FAKE_AGENT, region_name=quickstart.REGION),
    )
    tuner = FakeTuner(logs)
    install(monkeypatch, tuner)
    notebook, original, load, _, role_arn = _run_on_moto(
        TUNING_NOTEBOOK, moto_url, moto_container, tmp_path, monkeypatch
    )
    tuner.join()
    assert not tuner.errors
    _no_errors(notebook)
    assert [c.source for c in notebook.cells if c.source != notebook.cells[load + 1].source] == [
        c.source for c in original.cells
    ]
    text = _texts(notebook)
    assert "Tuning job forest-tune on sagemaker: waiting" in text
    assert "Tuning job forest-tune Completed: best forest-tune-" in text
    requests = _kernel_requests(moto_recording)
    create = next(p for op, p in requests if op == "CreateHyperParameterTuningJob")
    config = create["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian"
    assert config["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize",
        "MetricName": "validation_accuracy",
    }
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 1}
    ranges = config["ParameterRanges"]
    assert ranges["IntegerParameterRanges"][0]["Name"] == "n_estimators"
    assert ranges["CategoricalParameterRanges"] == [
        {"Name": "criterion", "Values": ["gini", "entropy"]}
    ]
    definition = create["TrainingJobDefinition"]
    assert definition["RoleArn"] == role_arn
    assert "sagemaker_program" in definition["StaticHyperParameters"]
    operations = [op for op, _ in requests]
    assert "ListTrainingJobsForHyperParameterTuningJob" in operations
    assert "CreateEndpoint" in operations  # the best trial deployed
