"""``%sm_cleanup`` and ``Session.cleanup``: real local jobs and endpoints, stopped and deleted.

Jobs sleep until stopped; endpoints serve a tiny model. Scope (this notebook vs ``--all``),
the confirmation, idempotency and a partial failure are each checked on what actually runs
afterwards, not only on what the report says.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import helpers
import pytest
from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.interactiveshell import InteractiveShell

from sm_magics.api import Job, Session
from sm_magics.backends.local.engine import LocalBackend
from sm_magics.cleanup import CleanupReport
from sm_magics.errors import NotFound
from sm_magics.ledger_records import JobRecord

MODEL_FN = helpers.MODEL_FN

SLEEPER = "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n"


@pytest.fixture
def sessions(sm_home: Path) -> Iterator[Callable[[str | None], Session]]:
    """Make sessions for notebooks; whatever they leave is deleted at the end."""
    made: list[Session] = []

    def make(notebook: str | None) -> Session:
        session = Session(notebook=notebook)
        made.append(session)
        return session

    yield make
    final = Session()
    final.cleanup(all=True)
    final.ledger.close()
    for session in made:
        session.ledger.close()


def sleeping_job(session: Session) -> Job:
    """Start a job that trains until stopped; return once its script runs."""
    job = session.train(SLEEPER)
    helpers.wait_for_log(job.backend, job.name, "sleeping")
    return job


def deployed(session: Session, model_uri: str, entry_point: Path) -> str:
    """Deploy an endpoint and wait until it serves; return its name."""
    name = f"ep-{uuid.uuid4().hex[:8]}"
    session.deploy(model_uri, endpoint=name, entry_point=entry_point).wait("2m")
    return name


def endpoint_status(session: Session, name: str) -> str:
    try:
        return str(session.backend().describe_endpoint(name)["EndpointStatus"])
    except NotFound:
        return "Deleted"


def test_notebook_scope_then_all_then_nothing(
    sessions: Callable[[str | None], Session], model_uri: str, entry_point: Path
) -> None:
    mine, theirs = sessions("mine.ipynb"), sessions("theirs.ipynb")
    my_job, my_endpoint = sleeping_job(mine), deployed(mine, model_uri, entry_point)
    their_job, their_endpoint = sleeping_job(theirs), deployed(theirs, model_uri, entry_point)

    report = mine.cleanup()
    assert isinstance(report, CleanupReport) and report.ok
    assert {(item.kind, item.name, item.outcome) for item in report} == {
        ("training", my_job.name, "stopped"),
        ("endpoint", my_endpoint, "deleted"),
    }
    assert my_job.status == "Stopped"
    assert endpoint_status(mine, my_endpoint) == "Deleted"
    assert their_job.status == "InProgress"
    assert endpoint_status(mine, their_endpoint) == "InService"
    assert "Nothing of it runs or bills any more." in repr(report)

    assert repr(mine.cleanup()) == "Nothing running or billing (this notebook)."

    report = mine.cleanup(all=True)
    assert {item.name for item in report} == {their_job.name, their_endpoint}
    assert report.ok
    assert their_job.status == "Stopped"
    assert endpoint_status(mine, their_endpoint) == "Deleted"
    again = theirs.cleanup(all=True)
    assert len(again) == 0 and again.ok
    assert repr(again) == "Nothing running or billing (this machine)."


def test_a_row_the_backend_no_longer_knows_is_closed_not_listed(
    sessions: Callable[[str | None], Session],
) -> None:
    session = sessions(None)
    session.ledger.insert_job(
        JobRecord(
            name="ghost",
            backend="local",
            status="InProgress",
            # Older than the backend's creation grace (a row younger may be mid-create).
            created_at=time.time() - 120,
            started_at=time.time() - 120,
        )
    )
    assert len(session.cleanup()) == 0
    record = session.ledger.get_job("ghost")
    # The backend marked it (cleanup writes no row): gone, with why.
    assert record is not None and record.status == "Deleted"
    assert record.deleted_at is not None and record.failure_reason
    assert session.costs().running == []


def test_partial_failure_goes_on_and_says_what_is_left(
    sessions: Callable[[str | None], Session],
    model_uri: str,
    entry_point: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = sessions("nb.ipynb")
    stuck, fine = (
        deployed(session, model_uri, entry_point),
        deployed(session, model_uri, entry_point),
    )
    job = sleeping_job(session)
    real_delete = LocalBackend.delete_endpoint

    def flaky(self: Any, name: str) -> None:
        if name == stuck:
            raise RuntimeError("the router did not answer (test)")
        real_delete(self, name)

    monkeypatch.setattr(LocalBackend, "delete_endpoint", flaky)
    report = session.cleanup()
    assert not report.ok
    outcomes = {item.name: item.outcome for item in report}
    assert outcomes == {stuck: "failed", fine: "deleted", job.name: "stopped"}
    (left,) = report.left
    assert left.name == stuck and "the router did not answer (test)" in (left.error or "")
    text = repr(report)
    assert f"LEFT running or billing: endpoint {stuck}: delete failed" in text
    assert "%sm_cleanup again" in text
    assert "FAILED: delete failed" in text
    assert "color:var(--jp-error-color1" in report._repr_html_()
    assert endpoint_status(session, stuck) == "InService"
    assert endpoint_status(session, fine) == "Deleted"

    monkeypatch.setattr(LocalBackend, "delete_endpoint", real_delete)
    report = session.cleanup()
    assert [(item.name, item.outcome) for item in report] == [(stuck, "deleted")]
    assert len(session.cleanup()) == 0


# -- the magic ---------------------------------------------------------------------------


@pytest.fixture
def nb(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """The shell as notebook ``clean.ipynb``; whatever is left is cleaned afterwards."""
    monkeypatch.setenv("JPY_SESSION_NAME", "clean.ipynb")
    magics = ip.magics_manager.registry["SageMakerMagics"]
    magics._session = None
    yield ip
    magics.session.cleanup(all=True)
    magics.session.ledger.close()


def answer(text: str, asked: list[str]) -> Callable[[str], str]:
    def ask(prompt: str = "") -> str:
        asked.append(prompt)
        return text

    return ask


def test_magic_asks_and_a_no_changes_nothing(
    nb: InteractiveShell,
    model_uri: str,
    entry_point: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint = nb.run_line_magic("sm_deploy", f"{model_uri} -e kept --entry-point {entry_point}")
    endpoint.wait("2m")
    asked: list[str] = []
    monkeypatch.setattr("builtins.input", answer("n", asked))
    report = nb.run_line_magic("sm_cleanup", "")
    assert asked == ["Stop/delete this one? [y/N] "]
    listing = capsys.readouterr().out
    assert "kept" in listing and "to delete" in listing and "Running or billing" in listing
    assert repr(report).startswith("Nothing stopped or deleted.")
    assert not report.ok
    assert endpoint.status == "InService"

    monkeypatch.setattr("builtins.input", answer("y", asked))
    report = nb.run_line_magic("sm_cleanup", "")
    assert report.ok and [item.outcome for item in report] == ["deleted"]
    assert repr(nb.run_line_magic("sm_cleanup", "")) == (
        "Nothing running or billing (this notebook)."
    )


def test_magic_yes_and_all(
    nb: InteractiveShell, model_uri: str, entry_point: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Session(notebook="other.ipynb")
    try:
        foreign = deployed(other, model_uri, entry_point)
    finally:
        other.ledger.close()
    job = nb.run_cell_magic("sm_train", "", SLEEPER)
    helpers.wait_for_log(job.backend, job.name, "sleeping")

    def never(prompt: str = "") -> str:
        raise AssertionError("--yes must not ask")

    monkeypatch.setattr("builtins.input", never)
    report = nb.run_line_magic("sm_cleanup", "--yes")
    assert [(item.name, item.outcome) for item in report] == [(job.name, "stopped")]
    report = nb.run_line_magic("sm_cleanup", "--yes --all")
    assert [(item.name, item.outcome) for item in report] == [(foreign, "deleted")]
    assert "this machine" in repr(nb.run_line_magic("sm_cleanup", "--all --yes"))


def test_magic_without_a_terminal_says_to_use_yes(
    nb: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = nb.run_cell_magic("sm_train", "", SLEEPER)

    def no_stdin(prompt: str = "") -> str:
        raise StdinNotImplementedError("input() is not supported here")

    monkeypatch.setattr("builtins.input", no_stdin)
    with pytest.raises(UsageError, match="--yes"):
        nb.run_line_magic("sm_cleanup", "--all")
    assert job.status == "InProgress"


def test_magic_partial_failure_prints_what_is_left(
    nb: InteractiveShell,
    model_uri: str,
    entry_point: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint = nb.run_line_magic("sm_deploy", f"{model_uri} -e stuck --entry-point {entry_point}")
    endpoint.wait("2m")

    def broken(self: Any, name: str) -> None:
        raise RuntimeError("boom (test)")

    real_delete = LocalBackend.delete_endpoint
    monkeypatch.setattr(LocalBackend, "delete_endpoint", broken)
    report = nb.run_line_magic("sm_cleanup", "--yes")
    assert [item.name for item in report.left] == ["stuck"]
    assert "still running or billing: stuck" in capsys.readouterr().err
    monkeypatch.setattr(LocalBackend, "delete_endpoint", real_delete)  # teardown deletes it
