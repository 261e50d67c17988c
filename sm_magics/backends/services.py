"""What a backend's job-kind and model-registry objects offer the backend that owns them.

Both backends run endpoints, transform, processing and tuning jobs and keep a model registry through
an object of their own
(local: :mod:`.local.tuning`, :mod:`.local.packages`; SageMaker: :mod:`.sagemaker.tuning`,
:mod:`.sagemaker.packages`). The :class:`~.base.Backend` contract methods for them are
written once, in the base class, as calls to these objects: a backend only builds them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sm_magics.backends.descriptions import (
        EndpointDescription,
        ProcessingJobDescription,
        TransformJobDescription,
        TrialSummary,
        TuningJobDescription,
    )
    from sm_magics.backends.packages import PackageSpec
    from sm_magics.backends.processing import ProcessingSpec
    from sm_magics.backends.results import InvokeResult, LogBatch, LogCursor
    from sm_magics.backends.specs import EndpointSpec, TransformSpec, VariantSpec
    from sm_magics.model_registry import PackageRecord
    from sm_magics.tuning.spec import TuningSpec


class TuningService(Protocol):
    """Runs a backend's hyperparameter tuning jobs (see ``Backend.create_tuning_job``)."""

    def create_tuning_job(self, spec: TuningSpec) -> None:
        """Start a tuning job; return once it is accepted."""

    def describe_tuning_job(self, name: str) -> TuningJobDescription:
        """Return ``DescribeHyperParameterTuningJob``'s answer; sync the row."""

    def stop_tuning_job(self, name: str) -> None:
        """Stop the tuning job and its running trials; idempotent once it ended."""

    def list_tuning_trials(self, name: str) -> Sequence[TrialSummary]:
        """Return every trial's summary, newest first, each recorded in the ledger."""


class EndpointsService(Protocol):
    """Runs a backend's endpoints (see ``Backend.create_endpoint``)."""

    def create_endpoint(self, spec: EndpointSpec) -> None:
        """Start creating an endpoint; return at once."""

    def update_endpoint(self, name: str, variants: list[VariantSpec]) -> None:
        """Move a live endpoint to ``variants`` without downtime."""

    def variant_environments(self, name: str) -> dict[str, dict[str, str]]:
        """Return each variant's environment, from where the backend keeps it."""

    def describe_endpoint(self, name: str) -> EndpointDescription:
        """Return ``DescribeEndpoint``'s answer; sync the row."""

    def delete_endpoint(self, name: str) -> None:
        """Delete the endpoint and everything it runs."""

    def invoke_endpoint(
        self,
        name: str,
        body: bytes,
        *,
        content_type: str,
        accept: str | None = None,
        target_variant: str | None = None,
    ) -> InvokeResult:
        """Send one request, as ``InvokeEndpoint``."""

    def read_endpoint_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """Return the endpoint's log lines after ``cursor``."""


class TransformService(Protocol):
    """Runs a backend's batch transform jobs (see ``Backend.create_transform_job``)."""

    def create_transform_job(self, spec: TransformSpec) -> None:
        """Start a batch transform job; return at once."""

    def describe_transform_job(self, name: str) -> TransformJobDescription:
        """Return ``DescribeTransformJob``'s answer; sync the row."""

    def stop_transform_job(self, name: str) -> None:
        """Ask the job to stop; idempotent once it ended."""

    def read_transform_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """Return the job's log lines after ``cursor``."""


class ProcessingService(Protocol):
    """Runs a backend's processing jobs (see ``Backend.create_processing_job``)."""

    def create_processing_job(self, spec: ProcessingSpec) -> None:
        """Start a processing job; return once it is accepted."""

    def describe_processing_job(self, name: str) -> ProcessingJobDescription:
        """Return ``DescribeProcessingJob``'s answer; sync the row."""

    def stop_processing_job(self, name: str) -> None:
        """Ask the job to stop; idempotent once it ended."""

    def read_processing_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """Return the job's log lines after ``cursor`` (every host, merged)."""


class RegistryService(Protocol):
    """Keeps a backend's model registry (see ``Backend.register_model``)."""

    def register_model(self, spec: PackageSpec, *, by: str) -> PackageRecord:
        """Register a new version of ``spec.group``."""

    def set_model_approval(
        self, arn: str, status: str, *, by: str, note: str | None = None
    ) -> PackageRecord:
        """Set a version's approval status, recording who."""

    def list_model_packages(self, group: str | None = None) -> list[PackageRecord]:
        """Return the versions of ``group`` (every group's when ``None``), newest first."""


__all__ = [
    "EndpointsService",
    "ProcessingService",
    "RegistryService",
    "TransformService",
    "TuningService",
]
