"""Issue 12 defect 7 over REST: a damaged ledger is a 503 naming the file, never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Call


@pytest.mark.parametrize("route", ["jobs", "cost", "changes", "endpoints", "jobs/some-job"])
async def test_a_damaged_ledger_answers_503_with_what_to_do(
    api: Call, sm_home: Path, route: str
) -> None:
    (sm_home / "ledger.sqlite").write_bytes(b"not a database at all\n" * 300)
    reply = await api("GET", *route.split("/"))
    assert reply.status == 503, reply.raw
    assert reply.body["code"] == "StorageError"
    assert "ledger.sqlite" in reply.body["message"]
    assert "python -m sm_magics.ledger rebuild" in reply.body["message"]
