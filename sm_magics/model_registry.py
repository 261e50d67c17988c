"""The model registry's rows in the ledger: versioned model packages and their approvals.

A model package is one version of a model in a group (SageMaker's Model Registry): the
model artifact, how to serve it (image, content types, instance types), its metrics, the
job it came from, and an approval status (``PendingManualApproval``, ``Approved``,
``Rejected``) with the history of who changed it and when. On the local backend these
rows *are* the registry; on SageMaker they mirror the packages registered from here, so
lineage and listings work after a kernel restart without a call.

Versions are numbered per group and backend from 1, in one write transaction, so two
registrations at once never get the same number.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, TypedDict

from sm_magics.errors import InvalidRequest

if TYPE_CHECKING:
    from typing import Unpack

    from sm_magics.ledger import Ledger
    from sm_magics.ledger_records import SqlValue

APPROVED = "Approved"
PENDING = "PendingManualApproval"
REJECTED = "Rejected"
APPROVAL_STATUSES = (APPROVED, PENDING, REJECTED)
_JSON = ("metrics", "spec", "history")


class ApprovalChange(TypedDict):
    """One entry of a version's ``history``: who set which approval status, when, why."""

    status: str
    by: str
    at: float
    note: str | None


class PackageRowSpec(TypedDict, total=False):
    """The ``spec`` column of a version: what serving it needs, and where it came from."""

    image: str | None  # sagemaker: the inference image
    content_types: list[str]
    response_types: list[str]
    instance_types: list[str]
    source_hash: str | None
    inputs: dict[str, str]  # the source job's inputs (lineage)
    original_model_data: str  # local: the artifact before it was copied into the registry
    notebook: str | None


class PackageChanges(TypedDict, total=False):
    """The columns :func:`update` sets."""

    status: str
    history: list[ApprovalChange]
    description: str | None


@dataclass
class PackageRecord:
    """One row of ``model_packages``."""

    arn: str
    group_name: str
    version: int
    backend: str
    status: str
    model_data: str
    created_at: float
    region: str | None = None
    source_job: str | None = None
    description: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    spec: PackageRowSpec = field(default_factory=lambda: PackageRowSpec())
    history: list[ApprovalChange] = field(default_factory=list)
    updated_at: float = 0.0

    @property
    def label(self) -> str:
        """``group/version``, as users name a version."""
        return f"{self.group_name}/{self.version}"

    def __repr__(self) -> str:
        source = f" from {self.source_job}" if self.source_job else ""
        return f"<ModelPackage {self.label} {self.status} ({self.backend}){source}>"


def from_row(row: sqlite3.Row) -> PackageRecord:
    """Return the record of one ``model_packages`` row (its JSON columns decoded)."""
    values = {key: row[key] for key in row.keys()}  # noqa: SIM118 - Row is not a Mapping
    for column in _JSON:
        values[column] = json.loads(values[column] or "null")
    return PackageRecord(**values)


def insert(ledger: Ledger, record: PackageRecord, arn_of: Callable[[int], str]) -> PackageRecord:
    """Insert ``record`` as the group's next version; return it with version and ARN set.

    ``arn_of(version)`` names the new version (the backend's ARN scheme). When the record
    already has a version (a SageMaker package, numbered by SageMaker), it is kept.
    """
    record.updated_at = time.time()
    with ledger._write() as conn:
        if not record.version:
            (latest,) = conn.execute(
                "SELECT coalesce(max(version), 0) FROM model_packages "
                "WHERE backend = ? AND group_name = ?",
                (record.backend, record.group_name),
            ).fetchone()
            record.version = int(latest) + 1
            record.arn = arn_of(record.version)
        row = asdict(record)
        for column in _JSON:
            row[column] = json.dumps(row[column], sort_keys=True)
        columns = ", ".join(row)
        marks = ", ".join(f":{key}" for key in row)
        conn.execute(f"INSERT OR REPLACE INTO model_packages ({columns}) VALUES ({marks})", row)  # noqa: S608
    return record


def update(ledger: Ledger, arn: str, **changes: Unpack[PackageChanges]) -> None:
    """Set columns of one package row (``status``, ``history``, ``description``)."""
    values: dict[str, SqlValue] = {}
    if "status" in changes:
        values["status"] = changes["status"]
    if "history" in changes:
        values["history"] = json.dumps(changes["history"], sort_keys=True)
    if "description" in changes:
        values["description"] = changes["description"]
    values["updated_at"] = time.time()
    assignments = ", ".join(f"{key} = :{key}" for key in values)
    with ledger._write() as conn:
        conn.execute(
            f"UPDATE model_packages SET {assignments} WHERE arn = :_arn",  # noqa: S608
            {**values, "_arn": arn},
        )


def get(ledger: Ledger, arn: str) -> PackageRecord | None:
    """Return the package with this ARN, if the ledger has it."""
    rows = ledger.query("SELECT * FROM model_packages WHERE arn = ?", (arn,))
    return from_row(rows[0]) if rows else None


def find(
    ledger: Ledger, group: str, version: int | None = None, *, approved_only: bool = False
) -> PackageRecord | None:
    """Return ``group``'s version ``version`` (else its latest, or latest approved)."""
    sql = "SELECT * FROM model_packages WHERE group_name = ?"
    params: list[SqlValue] = [group]
    if version is not None:
        sql += " AND version = ?"
        params.append(version)
    if approved_only:
        sql += " AND status = ?"
        params.append(APPROVED)
    rows = ledger.query(sql + " ORDER BY version DESC, created_at DESC LIMIT 1", tuple(params))
    return from_row(rows[0]) if rows else None


def list_packages(ledger: Ledger, group: str | None = None) -> list[PackageRecord]:
    """Return packages (of one group, or all), group by group, newest version first."""
    if group is None:
        rows = ledger.query("SELECT * FROM model_packages ORDER BY group_name, version DESC")
    else:
        rows = ledger.query(
            "SELECT * FROM model_packages WHERE group_name = ? ORDER BY version DESC", (group,)
        )
    return [from_row(row) for row in rows]


def for_job(ledger: Ledger, job: str) -> list[PackageRecord]:
    """Return the packages registered from training job ``job``."""
    rows = ledger.query(
        "SELECT * FROM model_packages WHERE source_job = ? ORDER BY created_at", (job,)
    )
    return [from_row(row) for row in rows]


def parse_reference(text: str) -> tuple[str, int | None]:
    """Split ``GROUP`` or ``GROUP/VERSION`` (a package ARN is handled by the caller)."""
    group, sep, version = text.strip().partition("/")
    if not group:
        raise InvalidRequest(f"{text!r}: give GROUP or GROUP/VERSION.")
    if not sep:
        return group, None
    try:
        number = int(version)
    except ValueError:
        raise InvalidRequest(f"{text!r}: the version after '/' must be a number.") from None
    if number < 1:
        raise InvalidRequest(f"{text!r}: versions start at 1.")
    return group, number
