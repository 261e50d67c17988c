"""Training jobs on SageMaker: CreateTrainingJob, describe, stop, CloudWatch logs."""

from __future__ import annotations

from typing import Any

from sm_magics.backends import base
from sm_magics.errors import BackendUnavailable


class SageMakerTraining:
    """Training methods of :class:`~sm_magics.backends.sagemaker.SageMakerBackend`."""

    def create_training_job(self, spec: base.TrainingSpec) -> None:
        """See :meth:`Backend.create_training_job`."""
        raise BackendUnavailable("Training on the sagemaker backend is not available yet.")

    def describe_training_job(self, name: str) -> dict[str, Any]:
        """See :meth:`Backend.describe_training_job`."""
        raise BackendUnavailable("Training on the sagemaker backend is not available yet.")

    def stop_training_job(self, name: str) -> None:
        """See :meth:`Backend.stop_training_job`."""
        raise BackendUnavailable("Training on the sagemaker backend is not available yet.")

    def read_training_logs(self, name: str, cursor: dict[str, Any] | None = None) -> base.LogBatch:
        """See :meth:`Backend.read_training_logs`."""
        raise BackendUnavailable("Training on the sagemaker backend is not available yet.")
