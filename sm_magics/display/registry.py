"""Model package versions as ``%sm_models`` shows them: group, version, approval, metrics."""

from __future__ import annotations

import time
from typing import ClassVar

from sm_magics.display import StatusTable
from sm_magics.model_registry import PackageRecord

#: How the approval column colours map onto the table's status colours.
_STATUS_AS = {"Approved": "Completed", "Rejected": "Failed", "PendingManualApproval": "InProgress"}


def _metrics_text(metrics: dict[str, float]) -> str:
    return ", ".join(f"{name}={value:.4g}" for name, value in sorted(metrics.items())) or "-"


class ModelsTable(StatusTable[PackageRecord]):
    """``%sm_models``: one row per version, group by group, newest version first."""

    columns: ClassVar[tuple[str, ...]] = (
        "group",
        "version",
        "status",
        "metrics",
        "source job",
        "backend",
        "changed by",
    )
    empty_text: ClassVar[str] = "No registered models. %sm_register JOB --group NAME adds one."

    def status(self, row: PackageRecord) -> str:
        """Colour approvals as statuses: approved green, rejected red, pending blue."""
        return _STATUS_AS.get(row.status, row.status)

    def cells(self, row: PackageRecord) -> list[str]:
        """Return one version's cells."""
        last = row.history[-1] if row.history else None
        at = last.get("at") if last else None
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(at or row.created_at))
        return [
            row.group_name,
            str(row.version),
            row.status,
            _metrics_text(row.metrics),
            row.source_job or "-",
            row.backend,
            f"{last.get('by', '?') if last else '?'} {when}",
        ]
