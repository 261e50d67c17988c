"""``python -m sm_magics.ledger rebuild`` keeps the model registry and works on an empty home."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sm_magics import model_registry
from sm_magics.ledger import Ledger
from sm_magics.model_registry import PackageRecord


def _rebuild(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sm_magics.ledger", "rebuild"],
        env={**os.environ, "SM_MAGICS_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_rebuild_on_an_empty_home_makes_an_empty_ledger(sm_home: Path) -> None:
    done = _rebuild(sm_home)
    assert done.returncode == 0, done.stderr
    assert (sm_home / "ledger.sqlite").is_file()
    assert Ledger().list_jobs() == []


def test_rebuild_keeps_every_registered_version(sm_home: Path) -> None:
    ledger = Ledger()
    for version in (1, 2):
        model_registry.insert(
            ledger,
            PackageRecord(
                arn=f"arn:aws:sagemaker:us-east-1:000000000000:model-package/g/{version}",
                group_name="g",
                version=version,
                backend="local",
                status="Approved" if version == 2 else "PendingManualApproval",
                model_data="file:///x/model.tar.gz",
                created_at=time.time(),
                source_job="job",
                history=[{"status": "Approved", "by": "a@h", "at": 1.0, "note": None}],
            ),
            lambda v: "unused",
        )
    ledger.close()
    done = _rebuild(sm_home)
    assert done.returncode == 0, done.stderr
    rows = model_registry.list_packages(Ledger(), "g")
    assert [(r.version, r.status) for r in rows] == [(2, "Approved"), (1, "PendingManualApproval")]
    assert rows[0].history[0]["by"] == "a@h"
