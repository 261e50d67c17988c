"""A backend's settings beyond its region and ledger (``%config SageMakerMagics``).

Checked by name in one place, :meth:`BackendOptions.from_mapping`, so that the magics,
``Session(...)`` and the server build a backend from the same validated settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class BackendOptions:
    """The settings of a backend beyond its region and ledger, all optional.

    The local backend uses none of them; the sagemaker backend reads each where its
    docstring says. They come from ``%config SageMakerMagics`` (or ``Session(...)``
    keywords) and are checked by name here, so a misspelt one is an error, not ignored.
    """

    role: str | None = None  # the execution role's ARN
    bucket: str | None = None  # the S3 bucket for code, data and models
    profile: str | None = None  # the AWS profile
    scheduler_role: str | None = None  # what EventBridge Scheduler assumes for --ttl
    subnets: tuple[str, ...] = ()  # the training jobs' VPC
    security_group_ids: tuple[str, ...] = ()
    endpoint_url: str | None = None  # the SageMaker API's URL (tests: moto)

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> BackendOptions:
        """Build the options from keyword settings; lists and comma-separated text alike.

        Raises
        ------
        InvalidRequest
            A setting no backend knows.
        """
        from sm_magics.errors import InvalidRequest

        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidRequest(
                f"Unknown backend option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}."
            )
        data: dict[str, Any] = {}
        for key, value in values.items():
            if key in ("subnets", "security_group_ids"):
                data[key] = _as_tuple(value)
            else:
                data[key] = None if value is None else str(value)
        return cls(**data)


def _as_tuple(value: object) -> tuple[str, ...]:
    """Return ``"a,b"``, ``["a", "b"]`` or ``None`` as ``("a", "b")``."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, (list, tuple)):
        return tuple(str(part) for part in value)
    raise TypeError(f"expected a list of strings, got {value!r}")
