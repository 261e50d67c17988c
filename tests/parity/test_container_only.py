"""A script needing a library that exists only in AWS's images says so when it fails."""

from __future__ import annotations

from typing import Any

from helpers import make_spec, wait_until_terminal

from sm_magics.backends.local.container_only import explain


def test_explain_names_container_only_libraries_and_leaves_others_alone() -> None:
    missing = "ModuleNotFoundError: No module named 'smdistributed.dataparallel'"
    assert "exists only inside AWS's container images" in explain(missing)
    assert "smdistributed is SageMaker's distributed" in explain(missing)
    other = "ModuleNotFoundError: No module named 'pandas_extra'"
    assert explain(other) == other
    assert explain("ValueError: x") == "ValueError: x"


def test_the_failure_reason_of_a_job_names_the_library(local_backend: Any) -> None:
    spec = make_spec(script="import smdistributed.dataparallel.torch.distributed as dist\n")
    local_backend.create_training_job(spec)
    job = wait_until_terminal(local_backend, spec.name, timeout=120)
    assert job["TrainingJobStatus"] == "Failed"
    assert "No module named 'smdistributed'" in job["FailureReason"]
    assert "exists only inside AWS's container images" in job["FailureReason"]
