"""Endpoints as tables show them: :class:`EndpointRow`, :class:`EndpointTable` (%sm_endpoints)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from typing import TYPE_CHECKING

from sm_magics import costs, pricing
from sm_magics.display import STATUS_COLOURS, StatusTable
from sm_magics.durations import format_duration
from sm_magics.ledger_records import EndpointRecord, LiveVariantSummary

if TYPE_CHECKING:
    from sm_magics.backends.descriptions import EndpointDescription, ServedVariantDescription


@dataclass
class EndpointRow:
    """One endpoint as tables show it."""

    name: str
    backend: str
    status: str
    #: The ledger's summaries, or a fresh description's variants: both name and weigh them.
    variants: Sequence[LiveVariantSummary | ServedVariantDescription]
    url: str
    cost_per_hour: float | None
    ttl_at: float | None

    @classmethod
    def from_record(cls, record: EndpointRecord) -> EndpointRow:
        """Build the row from the ledger alone."""
        return cls(
            record.name,
            record.backend,
            record.status,
            record.variants,
            record.url or "",
            costs.endpoint_rate(record).per_hour,
            record.ttl_at,
        )

    @classmethod
    def from_description(
        cls, description: EndpointDescription, backend: str, record: EndpointRecord | None
    ) -> EndpointRow:
        """Build the row from a fresh ``DescribeEndpoint``."""
        ttl = description.get("TtlAt")
        return cls(
            name=description["EndpointName"],
            backend=backend,
            status=description["EndpointStatus"],
            variants=description["ProductionVariants"],
            url=description.get("Url") or "",
            cost_per_hour=costs.described_endpoint_rate(description, record).per_hour,
            ttl_at=ttl.timestamp() if isinstance(ttl, datetime) else None,
        )

    @property
    def variant_text(self) -> str:
        """``AllTraffic=0.8, b=0.2``."""
        return ", ".join(
            f"{v.get('VariantName')}={v.get('CurrentWeight', v.get('DesiredWeight', 0)):g}"
            for v in self.variants
        )

    @property
    def ttl_text(self) -> str:
        """Time left before the endpoint deletes itself, or ``-``."""
        if not self.ttl_at:
            return "-"
        return format_duration(self.ttl_at - datetime.now(tz=timezone.utc).timestamp())


class EndpointTable(StatusTable[EndpointRow]):
    """The result of ``%sm_endpoints``: an HTML table in notebooks, aligned text elsewhere."""

    columns = ("name", "backend", "status", "variants", "url", "cost/hour", "ttl")
    empty_text = "No endpoints running."
    css_class = "sm-magics-endpoints"

    def cells(self, row: EndpointRow) -> list[str]:
        """Return one endpoint's cells."""
        return [
            row.name,
            row.backend,
            row.status,
            row.variant_text,
            row.url,
            pricing.format_usd(row.cost_per_hour),
            row.ttl_text,
        ]


def endpoint_header_html(description: EndpointDescription, backend: str) -> str:
    """Return the head of an endpoint's view: status, URL, price, TTL, failure reason.

    One builder for the live widget and its static snapshot.
    """
    row = EndpointRow.from_description(description, backend, None)
    colour = STATUS_COLOURS.get(row.status, "inherit")
    parts = []
    if row.url:
        parts.append(f"<code>{escape(row.url)}</code>")
    if row.status == "Failed":
        parts.append("not billing")
    else:
        where = " on SageMaker" if backend == "local" else ""
        parts.append(f"{pricing.format_usd(row.cost_per_hour)}/hour{where}")
    if row.ttl_at:
        parts.append(f"deletes itself in {row.ttl_text}")
    reason = description.get("FailureReason") or description.get("LastUpdateError")
    reason_html = (
        f"<pre style='color:{STATUS_COLOURS['Failed']};white-space:pre-wrap;margin:4px 0;"
        f"font-size:12px'>{escape(str(reason))}</pre>"
        if reason
        else ""
    )
    return (
        f"<div style='font-size:13px'><b>{escape(row.name)}</b> "
        f"<span style='color:var(--jp-ui-font-color2,#666)'>({escape(backend)})</span><br>"
        f"<span style='color:{colour};font-weight:600'>{escape(row.status)}</span>"
        f" &middot; {' &middot; '.join(parts)}{reason_html}</div>"
    )
