"""Runs as ``%sm_runs`` and ``%sm_compare`` show them.

A :class:`RunRow` is one job read as an experiment record (parameters, final metrics,
grouping); :class:`RunsTable` lists them; :class:`CompareView` puts a few side by side,
parameters that differ marked, metric curves overlaid in one chart per metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any, ClassVar

from sm_magics.charts import lines_chart_svg
from sm_magics.display import STATUS_COLOURS, StatusTable, no_math
from sm_magics.display.jobs import JobRow
from sm_magics.durations import format_duration
from sm_magics.ledger_records import JobRecord

if TYPE_CHECKING:
    from sm_magics.json_types import JsonValue
    from sm_magics.ledger_records import JobRowSpec

#: The tag that groups runs into an experiment (on the ledger row and the AWS resource).
EXPERIMENT_TAG = "sm-magics:experiment"


@dataclass
class RunRow:
    """One run: a job's parameters, metrics and how it ran."""

    name: str
    kind: str
    status: str
    backend: str
    experiment: str | None
    notebook: str | None
    params: dict[str, JsonValue] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    instance: str = ""
    duration: float | None = None
    cost: float | None = None
    source_hash: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0

    @classmethod
    def from_record(cls, record: JobRecord) -> RunRow:
        """Read a ledger row as a run (no backend call)."""
        job = JobRow.from_record(record)
        spec = record.spec or {}
        return cls(
            name=record.name,
            kind=record.kind,
            status=record.status,
            backend=record.backend,
            experiment=(record.tags or {}).get(EXPERIMENT_TAG),
            notebook=record.notebook,
            params=dict(spec.get("hyperparameters") or {}),
            metrics=dict(record.metrics or {}),
            instance=job.instance,
            duration=job.duration,
            cost=job.cost,
            source_hash=record.source_hash,
            inputs=inputs_of(spec),
            created_at=record.created_at,
        )

    def lookup(self, name: str) -> Any:
        """Return a metric, a parameter or a column by name (metrics first)."""
        if name in self.metrics:
            return self.metrics[name]
        if name in self.params:
            return self.params[name]
        for prefix, source in (("metric.", self.metrics), ("param.", self.params)):
            if name.startswith(prefix):
                return source.get(name[len(prefix) :])
        return getattr(self, name, None) if name in self.__dataclass_fields__ else None

    def to_dict(self) -> dict[str, object]:
        """Return the run flat, as a DataFrame row."""
        flat: dict[str, object] = {
            "name": self.name,
            "kind": self.kind,
            "experiment": self.experiment,
            "notebook": self.notebook,
            "status": self.status,
        }
        flat.update({f"param.{k}": v for k, v in sorted(self.params.items())})
        flat.update({f"metric.{k}": v for k, v in sorted(self.metrics.items())})
        flat.update(
            {
                "instance": self.instance,
                "duration_s": self.duration,
                "cost_usd": self.cost,
                "source_hash": self.source_hash,
            }
        )
        return flat


def inputs_of(spec: JobRowSpec) -> dict[str, str]:
    """Return ``{name: URI}`` of a job's inputs, whatever its kind.

    Training keeps its channels as ``{channel: uri}``; processing its inputs as a list of
    ``{name, source, destination}``.
    """
    inputs = spec.get("inputs") or {}
    if isinstance(inputs, dict):
        return {str(k): str(v) for k, v in inputs.items()}
    return {
        str(item.get("name")): str(item.get("source")) for item in inputs if isinstance(item, dict)
    }


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


class RunsTable(StatusTable[RunRow]):
    """``%sm_runs``: runs with their parameters and final metrics."""

    columns: ClassVar[tuple[str, ...]] = (
        "name",
        "kind",
        "experiment",
        "status",
        "params",
        "metrics",
        "duration",
    )
    empty_text: ClassVar[str] = "No runs match."

    def cells(self, row: RunRow) -> list[str]:
        """Return one run's cells."""
        return [
            row.name,
            row.kind,
            row.experiment or "-",
            row.status,
            ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(row.params.items())) or "-",
            ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(row.metrics.items())) or "-",
            format_duration(row.duration) if row.duration is not None else "",
        ]


class CompareView:
    """Runs side by side: one column per run, differing parameters in bold, curves."""

    def __init__(
        self, rows: list[RunRow], curves: dict[str, dict[str, list[tuple[float, float]]]]
    ) -> None:
        self.rows = rows
        self.curves = curves

    def _table(self) -> list[tuple[str, list[str], bool]]:
        """Return ``(label, values per run, differs)`` lines: parameters, then metrics."""
        lines: list[tuple[str, list[str], bool]] = []
        params = sorted({k for row in self.rows for k in row.params})
        metrics = sorted({k for row in self.rows for k in row.metrics})
        for key in params:
            values = [_fmt(row.params.get(key)) for row in self.rows]
            lines.append((key, values, len(set(values)) > 1))
        for key in metrics:
            values = [_fmt(row.metrics.get(key)) for row in self.rows]
            lines.append((f"{key} (final)", values, len(set(values)) > 1))
        for label, attribute in (("status", "status"), ("instance", "instance")):
            values = [str(getattr(row, attribute)) for row in self.rows]
            lines.append((label, values, len(set(values)) > 1))
        return lines

    def __repr__(self) -> str:
        lines = self._table()
        header = ["", *[row.name for row in self.rows]]
        table = [header] + [[("* " if d else "  ") + label, *values] for label, values, d in lines]
        widths = [max(len(line[i]) for line in table) for i in range(len(header))]
        text = "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
            for line in table
        )
        return text + "\n(* differs)"

    def _repr_html_(self) -> str:
        head = "".join(
            f"<th style='text-align:left'>{escape(row.name)}<br><span style='color:"
            f"{STATUS_COLOURS.get(row.status, 'inherit')}'>{escape(row.status)}</span></th>"
            for row in self.rows
        )
        body = []
        for label, values, differs in self._table():
            weight = "font-weight:600;" if differs else ""
            cells = "".join(
                f"<td style='text-align:left;{weight}'>{escape(v)}</td>" for v in values
            )
            body.append(f"<tr><td style='text-align:left'>{escape(label)}</td>{cells}</tr>")
        charts = "".join(
            f"<span style='margin-right:8px'>{_curves_chart(metric, series)}</span>"
            for metric, series in sorted(self.curves.items())
        )
        return no_math(
            f"<table class='sm-magics-table'><tr><th></th>{head}</tr>{''.join(body)}</table>"
            f"<div style='display:flex;flex-wrap:wrap'>{charts}</div>",
            "sm-magics-compare",
        )


def _curves_chart(metric: str, series: dict[str, list[tuple[float, float]]]) -> str:
    """One metric's runs overlaid: by seconds since each run's start, or by step.

    A short script logs every value in the same second, and a time axis then draws each run
    as a vertical line; when time does not tell a run's values apart, they are drawn by
    their order (``step 1``, ``step 2``, ...) instead.
    """
    distinct = all(len({x for x, _ in points}) == len(points) for points in series.values())
    if distinct:
        return lines_chart_svg(metric, series, x_axis="seconds")
    by_step = {
        name: [(float(step), y) for step, (_, y) in enumerate(points, start=1)]
        for name, points in series.items()
    }
    return lines_chart_svg(metric, by_step, x_axis="step")
