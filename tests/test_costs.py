"""The cost summary (``sm_magics.costs``) and ``%sm_cost``: ledger rows in, figures out.

Rows are synthetic and ``now`` is pinned, so every figure is exact; expected amounts are
computed from :mod:`sm_magics.pricing` rather than written down, so a price update does
not break the tests, only a wrong formula does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from sm_magics import pricing
from sm_magics.cost_summary import day_start, month_start, summarize
from sm_magics.display.costs import CostSummary
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointRecord, JobRecord

HOUR = 3600.0


def utc(*parts: int) -> float:
    """Unix time of a UTC date and time."""
    return datetime(*parts, tzinfo=timezone.utc).timestamp()  # type: ignore[misc]


def rate(
    instance_type: str, count: int = 1, *, usage: Any = "training", spot: bool = False
) -> float:
    """The hourly price the summary must use (the test fails loudly if it is unknown)."""
    value = pricing.hourly_cost(instance_type, count, "us-east-1", usage=usage, spot=spot)
    assert value is not None, instance_type
    return value


@pytest.fixture
def ledger(sm_home: Path) -> Iterator[Ledger]:
    """A ledger in the test's home."""
    ledger = Ledger()
    yield ledger
    ledger.close()


def job(ledger: Ledger, name: str, **values: Any) -> None:
    """Insert a job row (on SageMaker in us-east-1 unless told otherwise)."""
    fields: dict[str, Any] = {
        "backend": "sagemaker",
        "region": "us-east-1",
        "status": "Completed",
        "instance_type": "ml.m5.large",
    }
    fields.update(values)
    fields.setdefault("created_at", fields.get("started_at") or 0.0)
    ledger.insert_job(JobRecord(name=name, **fields))


def endpoint(
    ledger: Ledger,
    name: str,
    *,
    instance_type: str | None = "ml.m5.large",
    count: int = 1,
    serverless_mb: int | None = None,
    **values: Any,
) -> None:
    """Insert an endpoint row with one variant."""
    fields: dict[str, Any] = {"backend": "sagemaker", "region": "us-east-1", "status": "InService"}
    fields.update(values)
    variant = {
        "VariantName": "AllTraffic",
        "CurrentWeight": 1.0,
        "InstanceType": instance_type,
        "DesiredInstanceCount": count,
    }
    spec = {"variants": [{"name": "AllTraffic", "serverless_memory_mb": serverless_mb}]}
    ledger.insert_endpoint(EndpointRecord(name=name, variants=[variant], spec=spec, **fields))


def test_windows_are_utc_day_and_month() -> None:
    now = utc(2026, 12, 1, 0, 30)
    assert day_start(now) == utc(2026, 12, 1)
    assert month_start(now) == utc(2026, 12, 1)
    assert month_start(utc(2026, 11, 22, 10)) == utc(2026, 11, 1)


def test_empty_ledger(ledger: Ledger) -> None:
    summary = summarize(ledger, now=utc(2026, 11, 22, 10))
    assert summary.running == []
    assert summary.to_json() == {
        "currency": "USD",
        "generated_at": utc(2026, 11, 22, 10),
        "billing_per_hour": 0.0,
        "running": [],
        "totals": {"today": 0.0, "month": 0.0, "notebook": None},
    }
    assert repr(summary).startswith("Nothing running or billing.")


def test_running_job_and_endpoint_cost_so_far_and_per_hour(ledger: Ledger) -> None:
    now = utc(2026, 11, 22, 10)
    job(
        ledger,
        "train",
        status="InProgress",
        started_at=now - 2 * HOUR,
        instance_count=2,
        notebook="a.ipynb",
    )
    endpoint(ledger, "iris", created_at=now - HOUR, count=3, notebook="b.ipynb")
    summary = summarize(ledger, now=now)
    by_name = {item.name: item for item in summary.running}
    assert set(by_name) == {"train", "iris"}
    assert by_name["train"].cost_per_hour == pytest.approx(rate("ml.m5.large", 2))
    assert by_name["train"].cost == pytest.approx(2 * rate("ml.m5.large", 2))
    assert by_name["iris"].cost_per_hour == pytest.approx(rate("ml.m5.large", 3, usage="hosting"))
    assert by_name["iris"].instance == "ml.m5.large \u00d73"
    expected = rate("ml.m5.large", 2) + rate("ml.m5.large", 3, usage="hosting")
    assert summary.billing_per_hour == pytest.approx(expected)
    # newest first
    assert [item.name for item in summary.running] == ["iris", "train"]


def test_to_json_has_exactly_the_rest_shape(ledger: Ledger) -> None:
    now = utc(2026, 11, 22, 10)
    endpoint(ledger, "iris", created_at=now - HOUR, notebook="serving.ipynb", backend="local")
    document = summarize(ledger, notebook="serving.ipynb", now=now).to_json()
    json.dumps(document)  # JSON-safe
    assert set(document) == {"currency", "generated_at", "billing_per_hour", "running", "totals"}
    assert set(document["totals"]) == {"today", "month", "notebook"}
    (item,) = document["running"]
    assert item == {
        "kind": "endpoint",
        "name": "iris",
        "backend": "local",
        "region": "us-east-1",
        "instance": "ml.m5.large",
        "cost": pytest.approx(rate("ml.m5.large", usage="hosting")),
        "cost_per_hour": pytest.approx(rate("ml.m5.large", usage="hosting")),
        "since": now - HOUR,
        "notebook": "serving.ipynb",
    }
    assert document["totals"]["notebook"] == pytest.approx(rate("ml.m5.large", usage="hosting"))


def test_totals_pro_rate_across_the_day_boundary(ledger: Ledger) -> None:
    now = utc(2026, 11, 22, 1)  # 01:00 UTC
    # 23:00 yesterday to 01:00 today: one hour today, both this month.
    job(ledger, "overnight", started_at=utc(2026, 11, 21, 23), ended_at=now)
    summary = summarize(ledger, now=now)
    per_hour = rate("ml.m5.large")
    assert summary.today == pytest.approx(per_hour)
    assert summary.month == pytest.approx(2 * per_hour)
    assert summary.running == []  # it ended


def test_totals_pro_rate_across_the_month_boundary(ledger: Ledger) -> None:
    now = utc(2026, 12, 1, 0, 30)
    endpoint(ledger, "late", created_at=utc(2026, 11, 30, 23, 30), notebook="n.ipynb")
    summary = summarize(ledger, notebook="n.ipynb", now=now)
    per_hour = rate("ml.m5.large", usage="hosting")
    assert summary.today == pytest.approx(per_hour / 2)
    assert summary.month == pytest.approx(per_hour / 2)
    assert summary.notebook_total == pytest.approx(per_hour)  # all time
    (item,) = summary.running
    assert item.cost == pytest.approx(per_hour)


def test_deleted_endpoints_and_ended_jobs_count_in_history_only(ledger: Ledger) -> None:
    now = utc(2026, 11, 22, 12)
    endpoint(
        ledger,
        "old",
        status="Deleted",
        created_at=utc(2026, 11, 10),
        deleted_at=utc(2026, 11, 11),
        notebook="a.ipynb",
    )
    endpoint(
        ledger,
        "last-month",
        status="Deleted",
        created_at=utc(2026, 10, 1),
        deleted_at=utc(2026, 10, 2),
        notebook="a.ipynb",
    )
    job(ledger, "done", started_at=utc(2026, 11, 22, 8), ended_at=utc(2026, 11, 22, 9))
    job(ledger, "never-started", status="Failed", started_at=None, created_at=utc(2026, 11, 22))
    summary = summarize(ledger, notebook="a.ipynb", now=now)
    hosting = rate("ml.m5.large", usage="hosting")
    assert summary.running == []
    assert summary.billing_per_hour == 0
    assert summary.today == pytest.approx(rate("ml.m5.large"))
    assert summary.month == pytest.approx(24 * hosting + rate("ml.m5.large"))
    assert summary.notebook_total == pytest.approx(48 * hosting)


def test_spot_jobs_use_the_spot_estimate(ledger: Ledger) -> None:
    now = utc(2026, 11, 22, 12)
    job(
        ledger,
        "spot",
        status="InProgress",
        spot=True,
        started_at=now - HOUR,
        instance_type="ml.g5.xlarge",
    )
    summary = summarize(ledger, now=now)
    (item,) = summary.running
    assert item.cost_per_hour == pytest.approx(rate("ml.g5.xlarge", spot=True))
    assert item.cost_per_hour < rate("ml.g5.xlarge")
    assert "spot: an estimate" in item.notes


def test_transform_jobs_bill_at_hosting_rates(ledger: Ledger) -> None:
    now = utc(2026, 11, 22, 12)
    job(ledger, "batch", kind="transform", status="InProgress", started_at=now - HOUR)
    (item,) = summarize(ledger, now=now).running
    assert item.kind == "transform"
    assert item.cost_per_hour == pytest.approx(rate("ml.m5.large", usage="hosting"))


def test_serverless_is_zero_per_hour_and_says_so(ledger: Ledger) -> None:
    now = utc(2026, 11, 22, 12)
    # The sagemaker backend records no instance type; the local one keeps it (spec says).
    endpoint(
        ledger, "sl-aws", instance_type=None, count=0, serverless_mb=2048, created_at=now - HOUR
    )
    endpoint(ledger, "sl-local", serverless_mb=1024, backend="local", created_at=now - HOUR)
    summary = summarize(ledger, now=now)
    assert summary.billing_per_hour == 0
    items = {item.name: item for item in summary.running}
    assert items["sl-aws"].instance == "serverless 2048 MB"
    assert items["sl-local"].instance == "serverless 1024 MB"
    assert all(any("serverless" in note for note in item.notes) for item in items.values())
    assert "serverless: billed per request" in repr(summary)


def test_unknown_price_is_none_not_zero_and_is_listed(ledger: Ledger) -> None:
    now = utc(2026, 11, 22, 12)
    job(ledger, "odd", status="InProgress", started_at=now - HOUR, instance_type="ml.zz.huge")
    summary = summarize(ledger, now=now)
    (item,) = summary.running
    assert item.cost is None and item.cost_per_hour is None
    assert summary.to_json()["running"][0]["cost"] is None
    assert summary.unpriced == ["odd"]
    assert "No price known for: odd" in repr(summary)


def test_local_rows_are_marked_as_would_be(ledger: Ledger) -> None:
    now = utc(2026, 11, 22, 12)
    endpoint(ledger, "here", backend="local", created_at=now - HOUR)
    endpoint(ledger, "there", created_at=now - HOUR)
    summary = summarize(ledger, now=now)
    text = repr(summary)
    assert "local: what SageMaker would charge" in text
    hosting = rate("ml.m5.large", usage="hosting")
    assert summary.billing_per_hour_on("sagemaker") == pytest.approx(hosting)
    assert summary.billing_per_hour_on("local") == pytest.approx(hosting)


def test_text_and_html(ledger: Ledger) -> None:
    now = utc(2026, 11, 22, 12)
    endpoint(ledger, "iris", created_at=now - HOUR, notebook="a.ipynb")
    summary = summarize(ledger, notebook="a.ipynb", now=now)
    text = repr(summary)
    per_hour = pricing.format_usd(rate("ml.m5.large", usage="hosting"))
    assert text.splitlines()[0] == f"Billing now: {per_hour}/hour, 1 item running."
    assert "iris" in text and "InService" in text and "1h 00m" in text
    assert "this notebook" in text and "today" in text and "this month" in text
    html = summary._repr_html_()
    assert "<table class='sm-magics-cost'>" in html and "iris" in html
    assert "<script" not in html


def test_html_escapes_names(ledger: Ledger) -> None:
    now = utc(2026, 11, 22, 12)
    endpoint(ledger, "x", created_at=now - HOUR, notebook="<b>evil</b>.ipynb")
    html = summarize(ledger, notebook="<b>evil</b>.ipynb", now=now)._repr_html_()
    assert "<b>evil</b>" not in html


# -- %sm_cost -----------------------------------------------------------------------------------


@pytest.fixture
def notebook_ip(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> InteractiveShell:
    """The shell, as if it ran notebook ``cost.ipynb``."""
    monkeypatch.setenv("JPY_SESSION_NAME", "cost.ipynb")
    ip.magics_manager.registry["SageMakerMagics"]._session = None
    return ip


def test_sm_cost_magic_empty(notebook_ip: InteractiveShell) -> None:
    summary = notebook_ip.run_line_magic("sm_cost", "")
    assert isinstance(summary, CostSummary)
    assert summary.notebook == "cost.ipynb"
    assert repr(summary).startswith("Nothing running or billing.")
    assert summary.to_json()["totals"]["notebook"] == 0.0


def test_sm_cost_magic_shows_the_notebook_total(notebook_ip: InteractiveShell) -> None:
    ledger = Ledger()
    try:
        import time

        now = time.time()
        # SageMaker rows: %sm_cost describes what runs first, and without credentials the
        # ledger's word stands (a local row without its endpoint folder would read Deleted).
        endpoint(ledger, "mine", created_at=now - HOUR, notebook="cost.ipynb")
        endpoint(ledger, "theirs", created_at=now - HOUR, notebook="other.ipynb")
    finally:
        ledger.close()
    summary = notebook_ip.run_line_magic("sm_cost", "")
    assert {item.name for item in summary.running} == {"mine", "theirs"}
    hosting = rate("ml.m5.large", usage="hosting")
    assert summary.notebook_total == pytest.approx(hosting, rel=1e-3)
    assert "this notebook" in repr(summary)
    assert "<table" in summary._repr_html_()
