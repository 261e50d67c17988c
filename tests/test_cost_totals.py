"""Cost totals in SQL: the same answers as pricing every row, read over indexes only."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from sm_magics import cost_summary, cost_totals, costs
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointRecord, JobRecord

NOW = 1_795_000_000.0  # 2026-11-17
TYPES = ["ml.m5.large", "ml.c5.xlarge", "ml.g4dn.xlarge", "ml.nope.big", None]
JOB_STATUSES = ["InProgress", "Stopping", "Completed", "Failed", "Stopped"]
ENDPOINT_STATUSES = ["Creating", "InService", "Updating", "Failed", "Deleted", "Deleting"]


def _random_ledger(path: Path, seed: int, rows: int) -> Ledger:
    rng = random.Random(seed)
    ledger = Ledger(path)
    for i in range(rows):
        created = NOW - rng.uniform(0, 90 * 86400)
        status = rng.choice(JOB_STATUSES)
        started = created + rng.uniform(0, 600) if rng.random() > 0.1 else None
        ended = None
        if status not in ("InProgress", "Stopping") and started and rng.random() > 0.2:
            ended = min(NOW + 100, started + rng.uniform(0, 5 * 86400))
        ledger.insert_job(
            JobRecord(
                name=f"job-{i}",
                backend=rng.choice(["local", "sagemaker"]),
                status=status,
                created_at=created,
                kind=rng.choice(["training", "transform", "processing"]),
                region=rng.choice(["us-east-1", "eu-west-1", None]),
                instance_type=rng.choice(TYPES),
                instance_count=rng.choice([0, 1, 2, 5]),
                spot=rng.random() < 0.3,
                started_at=started,
                ended_at=ended,
                notebook=rng.choice(["a.ipynb", "b.ipynb", None]),
            )
        )
    for i in range(rows // 4):
        created = NOW - rng.uniform(0, 90 * 86400)
        status = rng.choice(ENDPOINT_STATUSES)
        instance = rng.choice(TYPES[:-1])
        serverless = rng.random() < 0.2
        variants = [
            {
                "VariantName": "AllTraffic",
                "InstanceType": None if serverless else instance,
                "DesiredInstanceCount": rng.choice([1, 2]),
            }
        ]
        spec = {"variants": [{"name": "AllTraffic", "model": f"m{i}"}]}
        if serverless:
            spec["variants"][0]["serverless_memory_mb"] = 2048
        ledger.insert_endpoint(
            EndpointRecord(
                name=f"ep-{i}",
                backend=rng.choice(["local", "sagemaker"]),
                status=status,
                created_at=created,
                region=rng.choice(["us-east-1", None]),
                variants=variants,
                deleted_at=created + rng.uniform(0, 86400 * 20) if status == "Deleted" else None,
                notebook=rng.choice(["a.ipynb", None]),
                spec=spec,
            )
        )
    return ledger


def _oracle(ledger: Ledger, notebook: str, now: float) -> dict[str, float]:
    """Price every row one by one: the rules of costs.py applied the plain way."""
    windows = {"today": cost_summary.day_start(now), "month": cost_summary.month_start(now)}
    totals = {"today": 0.0, "month": 0.0, "notebook": 0.0}
    intervals: list[tuple[float | None, tuple[float, float] | None, str | None]] = []
    for job in ledger.list_jobs():
        intervals.append((costs.job_rate(job).per_hour, costs.job_interval(job, now), job.notebook))
    for endpoint in ledger.list_endpoints(live_only=False):
        rate = costs.endpoint_rate(endpoint).per_hour
        intervals.append((rate, costs.endpoint_interval(endpoint, now), endpoint.notebook))
    for per_hour, interval, owner in intervals:
        if per_hour is None or interval is None:
            continue
        for key, start in windows.items():
            overlap = max(0.0, min(interval[1], now) - max(interval[0], start))
            totals[key] += per_hour * overlap / 3600.0
        if owner == notebook:
            totals["notebook"] += per_hour * (interval[1] - interval[0]) / 3600.0
    return totals


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_totals_match_pricing_each_row(tmp_path: Path, seed: int) -> None:
    ledger = _random_ledger(tmp_path / "ledger.sqlite", seed, 300)
    summary = cost_summary.summarize(ledger, notebook="a.ipynb", now=NOW)
    expected = _oracle(ledger, "a.ipynb", NOW)
    assert summary.today == pytest.approx(expected["today"], rel=1e-9, abs=1e-9)
    assert summary.month == pytest.approx(expected["month"], rel=1e-9, abs=1e-9)
    assert summary.notebook_total == pytest.approx(expected["notebook"], rel=1e-9, abs=1e-9)
    running = {i.name for i in summary.running}
    assert running == {
        j.name for j in ledger.list_jobs() if j.status in costs.BILLING_JOB_STATUSES
    } | {
        e.name
        for e in ledger.list_endpoints(live_only=False)
        if e.status in costs.BILLING_ENDPOINT_STATUSES
    }
    assert summary.unpriced  # ml.nope.big has no price


def _plan(ledger: Ledger, sql: str) -> str:
    params = {"now": NOW, "day": NOW - 3600, "month": NOW - 86400, "notebook": "a", "limit": 5}
    params.update({k: None for k in ("kind", "backend", "region", "instance_type")})
    params.update({"instance_count": 1, "spot": 0, "variants": "[]", "serverless": "[]"})
    rows = ledger.query(f"EXPLAIN QUERY PLAN {sql}", params)
    return "\n".join(str(row["detail"]) for row in rows)


@pytest.mark.parametrize("name", sorted(cost_totals._SQL))
def test_every_cost_query_reads_through_an_index(tmp_path: Path, name: str) -> None:
    """No full scan of a table: totals read the running rows, the month's or a notebook's."""
    ledger = _random_ledger(tmp_path / "ledger.sqlite", 4, 50)
    plan = _plan(ledger, cost_totals._SQL[name])
    running_only = ("USING INDEX jobs_active", "USING INDEX endpoints_live")
    for line in plan.splitlines():
        if line.startswith(("SCAN jobs", "SCAN endpoints")):
            assert line.endswith(running_only), plan


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"kind": "processing"},
        {"status": "Completed"},
        {"backend": "local"},
        {"active_only": True},
    ],
)
def test_job_listing_filters_run_in_sql_over_an_index(
    tmp_path: Path, filters: dict[str, object]
) -> None:
    ledger = _random_ledger(tmp_path / "ledger.sqlite", 5, 200)
    listed = ledger.list_jobs(limit=7, **filters)  # type: ignore[arg-type]
    everything = ledger.list_jobs()
    wanted = [
        r
        for r in everything
        if all(
            (r.status not in ("Completed", "Failed", "Stopped"))
            if k == "active_only"
            else getattr(r, k) == v
            for k, v in filters.items()
        )
    ]
    assert [r.name for r in listed] == [r.name for r in wanted[:7]]


def test_ended_rows_are_summed_once_until_the_ledger_changes(tmp_path: Path) -> None:
    """Asked again, the totals read the running rows only; a write brings the rest back."""
    ledger = _random_ledger(tmp_path / "ledger.sqlite", 6, 100)
    first = cost_summary.summarize(ledger, now=NOW)
    statements: list[str] = []
    assert ledger._conn is not None
    ledger._conn.set_trace_callback(statements.append)
    again = cost_summary.summarize(ledger, now=NOW)
    assert (again.today, again.month) == (first.today, first.month)
    assert not any("coalesce(ended_at" in s and "+status IN" in s for s in statements)
    ledger.insert_job(
        JobRecord(
            name="late",
            backend="sagemaker",
            status="Completed",
            created_at=NOW - 7200,
            instance_type="ml.m5.large",
            started_at=NOW - 7200,
            ended_at=NOW - 3600,
        )
    )
    after = cost_summary.summarize(ledger, now=NOW)
    assert after.month > first.month
    other = Ledger(ledger.path)  # another process's write moves data_version
    other.update_job("late", ended_at=NOW - 5400)
    other.close()
    assert cost_summary.summarize(ledger, now=NOW).month < after.month
    ledger.close()
