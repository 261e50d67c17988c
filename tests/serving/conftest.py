"""Fixtures of the serving tests: a tiny model, handler scripts, endpoints that always go.

Every endpoint a test deploys through :class:`Endpoints` is deleted when the test ends,
and any router or worker process still running under the test's home is killed after
that, so a failing test leaves nothing behind. Waits poll with generous timeouts that
only exist so a broken endpoint cannot hang the suite; no test asserts a duration.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from helpers import MODEL_FN, reap_group

from sm_magics.backends.specs import EndpointSpec, VariantSpec

#: One iris row, as JSON the default input_fn reads, and the class the model predicts.
ROW = [5.1, 3.5, 1.4, 0.2]
ROW_JSON = json.dumps([ROW]).encode()
ROW_CLASS = 0

#: How long any wait for an endpoint may take before the test fails (never asserted on).
WAIT = 120.0


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.05)


# -- the model ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a ``model.tar.gz`` holding a LogisticRegression fitted on iris."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from sm_magics.packaging import write_tar_gz

    folder = tmp_path_factory.mktemp("iris")
    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(features, labels)
    assert model.predict([ROW])[0] == ROW_CLASS
    (folder / "model").mkdir()
    joblib.dump(model, folder / "model" / "model.joblib")
    archive = folder / "model.tar.gz"
    write_tar_gz(folder / "model", archive)
    return archive


# -- processes ----------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Return the fields of ``/proc/<pid>/stat`` after the command name (state first)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()


def running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in {"Z", "X"}


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _live_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def worker_pids(router_pid: int) -> set[int]:
    """Return the live worker processes whose parent is ``router_pid``."""
    found = set()
    for pid in _live_pids():
        fields = _stat_fields(pid)
        if fields is None or fields[0] in {"Z", "X"} or fields[1] != str(router_pid):
            continue
        if "sm_magics.backends.local.worker" in _cmdline(pid):
            found.add(pid)
    return found


def group_pids(pgid: int) -> set[int]:
    """Return the live (not zombie) processes of process group ``pgid``."""
    found = set()
    for pid in _live_pids():
        fields = _stat_fields(pid)
        if fields is not None and fields[0] not in {"Z", "X"} and fields[2] == str(pgid):
            found.add(pid)
    return found


def kill_endpoint_processes(home: Path) -> None:
    """SIGKILL every router and worker of every endpoint ever started under ``home``."""
    for pid_file in [
        *home.glob("endpoints/*/router.pid"),
        *home.glob("endpoints/.deleted/*/router.pid"),
    ]:
        with contextlib.suppress(OSError, ValueError):
            pgid = int(pid_file.read_text().split()[0])
            for pid in group_pids(pgid):
                if "sm_magics.backends.local" in _cmdline(pid):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
            reap_group(pgid)


@pytest.fixture(autouse=True)
def _no_endpoint_left_running(sm_home: Path) -> Iterator[None]:
    yield
    kill_endpoint_processes(sm_home)


# -- HTTP ---------------------------------------------------------------------------------


@dataclass
class Reply:
    """One HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the body decoded as JSON."""
        return json.loads(self.body)


def address(url: str) -> tuple[str, int]:
    """Return ``(host, port)`` of an endpoint URL."""
    parsed = urlparse(url)
    assert parsed.hostname == "127.0.0.1", url
    assert parsed.port is not None
    return parsed.hostname, parsed.port


def request(
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> Reply:
    """Send one request on a fresh connection and return the reply."""
    host, port = address(url)
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        connection.close()


def invoke(url: str, body: bytes = ROW_JSON, **headers: str) -> Reply:
    """POST ``/invocations`` (the container route); header names use ``_`` for ``-``."""
    sent = {"Content-Type": "application/json"}
    sent.update({k.replace("_", "-"): v for k, v in headers.items()})
    return request(url, "POST", "/invocations", body, sent)


def port_closed(url: str) -> bool:
    """Whether connecting to the endpoint's port is refused."""
    try:
        with socket.create_connection(address(url), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def runtime_client(url: str) -> Any:
    """Return the client production code would make, pointed at ``url``."""
    import boto3

    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


@dataclass
class Result:
    """One request of a :class:`Load`."""

    ok: bool
    status: int | None
    variant: str | None
    error: str | None
    started: float
    ended: float


class Load:
    """A few threads posting continuously on keep-alive connections, bounded in time and count.

    Use as a context manager; ``stop()`` (or leaving the block) ends it. Every request has a
    socket timeout, so a request that hangs ends as a failure with ``error`` ``timeout``.
    """

    def __init__(
        self,
        url: str,
        *,
        threads: int = 4,
        body: bytes = ROW_JSON,
        headers: dict[str, str] | None = None,
        max_requests: int = 20_000,
        max_seconds: float = 90,
        timeout: float = 30,
    ) -> None:
        self.address = address(url)
        self.body = body
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.max_requests = max_requests
        self.deadline = time.monotonic() + max_seconds
        self.timeout = timeout
        self.results: list[Result] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[Result]:
        """Stop the threads and return every result."""
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 10)
            assert not thread.is_alive(), "a load thread hung"
        return self.results

    def count(self) -> int:
        """How many requests have ended so far."""
        with self._lock:
            return len(self.results)

    def wait_count(self, extra: int, timeout: float = WAIT) -> None:
        """Wait until ``extra`` more requests have ended than when this was called."""
        target = self.count() + extra
        wait_until(lambda: self.count() >= target, timeout, f"{extra} more requests")

    def failures(self) -> list[Result]:
        """Return the requests that failed so far."""
        with self._lock:
            return [r for r in self.results if not r.ok]

    def _done(self) -> bool:
        return (
            self._stop.is_set()
            or time.monotonic() > self.deadline
            or self.count() >= self.max_requests
        )

    def _run(self) -> None:
        connection: http.client.HTTPConnection | None = None
        while not self._done():
            if connection is None:
                connection = http.client.HTTPConnection(*self.address, timeout=self.timeout)
            started = time.monotonic()
            try:
                connection.request("POST", "/invocations", body=self.body, headers=self.headers)
                response = connection.getresponse()
                data = response.read()
                variant = response.getheader("X-Amzn-Invoked-Production-Variant")
                ok = response.status == 200
                error = None if ok else data.decode(errors="replace")[:300]
                result = Result(ok, response.status, variant, error, started, time.monotonic())
                if response.will_close:
                    connection.close()
                    connection = None
            except TimeoutError:
                result = Result(False, None, None, "timeout", started, time.monotonic())
                connection.close()
                connection = None
            except (OSError, http.client.HTTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"
                result = Result(False, None, None, error, started, time.monotonic())
                connection.close()
                connection = None
            with self._lock:
                self.results.append(result)
        if connection is not None:
            connection.close()


# -- endpoints ----------------------------------------------------------------------------


class Endpoints:
    """Deploys endpoints for one test and deletes every one of them afterwards."""

    def __init__(self, backend: Any, folder: Path, model: Path) -> None:
        self.backend = backend
        self.folder = folder
        self.model = model
        self.names: list[str] = []

    # -- building blocks

    def script(self, text: str = MODEL_FN, name: str = "inference.py") -> Path:
        """Write a handler script into a folder of its own and return its path."""
        folder = self.folder / f"code-{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        path = folder / name
        path.write_text(text)
        return path

    def variant(
        self,
        name: str = "AllTraffic",
        *,
        script: Path | None = None,
        count: int = 1,
        weight: float = 1.0,
        model: Path | None = None,
    ) -> VariantSpec:
        """Return a variant serving the iris model (or ``model``) with ``script``."""
        return VariantSpec(
            name=name,
            model_data=str(model or self.model),
            entry_point=script or self.script(),
            instance_count=count,
            weight=weight,
        )

    # -- lifecycle

    def deploy(
        self,
        *variants: VariantSpec,
        name: str | None = None,
        ttl: int | None = None,
        wait: bool = True,
    ) -> str:
        """Create an endpoint (one default variant if none is given); wait for InService."""
        name = name or f"ep-{uuid.uuid4().hex[:10]}"
        spec = EndpointSpec(name=name, variants=list(variants) or [self.variant()], ttl=ttl)
        self.backend.create_endpoint(spec)
        self.names.append(name)
        if wait:
            description = self.wait_status(name)
            assert description["EndpointStatus"] == "InService", self.debug(name)
        return name

    def describe(self, name: str) -> dict[str, Any]:
        """Return ``describe_endpoint``."""
        description: dict[str, Any] = self.backend.describe_endpoint(name)
        return description

    def wait_status(
        self, name: str, statuses: tuple[str, ...] = ("InService", "Failed")
    ) -> dict[str, Any]:
        """Wait until the endpoint's status is one of ``statuses``; return the description."""
        return self.wait(name, lambda d: d["EndpointStatus"] in statuses, f"status {statuses}")

    def wait(
        self, name: str, predicate: Callable[[dict[str, Any]], Any], what: str = ""
    ) -> dict[str, Any]:
        """Wait until ``predicate(describe_endpoint(name))``; return that description."""
        seen: list[dict[str, Any]] = []

        def check() -> dict[str, Any] | None:
            description = self.describe(name)
            seen[:] = [description]
            return description if predicate(description) else None

        try:
            result: dict[str, Any] = wait_until(check, WAIT, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nlast: {seen}\n{self.debug(name)}") from None
        return result

    def wait_updated(self, name: str) -> dict[str, Any]:
        """Wait until an update has been applied: InService, every variant as desired."""

        def applied(description: dict[str, Any]) -> bool:
            return description["EndpointStatus"] == "InService" and all(
                v["CurrentWeight"] == v["DesiredWeight"]
                and v["CurrentInstanceCount"] == v["DesiredInstanceCount"]
                for v in description["ProductionVariants"]
            )

        return self.wait(name, applied, "the update to be applied")

    def url(self, name: str) -> str:
        """Return the endpoint's base URL."""
        url: str = self.describe(name)["Url"]
        return url

    def router_pid(self, name: str) -> int:
        """Return the pid of the endpoint's router (it leads the endpoint's process group)."""
        folder = self.home / "endpoints" / name
        return int((folder / "router.pid").read_text().split()[0])

    def workers(self, name: str) -> set[int]:
        """Return the pids of the endpoint's live workers."""
        return worker_pids(self.router_pid(name))

    @property
    def home(self) -> Path:
        """The test's ``SM_MAGICS_HOME``."""
        from sm_magics import config

        return config.home_dir()

    def debug(self, name: str) -> str:
        """Return the endpoint's state and the tail of its logs, for assertion messages."""
        parts = []
        for folder in [
            self.home / "endpoints" / name,
            *sorted((self.home / "endpoints" / ".deleted").glob(f"{name}-*")),
        ]:
            for path in [
                folder / "state.json",
                folder / "router.log",
                *sorted((folder / "logs").glob("*.log")),
            ]:
                if path.is_file():
                    parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}")
        return "\n".join(parts)

    def close(self) -> None:
        """Delete every endpoint this test deployed that is still there."""
        from sm_magics.errors import NotFound

        for name in self.names:
            with contextlib.suppress(NotFound):
                self.backend.delete_endpoint(name)


@pytest.fixture
def endpoints(local_backend: Any, tmp_path: Path, iris_model: Path) -> Iterator[Endpoints]:
    """Deploy endpoints in the test; all of them are deleted when it ends."""
    manager = Endpoints(local_backend, tmp_path, iris_model)
    try:
        yield manager
    finally:
        manager.close()
