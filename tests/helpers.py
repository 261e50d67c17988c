"""Shared helpers for the tests: waiting on jobs, building specs, reading artifacts.

Waits poll with a generous timeout that only exists so a broken job cannot hang the suite;
no test asserts how long anything took.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import signal
import tarfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sm_magics.api import Session
from sm_magics.backends.local.jobdir import JobDir
from sm_magics.backends.results import LogEvent
from sm_magics.backends.specs import TrainingSpec
from sm_magics.backends.statuses import TERMINAL_STATUSES
from sm_magics.errors import SmMagicsError

#: Every home folder handed out during the session, so the session can clean up after
#: tests that failed with jobs still running.
HOMES: list[Path] = []

#: The default training script: tiny, fast, and leaves one file in the model folder.
TINY_SCRIPT = """\
import os
from pathlib import Path

print("hello from", os.environ["SM_CURRENT_HOST"])
Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text("trained")
"""


def new_home(factory: Any) -> Path:
    """Return a fresh home folder from a ``TempPathFactory``, cleaned up at session end."""
    home: Path = factory.mktemp("sm_home")
    HOMES.append(home)
    return home


def unique_name(prefix: str = "t") -> str:
    """Return a job name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_spec(**overrides: Any) -> TrainingSpec:
    """Return a ``TrainingSpec`` for a tiny cell script, with ``overrides`` applied."""
    values: dict[str, Any] = {
        "name": unique_name(),
        "entry_point": "train.py",
        "script": TINY_SCRIPT,
    }
    values.update(overrides)
    return TrainingSpec(**values)


def wait_until(
    predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll ``predicate`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def _job_debug(name: str) -> str:
    job = JobDir.for_job(name)
    parts = []
    for path in (job.state_file, job.supervisor_log, *sorted(job.logs.glob("*.log"))):
        if path.is_file():
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
    return "\n".join(parts)


def wait_until_terminal(backend: Any, name: str, timeout: float = 60) -> dict[str, Any]:
    """Poll ``describe_training_job`` until the job has ended; return the description."""
    deadline = time.monotonic() + timeout
    while True:
        description: dict[str, Any] = backend.describe_training_job(name)
        if description["TrainingJobStatus"] in TERMINAL_STATUSES:
            return description
        if time.monotonic() > deadline:
            raise AssertionError(
                f"job {name} still {description['TrainingJobStatus']}/"
                f"{description['SecondaryStatus']} after {timeout}s\n{_job_debug(name)}"
            )
        time.sleep(0.05)


def wait_for_secondary(backend: Any, name: str, secondary: str, timeout: float = 60) -> None:
    """Wait until the job's secondary status is ``secondary``."""
    wait_until(
        lambda: backend.describe_training_job(name)["SecondaryStatus"] == secondary,
        timeout,
        what=f"{name} to reach {secondary}",
    )


def read_all_logs(backend: Any, name: str) -> list[LogEvent]:
    """Return every log event of a job, reading batches until none is left."""
    events: list[LogEvent] = []
    cursor = None
    while True:
        batch = backend.read_training_logs(name, cursor)
        cursor = batch.cursor
        if not batch.events:
            return events
        events += batch.events


def log_messages(backend: Any, name: str) -> list[str]:
    """Return the messages of every log event of a job."""
    return [event.message for event in read_all_logs(backend, name)]


def wait_for_log(backend: Any, name: str, text: str, timeout: float = 60) -> None:
    """Wait until a log line of the job contains ``text``."""
    wait_until(
        lambda: any(text in m for m in log_messages(backend, name)),
        timeout,
        what=f"{text!r} in the logs of {name}",
    )


def job_state(name: str) -> dict[str, Any]:
    """Return the job's ``state.json`` as the supervisor wrote it."""
    return JobDir.for_job(name).read_state()


def path_from_uri(uri: str) -> Path:
    """Return the local path of a ``file://`` URI."""
    parsed = urlparse(uri)
    assert parsed.scheme == "file", uri
    return Path(unquote(parsed.path))


def tar_members(archive: Path) -> dict[str, bytes]:
    """Return ``{member name: content}`` of the regular files of a ``.tar.gz``."""
    with tarfile.open(archive, "r:gz") as tar:
        result = {}
        for member in tar.getmembers():
            if member.isfile():
                handle = tar.extractfile(member)
                assert handle is not None
                result[member.name] = handle.read()
        return result


def reap_group(pgid: int) -> None:
    """Reap zombies of group ``pgid`` that are our children (orphans we adopted)."""
    while True:
        try:
            pid, _ = os.waitpid(-pgid, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def group_gone(pgid: int) -> bool:
    """Whether process group ``pgid`` no longer exists (``killpg`` says so)."""
    reap_group(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_group_gone(pgid: int, timeout: float = 30) -> None:
    """Wait until ``os.killpg(pgid, 0)`` raises ``ProcessLookupError``."""
    wait_until(lambda: group_gone(pgid), timeout, what=f"process group {pgid} to vanish")


def pid_with_argument(argument: str) -> int | None:
    """Return the machine's pid of a running process with ``argument`` in its command line.

    Tests find a job's processes this way: a pid the script prints is its PID namespace's
    where hosts run in one.
    """
    import psutil

    for process in psutil.process_iter(["cmdline"]):
        if argument in (process.info["cmdline"] or []) and process_running(process.pid):
            return process.pid
    return None


def process_running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    import psutil

    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return False


def catches_signal(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has installed a handler for ``signum`` (``SigCgt``)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    except OSError:
        pass
    return False


def kill_leftovers(home: Path) -> None:
    """SIGKILL supervisors and host groups of jobs under ``home`` that did not end."""
    from sm_magics.backends.local import processes

    for state_file in sorted((home / "jobs").glob("*/state.json")):
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            continue
        pid = state.get("supervisor_pid")
        if pid and processes.is_alive(pid, state.get("supervisor_start")):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # the supervisor leads its own session
        if state.get("status") not in TERMINAL_STATUSES:
            for pgid in state.get("host_pgids") or []:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
                reap_group(pgid)


def build_wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """Write a minimal pure-Python wheel by hand and return its path.

    ``files`` maps paths inside the wheel (``tinypkg/__init__.py``) to their text.
    """
    dist_info = f"{name}-{version}.dist-info"
    contents = dict(files)
    contents[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test wheel\n"
    )
    contents[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: sm-magics-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record_lines = []
    for path, text in contents.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record_lines.append(f"{path},sha256={digest},{len(data)}")
    record_lines.append(f"{dist_info}/RECORD,,")
    contents[f"{dist_info}/RECORD"] = "\n".join(record_lines) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
    wheel.write_bytes(buffer.getvalue())
    return wheel


def ledger_worker(path: str, worker: int, count: int, barrier: Any) -> None:
    """One writer process of the ledger concurrency test (importable for ``spawn``).

    All workers pass ``barrier`` together, then open the (maybe not yet existing) file and
    write: they race on creating the schema as well as on every row.
    """
    from sm_magics.ledger import Ledger
    from sm_magics.ledger_records import JobRecord

    ledger = Ledger(Path(path))
    barrier.wait(60)
    own = f"worker-{worker}"
    ledger.insert_job(JobRecord(name=own, backend="local", status="InProgress", created_at=0.0))
    for index in range(count):
        ledger.insert_job(
            JobRecord(
                name=f"w{worker}-{index}",
                backend="local",
                status="InProgress",
                created_at=time.time(),
                tags={"worker": str(worker), "index": str(index)},
            )
        )
        ledger.update_job(f"w{worker}-{index}", status="Completed", ended_at=time.time())
        ledger.update_job(own, model_data=f"v{index}", secondary_status=f"step-{index}")
    ledger.close()


def ledger_opener(folder: str, worker: int, rounds: int, barrier: Any) -> None:
    """Open a brand-new ledger file together with the other workers, ``rounds`` times."""
    from sm_magics.ledger import Ledger
    from sm_magics.ledger_records import JobRecord

    try:
        for index in range(rounds):
            ledger = Ledger(Path(folder) / f"ledger-{index}.sqlite")
            barrier.wait(60)
            ledger.insert_job(
                JobRecord(name=f"w{worker}", backend="local", status="InProgress", created_at=0.0)
            )
            ledger.close()
    except BaseException:
        barrier.abort()  # release the others at once instead of after the timeout
        raise


def stop_followers() -> None:
    """End the background log followers tests started (they print into stdout)."""
    from sm_magics.logs import LogFollower

    followers = [t for t in threading.enumerate() if isinstance(t, LogFollower)]
    for follower in followers:
        follower.stop()
    for follower in followers:
        follower.join(30)


#: Handlers for the models these tests save with joblib; the toolkit's defaults do the rest.
MODEL_FN = """\
import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""


def logistic_model_tar(folder: Path) -> str:
    """Write a ``model.tar.gz`` holding a LogisticRegression ([0, 0] is 0, [3, 3] is 1).

    Returns its ``file://`` URI. The model file is ``model.joblib``.
    """
    import joblib
    from sklearn.linear_model import LogisticRegression

    from sm_magics.packaging import write_tar_gz

    model = LogisticRegression().fit(
        [[0, 0], [0, 1], [1, 0], [1, 1], [2, 2], [3, 3]], [0, 0, 0, 1, 1, 1]
    )
    (folder / "model").mkdir()
    joblib.dump(model, folder / "model" / "model.joblib")
    write_tar_gz(folder / "model", folder / "model.tar.gz")
    return (folder / "model.tar.gz").as_uri()


def session_deleting_endpoints() -> Iterator[Session]:
    """Yield a Session; every endpoint it still has is deleted afterwards (fixture body)."""
    session = Session()
    yield session
    for record in session.ledger.list_endpoints():
        with contextlib.suppress(SmMagicsError):
            session.endpoint(record.name).delete()
    session.ledger.close()
