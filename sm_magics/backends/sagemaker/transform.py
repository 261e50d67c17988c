"""Batch transform jobs on SageMaker: CreateTransformJob, describe, stop, logs."""

from __future__ import annotations

from typing import Any

from sm_magics.backends import base
from sm_magics.errors import BackendUnavailable

_NOT_YET = "Batch transform on the sagemaker backend is not available yet."


class SageMakerTransforms:
    """Batch transform methods of :class:`~sm_magics.backends.sagemaker.SageMakerBackend`."""

    def create_transform_job(self, spec: base.TransformSpec) -> None:
        """See :meth:`Backend.create_transform_job`."""
        raise BackendUnavailable(_NOT_YET)

    def describe_transform_job(self, name: str) -> dict[str, Any]:
        """See :meth:`Backend.describe_transform_job`."""
        raise BackendUnavailable(_NOT_YET)

    def stop_transform_job(self, name: str) -> None:
        """See :meth:`Backend.stop_transform_job`."""
        raise BackendUnavailable(_NOT_YET)

    def read_transform_logs(self, name: str, cursor: dict[str, Any] | None = None) -> base.LogBatch:
        """See :meth:`Backend.read_transform_logs`."""
        raise BackendUnavailable(_NOT_YET)
