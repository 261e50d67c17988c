"""``/jobs`` routes against real local jobs (detached supervisors, real log files)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sm_magics.api import Job, Session

from .conftest import Call

METRIC_SCRIPT = """\
import os
from pathlib import Path

for step in range(3):
    print(f"step={step} loss={1.0 / (step + 1):.3f}", flush=True)
Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text("trained")
"""

#: Writes 40 numbered lines over about a second, so reads page through a running job.
SLOW_LINES = """\
import time

for i in range(40):
    print(f"line {i}", flush=True)
    time.sleep(0.025)
"""

SLEEPER = """\
import time

print("sleeping", flush=True)
time.sleep(300)
"""


@pytest.fixture
def finished_job() -> Job:
    """A completed local training job with a --metric definition."""
    job = Session().train(METRIC_SCRIPT, metric_definitions={"loss": r"loss=([0-9.]+)"})
    return job.wait(timeout=120)


async def test_list_is_empty_on_a_fresh_home(api: Call) -> None:
    reply = await api("GET", "jobs")
    assert reply.status == 200
    assert reply.body["jobs"] == []
    assert isinstance(reply.body["version"], str)


async def test_list_shows_a_finished_job_with_every_field(api: Call, finished_job: Job) -> None:
    reply = await api("GET", "jobs")
    assert reply.status == 200
    [row] = reply.body["jobs"]
    assert row["name"] == finished_job.name
    assert row["kind"] == "training"
    assert row["backend"] == "local"
    assert row["status"] == "Completed"
    assert row["billing"] is False
    assert row["instance_type"] == "ml.m5.large"
    assert row["model_data"].startswith("file://")
    assert row["duration"] is not None and row["duration"] >= 0
    assert row["cost_per_hour"] > 0  # what ml.m5.large would cost on SageMaker
    assert row["cost"] is not None and row["cost"] >= 0
    assert row["failure_reason"] is None
    assert row["started_at"] >= row["created_at"]
    expected = {
        "name", "kind", "backend", "region", "status", "secondary_status", "instance_type",
        "instance_count", "spot", "created_at", "started_at", "ended_at", "duration", "cost",
        "cost_per_hour", "billing", "failure_reason", "model_data", "notebook",
    }  # fmt: skip
    assert set(row) == expected


async def test_filters_select_jobs(api: Call, finished_job: Job) -> None:
    async def names(**params: Any) -> list[str]:
        reply = await api("GET", "jobs", params=params)
        assert reply.status == 200, reply.body
        return [j["name"] for j in reply.body["jobs"]]

    assert await names(status="Completed") == [finished_job.name]
    assert await names(status="Failed") == []
    assert await names(backend="local") == [finished_job.name]
    assert await names(backend="sagemaker") == []
    assert await names(kind="training") == [finished_job.name]
    assert await names(kind="transform") == []
    assert await names(active="1") == []
    assert await names(active="0") == [finished_job.name]
    assert await names(limit="1") == [finished_job.name]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "Running"},
        {"backend": "nowhere"},
        {"kind": "inference"},
        {"active": "maybe"},
        {"limit": "0"},
        {"limit": "ten"},
        {"limit": "100000"},
    ],
)
async def test_bad_filters_are_400(api: Call, params: dict[str, str]) -> None:
    reply = await api("GET", "jobs", params=params)
    assert reply.status == 400
    assert reply.body["code"] == "InvalidRequest"
    assert next(iter(params)) in reply.body["message"]


async def test_one_job_has_its_metric_series(api: Call, finished_job: Job) -> None:
    reply = await api("GET", "jobs", finished_job.name)
    assert reply.status == 200
    assert reply.body["name"] == finished_job.name
    assert reply.body["status"] == "Completed"
    series = reply.body["metrics"]["loss"]
    assert [value for _, value in series] == [1.0, 0.5, 0.333]
    assert all(t > 1e9 for t, _ in series)  # Unix seconds, like every time of a Job


@pytest.mark.parametrize("route", [(), ("logs",), ("stop",)])
async def test_unknown_job_is_404(api: Call, route: tuple[str, ...]) -> None:
    method = "POST" if route == ("stop",) else "GET"
    reply = await api(method, "jobs", "no-such-job", *route)
    assert reply.status == 404
    assert reply.body["code"] == "NotFound"
    assert "no-such-job" in reply.body["message"]
    assert "Traceback" not in reply.raw.decode()


async def test_log_pages_return_every_line_once(api: Call) -> None:
    job = Session().train(SLOW_LINES)
    lines: list[str] = []
    cursor: str | None = None
    pages = 0
    for _ in range(2000):  # a guard against a job that never ends, not a timing
        params = {"limit": "5", **({"cursor": cursor} if cursor else {})}
        reply = await api("GET", "jobs", job.name, "logs", params=params)
        assert reply.status == 200, reply.body
        lines += [e["message"] for e in reply.body["events"]]
        assert all(e["host"] == "algo-1" for e in reply.body["events"])
        cursor = reply.body["cursor"]
        pages += 1
        if reply.body["done"]:
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("the logs never said done")
    # The toolkit's own lines ("Invoking script ...") come too; the script's come in order.
    assert [line for line in lines if line.startswith("line ")] == [f"line {i}" for i in range(40)]
    assert len(lines) == len(set(lines))
    assert pages > 1
    again = await api("GET", "jobs", job.name, "logs", params={"cursor": cursor})
    assert again.body["events"] == []
    assert again.body["done"] is True


async def test_a_bad_cursor_is_400(api: Call, finished_job: Job) -> None:
    for cursor in ("%%%", "bm90IGpzb24", "WzEsMl0"):  # not base64, not JSON, not an object
        reply = await api("GET", "jobs", finished_job.name, "logs", params={"cursor": cursor})
        assert reply.status == 400, cursor
        assert reply.body["code"] == "InvalidRequest"


async def test_stop_a_running_job_then_stop_it_again(api: Call) -> None:
    job = Session().train(SLEEPER)
    for _ in range(2000):
        reply = await api("GET", "jobs", job.name, "logs")
        if any(e["message"] == "sleeping" for e in reply.body["events"]):
            break
        await asyncio.sleep(0.05)
    reply = await api("POST", "jobs", job.name, "stop")
    assert reply.status == 200
    assert reply.body["status"] in ("Stopping", "Stopped")
    for _ in range(2000):
        reply = await api("GET", "jobs", job.name)
        if reply.body["status"] == "Stopped":
            break
        await asyncio.sleep(0.05)
    assert reply.body["status"] == "Stopped"
    assert reply.body["billing"] is False
    again = await api("POST", "jobs", job.name, "stop")  # an ended job: not an error
    assert again.status == 200
    assert again.body["status"] == "Stopped"


async def test_stop_a_completed_job_is_fine(api: Call, finished_job: Job) -> None:
    reply = await api("POST", "jobs", finished_job.name, "stop")
    assert reply.status == 200
    assert reply.body["status"] == "Completed"


async def test_a_running_job_is_listed_as_billing(api: Call) -> None:
    job = Session().train(SLEEPER)
    reply = await api("GET", "jobs", params={"active": "1"})
    assert [j["name"] for j in reply.body["jobs"]] == [job.name]
    assert reply.body["jobs"][0]["billing"] is True
    assert reply.body["jobs"][0]["status"] == "InProgress"
    job.stop()


async def test_a_processing_job_is_listed_by_kind_read_and_stopped(api: Call) -> None:
    job = Session().process(SLEEPER, name="rest-processing")
    for _ in range(2000):
        reply = await api("GET", "jobs", job.name, "logs")
        if any(e["message"] == "sleeping" for e in reply.body["events"]):
            break
        await asyncio.sleep(0.05)
    listed = await api("GET", "jobs", params={"kind": "processing"})
    assert [(r["name"], r["kind"]) for r in listed.body["jobs"]] == [(job.name, "processing")]
    assert (await api("GET", "jobs", params={"kind": "training"})).body["jobs"] == []
    reply = await api("POST", "jobs", job.name, "stop")
    assert reply.status == 200 and reply.body["kind"] == "processing"
    assert job.wait(timeout=120).status == "Stopped"
