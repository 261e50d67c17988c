"""The exit reminder (``sm_magics.reminders``): its text, its scope, and a real kernel shutdown.

The last test starts a real ipykernel with ``jupyter_client``, loads the extension, deploys
an endpoint, shuts the kernel down cleanly and reads what the kernel process wrote to its
standard error: the Jupyter server's terminal and log.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import helpers
import pytest

from sm_magics import pricing, reminders
from sm_magics.api import Session
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointRecord

MODEL_FN = helpers.MODEL_FN


def record(name: str, **values: Any) -> EndpointRecord:
    fields: dict[str, Any] = {
        "backend": "sagemaker",
        "status": "InService",
        "created_at": time.time() - 60,
        "region": "us-east-1",
        "notebook": "nb.ipynb",
        "variants": [
            {"VariantName": "AllTraffic", "InstanceType": "ml.m5.large", "DesiredInstanceCount": 2}
        ],
    }
    fields.update(values)
    return EndpointRecord(name=name, **fields)


def test_live_endpoints_are_this_notebooks_billing_ones(sm_home: Path) -> None:
    ledger = Ledger()
    try:
        now = time.time()
        ledger.insert_endpoint(record("mine"))
        ledger.insert_endpoint(record("other", notebook="other.ipynb"))
        ledger.insert_endpoint(record("failed", status="Failed"))
        ledger.insert_endpoint(record("gone", status="Deleted", deleted_at=now))
        ledger.insert_endpoint(record("expired", ttl_at=now - 1))
        ledger.insert_endpoint(record("later", ttl_at=now + 3600))
        names = [r.name for r in reminders.live_endpoints(ledger, "nb.ipynb", now)]
        assert sorted(names) == ["later", "mine"]
    finally:
        ledger.close()


def test_reminder_text() -> None:
    now = time.time()
    text = reminders.reminder_text(
        [record("iris"), record("dev", backend="local", ttl_at=now + 5400)], "nb.ipynb", now
    )
    assert text is not None
    per_hour = pricing.hourly_cost("ml.m5.large", 2, "us-east-1", usage="hosting")
    lines = text.splitlines()
    assert lines[0] == (
        "sm-magics: 2 endpoints started by notebook nb.ipynb still in service, "
        f"{pricing.format_usd(2 * (per_hour or 0))}/hour in all:"
    )
    assert lines[1] == (
        f"  iris (sagemaker, ml.m5.large \u00d72, {pricing.format_usd(per_hour)}/hour): "
        "%sm_delete iris --yes"
    )
    assert "processes on this machine" in lines[2] and "deletes itself in 1h 30m" in lines[2]
    assert lines[2].endswith("%sm_delete dev --yes")
    assert "%sm_cleanup --yes" in lines[3]
    assert reminders.reminder_text([], "nb.ipynb") is None


def test_remind_never_creates_a_ledger(sm_home: Path) -> None:
    magics = SimpleNamespace(_session=None, _notebook_path=lambda: "nb.ipynb")
    assert reminders.remind(magics) is None
    assert not (sm_home / "ledger.sqlite").exists()


def test_remind_reads_the_ledger_file_and_writes_stderr(
    sm_home: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    ledger = Ledger()
    ledger.insert_endpoint(record("iris"))
    ledger.close()
    magics = SimpleNamespace(_session=None, _notebook_path=lambda: "nb.ipynb")
    text = reminders.remind(magics)
    assert text is not None and "iris" in text
    assert "%sm_delete iris --yes" in capfd.readouterr().err


def test_remind_at_exit_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        @property
        def _session(self) -> Any:
            raise RuntimeError("broken (test)")

    monkeypatch.setattr(reminders._Installed, "magics", Broken())
    reminders.remind_at_exit()  # no exception


def test_install_registers_one_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[Any] = []
    monkeypatch.setattr("atexit.register", registered.append)
    monkeypatch.setattr(reminders._Installed, "registered", False)
    monkeypatch.setattr(reminders._Installed, "magics", None)
    first, second = object(), object()
    reminders.install(first)
    reminders.install(second)
    assert registered == [reminders.remind_at_exit]
    assert reminders._Installed.magics is second


def test_reminder_at_a_real_kernel_shutdown(sm_home: Path, tmp_path: Path) -> None:
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import KernelManager

    model = helpers.logistic_model_tar(tmp_path)
    script = tmp_path / "serve.py"
    script.write_text(MODEL_FN)
    err_path = tmp_path / "kernel-stderr.txt"
    manager = KernelManager()
    # This interpreter, whatever kernelspecs the machine has installed.
    manager._kernel_spec = KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="test",
        language="python",
    )
    env = {
        **__import__("os").environ,
        "SM_MAGICS_HOME": str(sm_home),
        "JPY_SESSION_NAME": "shutdown.ipynb",
    }
    session = Session()
    try:
        with err_path.open("wb") as err:
            manager.start_kernel(env=env, stdout=err, stderr=err)
            client = manager.client()
            client.start_channels()
            try:
                client.wait_for_ready(timeout=120)
                for code in (
                    "%load_ext sm_magics",
                    f"_ = %sm_deploy {model} -e bye --entry-point {script} --wait",
                ):
                    reply = client.execute_interactive(
                        code, timeout=120, output_hook=lambda m: None
                    )
                    assert reply["content"]["status"] == "ok", reply["content"]
            finally:
                client.stop_channels()
            manager.shutdown_kernel(now=False)  # a clean shutdown, as the notebook's menu does
        output = err_path.read_text(errors="replace")
        assert "sm-magics: 1 endpoint started by notebook shutdown.ipynb still in service" in output
        assert "%sm_delete bye --yes" in output
        assert "%sm_cleanup --yes" in output
    finally:
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
        for live in session.ledger.list_endpoints():
            session.endpoint(live.name).delete()
        session.ledger.close()
