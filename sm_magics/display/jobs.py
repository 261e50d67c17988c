"""Jobs as tables show them: :class:`JobRow` (one job) and :class:`JobTable` (``%sm_jobs``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape

from sm_magics import costs, pricing
from sm_magics.backends import kinds, processing, statuses
from sm_magics.display import STATUS_COLOURS, StatusTable, format_instance, no_math
from sm_magics.durations import format_duration
from sm_magics.ledger_records import JobRecord
from sm_magics.tuning.spec import TRIAL_OF_TAG


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
    #: The tuning job a trial belongs to (its ``sm-magics:tuning-job`` tag).
    parent: str | None = None

    @classmethod
    def from_record(cls, record: JobRecord, *, now: float | None = None) -> JobRow:
        """Build the row from the ledger alone (cheap: no backend call)."""
        priced = costs.job_cost(record, now=now)
        return cls(
            name=record.name,
            backend=record.backend,
            status=record.status,
            secondary_status=record.secondary_status or "",
            instance_type=record.instance_type or "",
            instance_count=record.instance_count,
            duration=priced.duration,
            cost=priced.cost,
            spot=record.spot,
            kind=record.kind,
            parent=(record.tags or {}).get(TRIAL_OF_TAG),
        )

    @classmethod
    def from_description(
        cls,
        description: Mapping[str, object],
        backend: str,
        record: JobRecord | None,
        *,
        now: float | None = None,
    ) -> JobRow:
        """Build the row from a fresh ``Describe*Job`` response (any job kind)."""
        priced = costs.described_job_cost(description, record.region if record else None, now=now)
        instance_type, count = kinds.resources_of(description)
        status = kinds.status_of(description)
        return cls(
            name=str(description[kinds.of_description(description).name_key]),
            backend=backend,
            status=status,
            secondary_status=str(description.get("SecondaryStatus") or status),
            instance_type=instance_type,
            instance_count=count,
            duration=priced.duration,
            cost=priced.cost,
            spot=bool(description.get("EnableManagedSpotTraining")),
            kind=kinds.of_description(description).name,
        )

    @property
    def instance(self) -> str:
        """``ml.m5.large``, or with its count after a multiplication sign."""
        return format_instance(self.instance_type, self.instance_count)


class JobTable(StatusTable[JobRow]):
    """The result of ``%sm_jobs``: an HTML table in notebooks, aligned text elsewhere.

    A tuning job's trials are listed right under it, indented, and its cost is theirs.
    """

    columns = ("name", "kind", "backend", "status", "instance", "duration", "cost")
    empty_text = "No jobs yet."
    css_class = "sm-magics-jobs"

    def __init__(self, rows: list[JobRow]) -> None:
        parents = {row.name for row in rows if row.kind == "tuning"}
        children: dict[str, list[JobRow]] = {}
        for row in rows:
            if row.parent in parents:
                children.setdefault(str(row.parent), []).append(row)
        ordered: list[JobRow] = []
        for row in rows:
            if row.parent in parents:
                continue
            if row.name in children:
                trials = sorted(children[row.name], key=lambda r: r.name)
                costs = [t.cost for t in trials if t.cost is not None]
                row.cost = sum(costs) if costs else row.cost
                ordered += [row, *trials]
            else:
                ordered.append(row)
        super().__init__(ordered)

    def cells(self, row: JobRow) -> list[str]:
        """Return one job's cells; the secondary status shows while it runs."""
        shown = row.status == "InProgress" or (row.kind == "tuning" and row.secondary_status)
        status = row.status + (f" ({row.secondary_status})" if shown else "")
        return [
            f"  └ {row.name}" if row.parent else row.name,
            row.kind,
            row.backend,
            status,
            row.instance,
            format_duration(row.duration),
            pricing.format_usd(row.cost),
        ]


#: How long a running job may print nothing before its widget says so (SageMaker's own
#: log streamer warns the same way when a job goes quiet).
SILENCE_SECONDS = 30.0


def job_header_html(
    description: Mapping[str, object],
    backend: str,
    *,
    silent_for: float | None = None,
) -> str:
    """Return the head of a job's view: name, instance, status, elapsed time, cost, reason.

    One builder for the live widget and its static snapshot (the HTML fallback of a
    ``Job``'s display bundle), so both say the same thing the same way. ``silent_for``
    is how long a running job has printed nothing; from :data:`SILENCE_SECONDS` on, the
    header says so with the secondary status.
    """
    row = JobRow.from_description(description, backend, None)
    status = row.status
    colour = STATUS_COLOURS.get(status, "inherit")
    finished = status in statuses.TERMINAL_STATUSES
    parts = []
    if row.secondary_status not in ("", status):
        parts.append(escape(row.secondary_status))
    if row.duration is not None:
        parts.append(format_duration(row.duration))
    elif not finished:
        parts.append("waiting to start")
    if row.cost is None:
        parts.append("cost n/a")
    else:
        cost = f"{pricing.format_usd(row.cost)} {'total' if finished else 'so far'}"
        if backend == "local":
            cost += " (what it would cost on SageMaker)"
        parts.append(cost)
    quiet = ""
    if not finished and silent_for is not None and silent_for >= SILENCE_SECONDS:
        quiet = (
            f"<div style='color:var(--jp-warn-color1, #f57c00)'>No output for "
            f"{format_duration(silent_for)} ({escape(row.secondary_status or status)}): "
            "the job still runs; a step that prints nothing looks like this.</div>"
        )
    reason = description.get("FailureReason")
    reason_html = (
        f"<pre style='color:{STATUS_COLOURS['Failed']};white-space:pre-wrap;margin:4px 0;"
        f"font-size:12px;line-height:1.3'>{escape(str(reason))}</pre>"
        if reason
        else ""
    )
    model = kinds.model_uri_of(description)
    model_html = f"<div>model: <code>{escape(model)}</code></div>" if model else ""
    if status == statuses.COMPLETED:  # a processing job's outputs, where the next step reads
        model_html += "".join(
            f"<div>output {escape(name)}: <code>{escape(uri)}</code></div>"
            for name, uri in processing.output_uris(description).items()
        )
    return (
        f"<div style='font-size:13px'><b>{escape(row.name)}</b> "
        f"<span style='color:var(--jp-ui-font-color2,#666)'>"
        f"({escape(backend)}, {escape(row.instance)})</span><br>"
        f"<span style='color:{colour};font-weight:600'>{escape(status)}</span>"
        f" &middot; {' &middot; '.join(parts)}{quiet}{reason_html}{model_html}</div>"
    )


def snapshot_html(header: str, name: str, *, lines: list[str] | None = None) -> str:
    """Return the static snapshot a display bundle carries next to the live widget.

    It is what a frontend shows when the widget cannot be shown (a notebook reopened
    without its kernel, nbconvert, GitHub), with the way back to a live view.
    """
    stamp = datetime.now(tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    tail = ""
    if lines:
        tail = (
            "<pre style='max-height:10em;overflow:auto;margin:4px 0;font-size:12px'>"
            f"{escape(chr(10).join(lines))}</pre>"
        )
    hint = (
        f"<div style='color:var(--jp-ui-font-color2,#666);font-size:12px'>Snapshot of "
        f"{stamp}. Live view: <code>%sm_watch {escape(name)}</code></div>"
    )
    return no_math(
        f"<div style='border:1px solid var(--jp-border-color2, #ddd);padding:6px'>"
        f"{header}{tail}{hint}</div>",
        "sm-magics-snapshot",
    )
