"""The model package spec: what registering a model version asks of a backend.

Built once by :mod:`sm_magics.api.registry` (validated there), read by each backend's
``register_model``: the local backend keeps the artifact by content hash and records the
version in the ledger; the sagemaker backend sends ``CreateModelPackage``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sm_magics.errors import InvalidRequest
from sm_magics.model_registry import APPROVAL_STATUSES, PENDING

#: SageMaker's ``ModelPackageGroupName``: 1-63 characters.
GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
DEFAULT_CONTENT_TYPES = ("application/json", "text/csv")
DEFAULT_INSTANCE_TYPES = ("ml.m5.large",)


@dataclass
class PackageSpec:
    """One model version to register, already validated."""

    group: str
    model_data: str
    source_job: str | None = None
    description: str | None = None
    approval: str = PENDING
    metrics: dict[str, float] = field(default_factory=dict)
    content_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES
    response_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES
    instance_types: tuple[str, ...] = DEFAULT_INSTANCE_TYPES
    source_hash: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    notebook: str | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        if not GROUP_NAME.match(self.group):
            raise InvalidRequest(
                f"Invalid model group name {self.group!r}: 1-63 letters, digits and hyphens "
                "(SageMaker's rule)."
            )
        if self.approval not in APPROVAL_STATUSES:
            raise InvalidRequest(f"Approval status must be one of {', '.join(APPROVAL_STATUSES)}.")
        if self.description is not None and len(self.description) > 1024:
            raise InvalidRequest("--description is at most 1024 characters (SageMaker's limit).")
