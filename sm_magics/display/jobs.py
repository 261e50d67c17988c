"""Jobs as tables show them: :class:`JobRow` (one job) and :class:`JobTable` (``%sm_jobs``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sm_magics import pricing
from sm_magics.backends import base, kinds
from sm_magics.display import StatusTable
from sm_magics.durations import format_duration
from sm_magics.ledger import JobRecord


@dataclass
class JobRow:
    """One job as tables show it."""

    name: str
    backend: str
    status: str
    secondary_status: str
    instance_type: str
    instance_count: int
    duration: float | None
    cost: float | None
    spot: bool = False
    kind: str = "training"

    @classmethod
    def from_record(cls, record: JobRecord) -> JobRow:
        """Build the row from the ledger alone (cheap: no backend call)."""
        start = record.started_at
        end = record.ended_at or (None if record.is_terminal else time.time())
        duration = (end - start) if start and end else None
        return cls(
            name=record.name,
            backend=record.backend,
            status=record.status,
            secondary_status=record.secondary_status or "",
            instance_type=record.instance_type or "",
            instance_count=record.instance_count,
            duration=duration,
            cost=_cost(
                duration,
                record.instance_type,
                record.instance_count,
                record.region,
                record.spot,
                record.kind,
            ),
            spot=record.spot,
            kind=record.kind,
        )

    @classmethod
    def from_description(
        cls, description: dict[str, Any], backend: str, record: JobRecord | None
    ) -> JobRow:
        """Build the row from a fresh ``Describe<Kind>Job`` response of any kind."""
        kind = kinds.of_description(description)
        start, end = description.get(kind.start_key), description.get(kind.end_key)
        duration = None
        if start is not None:
            duration = ((end or datetime.now(tz=timezone.utc)) - start).total_seconds()
        region = record.region if record else None
        spot = bool(description.get("EnableManagedSpotTraining"))
        instance_type, count = base.job_resources(description)
        status = base.job_status(description)
        return cls(
            name=description[kind.name_key],
            backend=backend,
            status=status,
            secondary_status=description.get("SecondaryStatus", status),
            instance_type=instance_type,
            instance_count=count,
            duration=duration,
            cost=_cost(duration, instance_type, count, region, spot, kind.name),
            spot=spot,
            kind=kind.name,
        )

    @property
    def instance(self) -> str:
        """``ml.m5.large`` or ``ml.m5.large x2``."""
        suffix = f" x{self.instance_count}" if self.instance_count > 1 else ""
        return f"{self.instance_type}{suffix}"


def _cost(
    seconds: float | None,
    instance_type: str | None,
    count: int,
    region: str | None,
    spot: bool,
    kind: str = "training",
) -> float | None:
    if not seconds or not instance_type:
        return None if not instance_type else 0.0
    usage = kinds.KINDS[kind].usage if kind in kinds.KINDS else "training"
    return pricing.cost_for(seconds, instance_type, count, region, usage=usage, spot=spot)


class JobTable(StatusTable[JobRow]):
    """The result of ``%sm_jobs``: an HTML table in notebooks, aligned text elsewhere."""

    columns = ("name", "kind", "backend", "status", "instance", "duration", "cost")
    empty_text = "No jobs yet."
    css_class = "sm-magics-jobs"

    def cells(self, row: JobRow) -> list[str]:
        """Return one job's cells; the secondary status shows while it runs."""
        status = row.status + (f" ({row.secondary_status})" if row.status == "InProgress" else "")
        return [
            row.name,
            row.kind,
            row.backend,
            status,
            row.instance,
            format_duration(row.duration),
            pricing.format_usd(row.cost),
        ]
