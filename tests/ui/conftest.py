"""A real JupyterLab with the side panel, driven in Debian's chromium by Playwright.

One server per session on 127.0.0.1 (free port, token, temporary root, workspaces and
settings folders), one ``SM_MAGICS_HOME`` shared by the server, its kernels and the tests,
so a job the test starts through the Python API shows in the panel and a job a notebook
starts can be checked from the test. Chromium is the system one
(``executable_path``); ``playwright install`` is never needed. Without /usr/bin/chromium
every test here is skipped (``make test`` installs it first).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helpers
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}
#: Screenshots for the README read like a user's session: the lab's root, the magics' home
#: and the venv's python sit in a folder named like a user's home, not in pytest's
#: temporary folders (``/tmp/pytest-of-root/pytest-496/sm_home0/...``).
SCREENSHOTS = os.environ.get("SM_MAGICS_SCREENSHOTS") == "1"
SCREENSHOT_HOME = Path("/tmp/home/ada")
#: How long a page may take to show JupyterLab, a kernel to start, a job to move on.
UI_TIMEOUT_MS = 60_000


@dataclass
class Lab:
    """A running JupyterLab: where it listens, its token, its folders."""

    url: str
    token: str
    root: Path
    home: Path
    log: Path
    process: subprocess.Popen[bytes]

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        """Call the server with the token; return the JSON answer (or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else None

    def lab_url(self, path: str = "lab") -> str:
        """The URL of a Lab page, with the token and a fresh workspace (G7)."""
        sep = "&" if "?" in path else "?"
        return f"{self.url}/{path}{sep}reset&token={self.token}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _write_settings(folder: Path) -> None:
    # No "get notified about Jupyter news?" toast over the bottom right corner (G8).
    news = folder / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))
    # Every cell rendered, not only those in view: the tests look at every output.
    tracker = folder / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))


def _wait_ready(lab: Lab, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if lab.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited:\n{lab.log.read_text()[-4000:]}")
        try:
            lab.api("api/status")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"jupyter lab did not start:\n{lab.log.read_text()[-4000:]}")
        time.sleep(0.2)


def _readable_home() -> tuple[Path, Path, str]:
    """Return the lab's root, the magics' home and a python in :data:`SCREENSHOT_HOME`.

    The folder is made afresh (only this fixed folder is removed). The python is the
    venv's, reached through a symlink to the venv, so the paths a job prints
    (``Invoking script with the following command: .../.venv/bin/python train.py``) read
    ``/tmp/home/ada/.venv/bin/python``; the venv is found through that link all the same.
    """
    # "registered by ada@host", not root@host (getpass reads these first), here and in the
    # lab's kernels: screenshot runs only.
    os.environ["USER"] = os.environ["LOGNAME"] = SCREENSHOT_HOME.name
    shutil.rmtree(SCREENSHOT_HOME, ignore_errors=True)
    SCREENSHOT_HOME.mkdir(parents=True)
    venv = SCREENSHOT_HOME / ".venv"
    venv.symlink_to(sys.prefix, target_is_directory=True)
    python = venv / Path(sys.executable).relative_to(sys.prefix)
    home = SCREENSHOT_HOME / ".sm_magics"
    helpers.HOMES.append(home)  # its leftover processes are stopped at session end
    return SCREENSHOT_HOME / "notebooks", home, str(python)


@pytest.fixture(scope="session")
def _need_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip("UI tests need Debian's chromium at /usr/bin/chromium (`make chromium`)")


@pytest.fixture(scope="session")
def lab(_need_chromium: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Start ``jupyter lab`` for the session; stop it through POST /api/shutdown (G9)."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    settings = base / "settings"
    python = sys.executable
    if SCREENSHOTS:
        root, home, python = _readable_home()
        root.mkdir()
    for folder in (root, base / "workspaces", base / "config", base / "runtime"):
        folder.mkdir(exist_ok=True)
    _write_settings(settings)
    if not SCREENSHOTS:
        home = helpers.new_home(tmp_path_factory)
    token = secrets.token_hex(16)
    port = _free_port()
    env = {
        **os.environ,
        "SM_MAGICS_HOME": str(home),
        "SM_MAGICS_STOP_GRACE": "1",
        "JUPYTER_CONFIG_DIR": str(base / "config"),  # no user config from ~/.jupyter
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
    }
    env.pop("JUPYTER_TOKEN", None)
    log = base / "lab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                python,  # its kernels run with it too (jupyter_client's "python" argv)
                "-m",
                "jupyterlab",
                "--no-browser",
                "--allow-root",  # G6: CI runs as root
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                f"--LabApp.workspaces_dir={base / 'workspaces'}",
                f"--LabApp.user_settings_dir={settings}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
        )
    server = Lab(f"http://127.0.0.1:{port}", token, root, home, log, process)
    try:
        _wait_ready(server)
        yield server
    finally:
        try:
            server.api("api/shutdown", method="POST")  # also shuts down the kernels
            process.wait(30)
        except Exception:  # noqa: BLE001 - whatever went wrong, do not leave it running
            process.kill()
            process.wait(30)


@pytest.fixture
def sm_home(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The lab's ``SM_MAGICS_HOME`` (overrides the per-test home of tests/conftest.py)."""
    monkeypatch.setenv("SM_MAGICS_HOME", str(lab.home))
    monkeypatch.setenv("SM_MAGICS_STOP_GRACE", "1")
    yield lab.home


@pytest.fixture(scope="session")
def browser(_need_chromium: None) -> Iterator[Any]:
    """Debian's chromium, headless, through Playwright's sync API."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, lab: Lab) -> Iterator[Any]:
    """A fresh browser context on JupyterLab, loaded (the launcher or a restored layout)."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url)
    context.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    page = context.new_page()
    page.goto(lab.lab_url())
    page.locator("#jp-main-dock-panel").wait_for()
    # The side panel's tab: the plugins have activated (keys pressed earlier are lost).
    page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="sm-magics-panel"]').wait_for()
    yield page
    context.close()


@pytest.fixture
def session(sm_home: Path) -> Iterator[Any]:
    """A Session on the lab's home; endpoints it still has are deleted afterwards."""
    yield from helpers.session_deleting_endpoints()
