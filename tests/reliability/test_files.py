"""Issue 12 defects 6 (magic side), 7 and 11: damaged, deleted and full files, and secrets.

Real local jobs (detached supervisors) write the folders; the ledger is damaged, deleted
or refused under them the way a crash, a sync tool or a full disk would.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from helpers import TINY_SCRIPT, unique_name
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from sm_magics import storage
from sm_magics.api import Session
from sm_magics.backends.local.jobdir import JobDir
from sm_magics.errors import StorageError
from sm_magics.ledger import Ledger, LedgerWarning
from sm_magics.ledger_records import REDACTED, JobRecord

GARBAGE = b"this is not a database, a sync tool wrote it\n" * 200


def _finished_job(session: Session, **kwargs: object) -> str:
    name = unique_name("files")
    session.train(TINY_SCRIPT, name=name, **kwargs).wait(120)  # type: ignore[arg-type]
    return name


def _damage(path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(GARBAGE)


# -- defect 7: a damaged ledger --------------------------------------------------------------


def test_a_damaged_ledger_is_one_message_naming_it_and_the_rebuild(sm_home: Path) -> None:
    _damage(sm_home / "ledger.sqlite")
    with pytest.raises(StorageError) as caught:
        Session().jobs()
    message = str(caught.value)
    assert str(sm_home / "ledger.sqlite") in message
    assert "python -m sm_magics.ledger rebuild" in message


def test_a_damaged_ledger_reaches_a_magic_as_one_usage_error(
    ip: InteractiveShell, sm_home: Path
) -> None:
    _damage(sm_home / "ledger.sqlite")
    for line in ("sm_jobs", "sm_cost"):
        with pytest.raises(UsageError, match="damaged"):
            ip.run_line_magic(line, "")


def test_a_damaged_state_file_names_the_file(sm_home: Path) -> None:
    session = Session()
    name = _finished_job(session)
    state = JobDir.for_job(name).state_file
    state.write_text('{"status": "Compl')  # cut off half-way
    with pytest.raises(StorageError) as caught:
        session.job(name).describe()
    assert str(state) in str(caught.value)
    session.ledger.close()


def test_rebuild_brings_back_every_local_job_from_its_folder(sm_home: Path) -> None:
    session = Session()
    names = [_finished_job(session) for _ in range(2)]
    session.ledger.insert_job(
        JobRecord(name="on-aws", backend="sagemaker", status="Completed", created_at=1.0)
    )
    session.ledger.close()
    _damage(sm_home / "ledger.sqlite")
    result = subprocess.run(
        [sys.executable, "-m", "sm_magics.ledger", "rebuild"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SM_MAGICS_HOME": str(sm_home)},
    )
    assert result.returncode == 0, result.stderr
    assert "2 local jobs" in result.stdout
    # "damaged-", or "old-" when a supervisor that was just finishing wrote a WAL that
    # makes the file readable again: either way it is kept beside the new one.
    kept = list(sm_home.glob("ledger.sqlite.damaged-*")) + list(sm_home.glob("ledger.sqlite.old-*"))
    assert len([p for p in kept if not str(p).endswith(("-wal", "-shm"))]) == 1
    rebuilt = Ledger(sm_home / "ledger.sqlite")
    for name in names:
        record = rebuilt.get_job(name)
        assert record is not None
        assert record.status == "Completed"
        assert record.started_at is not None
    rebuilt.close()


def test_rebuild_keeps_the_rows_only_the_old_ledger_had(sm_home: Path) -> None:
    session = Session()
    name = _finished_job(session)
    session.ledger.insert_job(
        JobRecord(name="on-aws", backend="sagemaker", status="Completed", created_at=1.0)
    )
    session.ledger.close()
    from sm_magics.ledger_rebuild import rebuild

    report = rebuild(sm_home)
    assert report.folder_jobs == 1
    assert report.salvaged_jobs == 1
    rebuilt = Ledger(sm_home / "ledger.sqlite")
    assert {r.name for r in rebuilt.list_jobs()} == {name, "on-aws"}
    rebuilt.close()


def test_a_ledger_deleted_while_open_is_not_written_behind_everyones_back(sm_home: Path) -> None:
    path = sm_home / "ledger.sqlite"
    kernel = Ledger(path)
    kernel.insert_job(JobRecord(name="a", backend="local", status="Completed", created_at=1.0))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        kernel.insert_job(JobRecord(name="b", backend="local", status="Completed", created_at=2.0))
    assert any(issubclass(w.category, LedgerWarning) for w in seen)
    everyone = Ledger(path)  # another process: it opens the file by name
    assert [r.name for r in everyone.list_jobs()] == ["b"]
    everyone.close()
    kernel.close()


# -- defect 6, the magic side: a full disk ---------------------------------------------------


def test_a_full_disk_is_one_clear_message_from_a_magic(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sm_magics import packaging

    def full(*_: object, **__: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device", "/home/x/train.py")

    monkeypatch.setattr(packaging, "stage_source", full)
    with pytest.raises(UsageError, match="No space left"):
        ip.run_cell_magic("sm_train", "", "print(1)")


def test_sqlite_full_and_locked_become_storage_errors(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    for text, words in (
        ("database or disk is full", "No space left"),
        ("database is locked", "locked"),
        ("database disk image is malformed", "damaged"),
    ):
        error = storage.from_sqlite_error(sqlite3.OperationalError(text), path)
        assert error is not None
        assert words in str(error)
        assert str(path) in str(error)
    assert storage.from_sqlite_error(sqlite3.IntegrityError("UNIQUE"), path) is None


# -- defect 11: secrets ----------------------------------------------------------------------


def _loose(root: Path) -> list[str]:
    """Every folder or file under ``root`` that another user could read."""
    found = []
    for folder, _dirs, files in os.walk(root):
        for path in [Path(folder)] + [Path(folder) / f for f in files]:
            try:
                info = path.lstat()
            except FileNotFoundError:  # removed while we walk (the supervisor's .reserve,
                continue  # after the final status): what is gone cannot be read
            if stat.S_ISLNK(info.st_mode):
                continue
            if stat.S_IMODE(info.st_mode) & 0o077:
                found.append(f"{oct(stat.S_IMODE(info.st_mode))} {path}")
    return found


def test_home_is_private_and_every_file_in_it_too(sm_home: Path) -> None:
    sm_home.chmod(0o755)  # as an older version left it
    session = Session()
    _finished_job(session, environment={"API_TOKEN": "s3cr3t-value"})
    session.ledger.close()
    assert stat.S_IMODE(sm_home.stat().st_mode) == 0o700
    assert _loose(sm_home) == []


def test_env_values_stay_out_of_the_ledger(sm_home: Path) -> None:
    session = Session()
    name = _finished_job(session, environment={"API_TOKEN": "s3cr3t-value"})
    session.ledger.close()
    for suffix in ("", "-wal"):
        ledger_file = Path(f"{sm_home / 'ledger.sqlite'}{suffix}")
        if ledger_file.exists():
            assert b"s3cr3t-value" not in ledger_file.read_bytes()
    record = Ledger(sm_home / "ledger.sqlite").get_job(name)
    assert record is not None
    assert record.spec["environment"] == {"API_TOKEN": REDACTED}
    spec_file = JobDir.for_job(name).spec_file
    assert "s3cr3t-value" in spec_file.read_text()  # the job folder keeps the value
    assert stat.S_IMODE(spec_file.stat().st_mode) == 0o600
