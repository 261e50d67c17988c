"""A local endpoint's variants and their worker processes, as the router keeps them.

:class:`Variant` holds a production variant's model, workers and traffic statistics;
:class:`Worker` one worker process and the router's framed channel to it. :func:`spawn`
starts a worker (in namespaces of its own where :mod:`.worker_launch` allows it) and waits
until it has loaded the model; :func:`prepare_model` extracts a variant's model once and
finds its inference script and serving defaults. The router (:mod:`.router`) decides
when: start, respawn, retire.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import socket
import sys
import tarfile
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sm_magics.backends.local import inference, logstore, serving_defaults
from sm_magics.backends.local.pool import Channel, IdlePool, WorkerDied
from sm_magics.backends.local.worker_launch import WorkerLauncher
from sm_magics.errors import InvalidRequest
from sm_magics.packaging import UnsafeArchive, safe_extract

#: SageMaker gives a model 10 minutes to load.
STARTUP_TIMEOUT = float(os.environ.get("SM_MAGICS_STARTUP_TIMEOUT", "600"))
#: More crashes than this within CRASH_WINDOW seconds and the endpoint goes Failed.
MAX_CRASHES = 5
CRASH_WINDOW = 60.0


@dataclass
class Worker:
    """One worker process and the router's channel to it."""

    variant: str
    index: int
    process: asyncio.subprocess.Process
    channel: Channel
    retired: bool = False
    #: Requests it answered: a worker that dies after serving is not crash-looping.
    served: int = 0
    #: The router killed it (it missed a deadline): replaced, never counted as a crash.
    killed: bool = False

    def close(self) -> None:
        """Close the channel (the worker exits at EOF) and make sure the process ends."""
        self.retired = True
        self.channel.close()
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()

    def kill(self) -> None:
        """Kill a stuck worker (SIGKILL also ends a stopped one); its watcher replaces it."""
        self.killed = True
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()


@dataclass
class Variant:
    """A production variant: its model, its workers and its traffic statistics."""

    name: str
    spec: dict[str, Any]
    weight: float
    workers: list[Worker] = field(default_factory=list)
    pool: IdlePool[Worker] = field(default_factory=IdlePool)
    invocations: int = 0
    errors: int = 0
    #: Requests routed here and not answered yet, waiting for a worker or in flight.
    pending: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=2000))
    crashes: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_CRASHES + 1))

    def summary(self) -> dict[str, Any]:
        """Return what ``DescribeEndpoint`` and the widget show of this variant."""
        ordered = sorted(self.latencies)

        def pct(q: float) -> float | None:
            return (
                round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else None
            )

        return {
            "VariantName": self.name,
            "CurrentWeight": self.weight,
            "CurrentInstanceCount": sum(1 for w in self.workers if not w.retired),
            "DesiredInstanceCount": int(self.spec.get("instance_count", 1)),
            "InstanceType": self.spec.get("instance_type"),
            "Invocations": self.invocations,
            "Errors": self.errors,
            "LatencyP50Ms": pct(0.5),
            "LatencyP99Ms": pct(0.99),
            "ModelData": self.spec.get("model_data"),
            "ServingDefaults": self.spec.get("framework"),
            "ServingDefaultsReason": self.spec.get("framework_reason"),
        }


class StartFailed(Exception):
    """A variant could not start; the message is the failure reason."""


def prepare_model(
    models: Path, variant: str, spec: dict[str, Any]
) -> tuple[Path, Path | None, str, str]:
    """Extract the variant's model.tar.gz, choose its serving defaults, find its script.

    The folder is named after the archive too: an update that gives a variant another
    model must not find the previous model's folder and serve that.
    """
    archive = Path(spec["model_path"])
    try:
        info = archive.stat()
        key = hashlib.sha1(  # noqa: S324 - a folder name, not security
            f"{archive}:{info.st_size}:{info.st_mtime_ns}".encode()
        ).hexdigest()[:12]
        model_dir = models / f"{variant}-{key}"
        if not model_dir.exists():
            staging = model_dir.with_name(f".{model_dir.name}.extracting")
            shutil.rmtree(staging, ignore_errors=True)
            # A model_fn that builds or downloads its model packs an empty archive,
            # which extracts nothing: the folder must exist all the same.
            staging.mkdir(parents=True)
            safe_extract(archive, staging)
            staging.rename(model_dir)
    except (tarfile.TarError, OSError, EOFError, zlib.error, UnsafeArchive) as exc:
        # A StartFailed, so that create fails and update keeps the old config.
        raise StartFailed(f"Could not extract {archive}: {exc}") from None
    candidates = [Path(p) for p in spec.get("script_candidates", [])]
    candidates.append(model_dir / "code" / "inference.py")
    try:
        framework, why = serving_defaults.for_variant(spec, model_dir)
        required = framework not in serving_defaults.HAS_DEFAULT_MODEL_FN
        script = inference.find_entry_point(candidates, required=required)
    except (inference.LoadError, InvalidRequest) as exc:
        raise StartFailed(str(exc)) from None
    return model_dir, script, framework, why


async def spawn(
    variant: Variant,
    index: int,
    launcher: WorkerLauncher,
    logs: Path,
    background: Callable[[Any], None],
) -> Worker:
    """Start worker ``index`` of ``variant`` and wait until it has loaded the model.

    Raises
    ------
    StartFailed
        It died, timed out or could not load the model; no process is left behind.
    """
    model_dir = Path(variant.spec["model_dir"])
    script = Path(variant.spec["script"]) if variant.spec.get("script") else None
    cwd = script.parent if script is not None else model_dir
    seen_dir = launcher.model_dir(model_dir)
    parent, child = socket.socketpair()
    log = logstore.HostLog(logs, f"{variant.name}-{index}")
    notice = launcher.notice(script.parent if script is not None else None)
    if notice is not None:
        log.write(notice, "s")
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "SAGEMAKER_PROGRAM": script.name if script is not None else "",
        "SM_MODEL_DIR": str(seen_dir),
    }
    env.update(variant.spec.get("environment") or {})
    command = launcher.command(
        [
            variant.spec.get("python") or sys.executable,
            "-m",
            "sm_magics.backends.local.worker",
            "--fd",
            str(child.fileno()),
            *(["--script", str(script)] if script is not None else []),
            "--model-dir",
            str(seen_dir),
            "--framework",
            str(variant.spec.get("framework") or serving_defaults.SKLEARN),
        ],
        model_dir,
        cwd,
    )
    process = await asyncio.create_subprocess_exec(
        *command,
        pass_fds=[child.fileno()],
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        cwd=cwd,
    )
    child.close()
    assert process.stdout is not None
    background(_pump(process.stdout, log))
    loop = asyncio.get_running_loop()
    _, channel = await loop.create_unix_connection(Channel, sock=parent)
    try:
        hello, _ = await asyncio.wait_for(channel.next_frame(), STARTUP_TIMEOUT)
    except (WorkerDied, asyncio.TimeoutError) as exc:
        channel.close()
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        why = str(exc) if isinstance(exc, WorkerDied) else f"timed out ({STARTUP_TIMEOUT:g} s)"
        raise StartFailed(f"Worker {variant.name}-{index} did not start: {why}") from None
    if not hello.get("ready"):
        channel.close()
        # It exits by itself after saying so; wait for that (briefly), so a failed
        # start leaves no process behind when the update or create reports it.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), 5)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        raise StartFailed(str(hello.get("error") or "the worker could not load the model"))
    return Worker(variant.name, index, process, channel)


async def _pump(stream: asyncio.StreamReader, log: logstore.HostLog) -> None:
    # Chunks, not readline(): readline raises on a line over the reader's limit (64 KiB),
    # which would end the pump and leave the worker blocked on a full pipe.
    splitter = logstore.LineSplitter(log)
    while True:
        data = await stream.read(logstore.PIPE_CHUNK)
        if not data:
            splitter.close()
            log.close()
            return
        splitter.feed(data)
