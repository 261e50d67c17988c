"""Endpoints on SageMaker: model, endpoint config, endpoint; variants; invoke; delete."""

from __future__ import annotations

from typing import Any

from sm_magics.backends import base
from sm_magics.errors import BackendUnavailable

_NOT_YET = "Serving on the sagemaker backend is not available yet."


class SageMakerServing:
    """Endpoint methods of :class:`~sm_magics.backends.sagemaker.SageMakerBackend`."""

    def create_endpoint(self, spec: base.EndpointSpec) -> None:
        """See :meth:`Backend.create_endpoint`."""
        raise BackendUnavailable(_NOT_YET)

    def update_endpoint(self, name: str, variants: list[base.VariantSpec]) -> None:
        """See :meth:`Backend.update_endpoint`."""
        raise BackendUnavailable(_NOT_YET)

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        """See :meth:`Backend.describe_endpoint`."""
        raise BackendUnavailable(_NOT_YET)

    def delete_endpoint(self, name: str) -> None:
        """See :meth:`Backend.delete_endpoint`."""
        raise BackendUnavailable(_NOT_YET)

    def invoke_endpoint(
        self,
        name: str,
        body: bytes,
        *,
        content_type: str,
        accept: str | None = None,
        target_variant: str | None = None,
    ) -> base.InvokeResult:
        """See :meth:`Backend.invoke_endpoint`."""
        raise BackendUnavailable(_NOT_YET)

    def read_endpoint_logs(self, name: str, cursor: dict[str, Any] | None = None) -> base.LogBatch:
        """See :meth:`Backend.read_endpoint_logs`."""
        raise BackendUnavailable(_NOT_YET)
