"""How a cost summary looks and travels: ``%sm_cost``'s table, text and REST JSON.

:class:`CostSummary` is the answer of ``%sm_cost`` and ``GET /cost``, computed by
:func:`sm_magics.cost_summary.summarize`; this module only shapes it (HTML or aligned
text in a notebook, the JSON of ``docs/rest-api.md``), as the rest of the display layer
shapes jobs and endpoints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from typing import TypedDict

from sm_magics import pricing
from sm_magics.display import StatusTable, no_math
from sm_magics.durations import format_duration


class RunningItemJSON(TypedDict):
    """One running item of ``GET /cost`` (``docs/rest-api.md``)."""

    kind: str
    name: str
    backend: str
    region: str | None
    instance: str
    cost: float | None
    cost_per_hour: float | None
    since: float
    notebook: str | None


class CostTotalsJSON(TypedDict):
    """The ``totals`` of ``GET /cost``: USD today, this month, and the notebook's."""

    today: float | None
    month: float | None
    notebook: float | None


class CostSummaryJSON(TypedDict):
    """``GET /cost``'s answer (the panel's ``ICostSummary``)."""

    currency: str
    generated_at: float
    billing_per_hour: float | None
    running: list[RunningItemJSON]
    totals: CostTotalsJSON


@dataclass(frozen=True)
class RunningItem:
    """One job or endpoint that runs (and bills, or would on SageMaker) now."""

    kind: str  # "training", "transform" or "endpoint"
    name: str
    backend: str
    region: str | None
    status: str
    instance: str
    cost: float | None  # USD so far; None when the price is unknown
    cost_per_hour: float | None
    since: float
    notebook: str | None
    notes: tuple[str, ...] = ()

    def to_json(self) -> RunningItemJSON:
        """Return the item as ``GET /cost`` has it (``docs/rest-api.md``)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "backend": self.backend,
            "region": self.region,
            "instance": self.instance,
            "cost": rounded(self.cost),
            "cost_per_hour": rounded(self.cost_per_hour),
            "since": self.since,
            "notebook": self.notebook,
        }


def rounded(value: float | None) -> float | None:
    """Return a USD figure as the JSON sends it: six significant digits, finite or ``None``."""
    # Six significant digits, without float noise in the JSON: what format_usd shows of a
    # tiny amount (two significant digits) survives, so the panel and the widget agree.
    return None if value is None or not math.isfinite(value) else float(f"{value:.6g}")


class RunningTable(StatusTable[RunningItem]):
    """The running part of a :class:`CostSummary`, as an HTML or a text table."""

    columns = ("kind", "name", "backend", "status", "instance", "age", "cost/hour", "cost", "note")
    empty_text = "Nothing running or billing."
    css_class = "sm-magics-cost"

    def __init__(self, rows: list[RunningItem], now: float) -> None:
        super().__init__(rows)
        self.now = now

    def cells(self, row: RunningItem) -> list[str]:
        """Return one item's cells; the note says when a figure is not a plain bill."""
        notes = list(row.notes)
        if row.backend == "local":
            notes.insert(0, "local: what SageMaker would charge")
        return [
            row.kind,
            row.name,
            row.backend,
            row.status,
            row.instance,
            format_duration(self.now - row.since),
            pricing.format_usd(row.cost_per_hour),
            pricing.format_usd(row.cost),
            "; ".join(notes),
        ]


@dataclass
class CostSummary:
    """The answer of ``%sm_cost`` and ``GET /cost``: what runs now, and what it all cost.

    Attributes
    ----------
    generated_at
        The ``now`` the figures were computed for (Unix seconds).
    running
        Every job and endpoint the ledger has as running or billing, newest first.
    today, month
        USD spent since UTC midnight and since the first of the month (UTC), pro-rated.
    notebook, notebook_total
        The notebook asked about and everything it ever started, all time; ``None`` when
        no notebook was named.
    by_backend
        ``{backend: (USD per hour now, USD this month)}``: the views keep the real spend
        (sagemaker) apart from what local runs would have cost.
    unpriced
        Names of jobs and endpoints whose instance type has no price: they count as 0.
    """

    generated_at: float
    running: list[RunningItem]
    today: float
    month: float
    notebook: str | None = None
    notebook_total: float | None = None
    by_backend: dict[str, tuple[float, float]] = field(default_factory=dict)
    unpriced: list[str] = field(default_factory=list)
    currency: str = "USD"

    @property
    def billing_per_hour(self) -> float:
        """USD per hour of everything running now (items without a price count as 0)."""
        return sum(item.cost_per_hour or 0.0 for item in self.running)

    def billing_per_hour_on(self, backend: str) -> float:
        """USD per hour of what runs now on one backend."""
        return sum(i.cost_per_hour or 0.0 for i in self.running if i.backend == backend)

    def to_json(self) -> CostSummaryJSON:
        """Return the "cost summary" of ``docs/rest-api.md``, exactly (what ``GET /cost`` sends)."""
        return {
            "currency": self.currency,
            "generated_at": self.generated_at,
            "billing_per_hour": rounded(self.billing_per_hour),
            "running": [item.to_json() for item in self.running],
            "totals": {
                "today": rounded(self.today),
                "month": rounded(self.month),
                "notebook": rounded(self.notebook_total),
            },
        }

    # -- display ----------------------------------------------------------------------------

    def _headline(self) -> str:
        count = len(self.running)
        if not count:
            return "Nothing running or billing."
        parts = []
        for backend, (per_hour, _month) in sorted(self.by_backend.items()):
            if any(i.backend == backend for i in self.running):
                would = " would-be" if backend == "local" else ""
                parts.append(f"{backend} {pricing.format_usd(per_hour)}/h{would}")
        detail = f" ({', '.join(parts)})" if len(parts) > 1 or "local" in self.by_backend else ""
        noun = "item" if count == 1 else "items"
        return (
            f"Billing now: {pricing.format_usd(self.billing_per_hour)}/hour, "
            f"{count} {noun} running{detail}."
        )

    def _totals_line(self) -> str:
        parts = [
            f"today {pricing.format_usd(self.today)}",
            f"this month {pricing.format_usd(self.month)}",
        ]
        if self.notebook is not None:
            parts.append(f"this notebook {pricing.format_usd(self.notebook_total)}")
        local = self.by_backend.get("local")
        note = ""
        if local is not None and local[1] > 0:
            note = f"; of the month, {pricing.format_usd(local[1])} is local (would-be)"
        return f"Totals (UTC): {', '.join(parts)}{note}."

    def _footnotes(self) -> list[str]:
        notes = []
        if self.unpriced:
            shown = ", ".join(self.unpriced[:5]) + (" ..." if len(self.unpriced) > 5 else "")
            notes.append(f"No price known for: {shown} (counted as $0).")
        notes.append(
            "Instance time only (no storage, transfer or serverless requests); "
            f"prices as of {pricing.PRICES_AS_OF}, estimates."
        )
        return notes

    def __repr__(self) -> str:
        lines = [self._headline()]
        if self.running:
            lines.append(repr(RunningTable(self.running, self.generated_at)))
        lines.append(self._totals_line())
        lines += self._footnotes()
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        table = RunningTable(self.running, self.generated_at)
        body = [f"<p><b>{escape(self._headline())}</b></p>"]
        if self.running:
            body.append(table._html_body())
        body.append(f"<p>{escape(self._totals_line())}</p>")
        body += [f"<p style='opacity:0.7;font-size:90%'>{escape(n)}</p>" for n in self._footnotes()]
        return no_math("".join(body), "sm-magics-cost-summary")
