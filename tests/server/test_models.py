"""``/models`` and ``/lineage`` routes over a real local registry and a real job."""

from __future__ import annotations

from pathlib import Path

import pytest

from sm_magics.api import Job, Session

from .conftest import Call

SCRIPT = """\
import os
from pathlib import Path

print("acc=0.875", flush=True)
Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text("trained")
"""


@pytest.fixture
def registered(tmp_path: Path) -> Job:
    data = tmp_path / "channel"
    data.mkdir()
    (data / "rows.csv").write_text("1\n")
    session = Session()
    job = session.train(
        SCRIPT,
        name="reg-job",
        inputs={"train": str(data)},
        metric_definitions={"acc": r"acc=([0-9.]+)"},
    ).wait(timeout=120)
    session.register("reg-job", group="fraud")
    session.register("reg-job", group="fraud", approval="approve")
    return job


async def test_models_lists_versions_newest_first(api: Call, registered: Job) -> None:
    reply = await api("GET", "models")
    assert reply.status == 200
    versions = [(m["group"], m["version"], m["status"]) for m in reply.body["models"]]
    assert versions == [("fraud", 2, "Approved"), ("fraud", 1, "PendingManualApproval")]
    assert reply.body["models"][0]["metrics"] == {"acc": 0.875}
    assert reply.body["models"][0]["source_job"] == "reg-job"
    assert "@" in reply.body["models"][0]["changed_by"]
    missing = await api("GET", "models", params={"group": "ghost"})
    assert (missing.status, missing.body["code"]) == (404, "NotFound")


async def test_approve_and_reject_through_rest(api: Call, registered: Job) -> None:
    reply = await api("POST", "models", "fraud", "1", "approve")
    assert reply.status == 200 and reply.body["status"] == "Approved"
    reply = await api("POST", "models", "fraud", "2", "reject")
    assert reply.status == 200 and reply.body["status"] == "Rejected"
    unknown = await api("POST", "models", "fraud", "9", "approve")
    assert unknown.status == 404


async def test_lineage_of_a_version(api: Call, registered: Job) -> None:
    reply = await api("GET", "lineage", "fraud", "2")
    assert reply.status == 200
    root = reply.body["root"]
    assert (root["kind"], root["name"]) == ("model package", "fraud/2")
    [job] = root["parents"]
    assert (job["kind"], job["name"]) == ("training job", "reg-job")
    assert {p["kind"] for p in job["parents"]} == {"code", "input"}
    missing = await api("GET", "lineage", "nothing")
    assert missing.status == 404


async def test_an_endpoint_says_which_version_it_serves(api: Call, registered: Job) -> None:
    session = Session()
    session.deploy("fraud", endpoint="fraud-live")  # the latest approved: fraud/2
    session.deploy("reg-job", endpoint="from-job")
    try:
        reply = await api("GET", "endpoints")
        served = {e["name"]: e["model_package"] for e in reply.body["endpoints"]}
        assert served == {"fraud-live": "fraud/2", "from-job": None}
    finally:
        for name in ("fraud-live", "from-job"):
            session.endpoint(name).delete()
