"""A local endpoint with ``--ttl`` deletes itself with no kernel and no Jupyter server left.

The issue's "done when": an endpoint deployed with ``--ttl 5s`` is gone shortly after,
although the process that deployed it has exited, and its ledger row says why. The
deploying "kernel" here is a separate Python process that calls ``Session().deploy`` and
exits; nothing else of sm-magics runs (no server was started). The test then only
watches: the router process and its port go away and the row says ``TTL expired (5s)``.
Waits poll with a generous limit so a broken endpoint cannot hang the suite; how long the
deletion takes is not asserted (the router checks its TTL once a second).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers import logistic_model_tar, process_running

from sm_magics.ledger import Ledger

from .conftest import address, wait_until

HANDLERS = """\
import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""

DEPLOY = """\
import json, sys, time
from pathlib import Path

from sm_magics.api import Session

model, handlers, home = sys.argv[1:]
session = Session()
session.deploy(model, endpoint="short-lived", entry_point=handlers, ttl="5s")
folder = Path(home) / "endpoints" / "short-lived"
deadline = time.monotonic() + 120
while time.monotonic() < deadline:  # until the router recorded its URL and pid
    try:
        state = json.loads((folder / "state.json").read_text())
        pid = int((folder / "router.pid").read_text().split()[0])
    except (OSError, ValueError):
        state, pid = {}, 0
    if state.get("url") and pid:
        print(json.dumps({"url": state["url"], "router": pid}))
        break
    time.sleep(0.05)
"""


def port_closed(url: str) -> bool:
    try:
        with socket.create_connection(address(url), timeout=2):
            return False
    except OSError:
        return True


def test_a_local_endpoint_with_a_ttl_goes_away_after_its_kernel_exited(
    sm_home: Path, tmp_path: Path
) -> None:
    model = logistic_model_tar(tmp_path)
    handlers = tmp_path / "inference.py"
    handlers.write_text(HANDLERS)
    deployer = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(DEPLOY), model, str(handlers), str(sm_home)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert deployer.returncode == 0, deployer.stderr
    started = json.loads(deployer.stdout.strip().splitlines()[-1])
    # The "kernel" is gone; the router is on its own.
    wait_until(lambda: not process_running(started["router"]), what="the router to delete itself")
    assert port_closed(started["url"])

    ledger = Ledger(sm_home / "ledger.sqlite")
    try:
        record = ledger.get_endpoint("short-lived")
    finally:
        ledger.close()
    assert record is not None
    assert record.status == "Deleted"
    assert record.deleted_at is not None
    assert record.failure_reason == "TTL expired (5s)"
    state = json.loads((sm_home / "endpoints" / "short-lived" / "state.json").read_text())
    assert state["deleted_reason"] == "TTL expired (5s)"
