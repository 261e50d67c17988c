"""``GET /changes``: a long poll that answers when the ledger changes, else at its timeout.

No assertion on how long anything took. That the request returned *early* is shown by
the client's own timeout: the server is asked to wait up to 30 s while the client gives
up after 25 s, so an answer at all means the server did not wait for its timeout.
"""

from __future__ import annotations

import threading
import time

from sm_magics.ledger import Ledger
from sm_magics.ledger_records import JobRecord

from .conftest import Call


async def test_without_since_the_current_version_comes_at_once(api: Call) -> None:
    jobs = await api("GET", "jobs")
    reply = await api("GET", "changes")
    assert reply.status == 200
    assert reply.body == {"version": jobs.body["version"]}


async def test_unchanged_ledger_answers_the_same_version_after_the_timeout(api: Call) -> None:
    version = (await api("GET", "jobs")).body["version"]
    reply = await api("GET", "changes", params={"since": version, "timeout": "0.5"})
    assert reply.status == 200
    assert reply.body == {"version": version}


async def test_a_job_inserted_by_another_thread_ends_the_wait_early(api: Call) -> None:
    version = (await api("GET", "jobs")).body["version"]

    def insert() -> None:
        time.sleep(0.3)  # let the request start waiting first
        ledger = Ledger()  # another connection, as a kernel's would be
        ledger.insert_job(
            JobRecord(name="from-a-kernel", backend="local", status="Completed", created_at=1.0)
        )
        ledger.close()

    writer = threading.Thread(target=insert)
    writer.start()
    try:
        reply = await api(
            "GET", "changes", params={"since": version, "timeout": "30"}, request_timeout=25
        )
    finally:
        writer.join(30)
    assert reply.status == 200
    assert reply.body["version"] != version
    listed = await api("GET", "jobs")
    assert listed.body["version"] == reply.body["version"]
    assert [j["name"] for j in listed.body["jobs"]] == ["from-a-kernel"]


async def test_an_update_changes_the_version_too(api: Call) -> None:
    ledger = Ledger()
    ledger.insert_job(JobRecord(name="j", backend="local", status="Completed", created_at=1.0))
    before = (await api("GET", "changes")).body["version"]
    ledger.update_job("j", failure_reason="edited")
    ledger.close()
    reply = await api("GET", "changes", params={"since": before, "timeout": "30"})
    assert reply.body["version"] != before


async def test_a_stale_since_answers_at_once(api: Call) -> None:
    reply = await api(
        "GET", "changes", params={"since": "not-a-version", "timeout": "30"}, request_timeout=25
    )
    assert reply.status == 200
    assert reply.body["version"] != "not-a-version"


async def test_bad_timeouts_are_400(api: Call) -> None:
    for timeout in ("-1", "soon", "nan", "inf"):
        reply = await api("GET", "changes", params={"since": "x", "timeout": timeout})
        assert reply.status == 400, timeout
        assert reply.body["code"] == "InvalidRequest"
