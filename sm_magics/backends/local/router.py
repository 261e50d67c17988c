"""The process behind one local endpoint: HTTP on 127.0.0.1, worker pools, routing.

Started detached by the local backend (it survives the kernel), it:

* binds 127.0.0.1 on a free port at once and records the URL, then starts every
  variant's workers (``instance_count`` processes each, see :mod:`.worker`); status goes
  ``Creating`` → ``InService``, or ``Failed`` with the reason (``model_fn`` raised, ...);
* answers the SageMaker container routes ``GET /ping`` and ``POST /invocations`` and the
  SageMaker Runtime route ``POST /endpoints/<name>/invocations`` (see :mod:`.routes`), so
  an unchanged ``boto3.client("sagemaker-runtime", endpoint_url=url)`` reaches it;
* routes each request to a variant by weight, or to ``X-Amzn-SageMaker-Target-Variant``,
  then to an idle worker of that variant, all within one deadline (SageMaker's 60 s): a
  worker that does not answer (or stopped reading) in time is killed and replaced; if a
  worker dies mid-request the request is retried once on another;
* respawns dead workers. A worker that had served requests and then died was killed from
  outside (the OOM killer, a user's ``kill``) and is simply replaced, as SageMaker
  replaces an instance; only workers that die before serving anything count as a crash
  loop, which marks the endpoint ``Failed`` (more than 5 in a minute);
* on ``SIGHUP`` re-reads its config: new variants are started and ready *before* traffic
  moves, then weights switch in one step and retired variants drain (no failed request);
* on ``SIGTERM`` (delete) or when ``--ttl`` expires: stops taking requests, drains, stops
  its workers, and records ``Deleted``.

Run as ``python -m sm_magics.backends.local.router <endpoint-folder>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from sm_magics import limits
from sm_magics.backends.local.endpoint_dir import EndpointDir
from sm_magics.backends.local.httpwire import HttpServer
from sm_magics.backends.local.pool import WorkerDied
from sm_magics.backends.local.variants import (
    CRASH_WINDOW,
    MAX_CRASHES,
    StartFailed,
    Variant,
    Worker,
    prepare_model,
    spawn,
)
from sm_magics.backends.local.worker_launch import WorkerLauncher
from sm_magics.durations import format_duration
from sm_magics.ledger import Ledger

#: SageMaker's limit: a model must answer within 60 s (loading: variants.STARTUP_TIMEOUT).
INVOCATION_TIMEOUT = limits.invocation_timeout()
STATS_INTERVAL = 1.0


class Router:
    """State and behaviour of one endpoint process; see the module docstring."""

    def __init__(self, folder: EndpointDir) -> None:
        self.folder = folder
        self.state: dict[str, Any] = folder.read_state()
        self.config: dict[str, Any] = folder.read_config()
        self.name: str = self.config["name"]
        self.variants: dict[str, Variant] = {}
        self.ledger = Ledger()
        self.server: HttpServer | None = None
        self.done = asyncio.Event()
        self.in_flight = 0
        self._reconfigure_lock = asyncio.Lock()
        self._last_saved = ""
        #: Requests answered since the start; save() compares it with the count it last
        #: recorded, so marking "last invoked" costs a request one integer increment.
        self.answered = 0
        self._answered_recorded = 0
        #: Tasks started in the background: kept so they are not garbage-collected mid-run.
        self.tasks: set[asyncio.Future[Any]] = set()
        #: Whether workers run in namespaces (/opt/ml/model): probed once, by the first spawn
        #: (the workers of a variant start together; they all wait for the one probe).
        self.launcher: asyncio.Future[WorkerLauncher] | None = None

    # -- state ------------------------------------------------------------------------------

    def save(self, **changes: Any) -> None:
        """Write state.json (and the ledger's summary) if anything changed."""
        self.state.update(changes)
        if self.answered != self._answered_recorded:
            # At most once per save (housekeeping saves once a second), never per request:
            # the side panel only needs to know an endpoint is idle, not the millisecond.
            self._answered_recorded = self.answered
            self.state["last_invoked_at"] = time.time()
        self.state["variants"] = [v.summary() for v in self.variants.values()]
        snapshot = json.dumps(self.state, sort_keys=True, default=str)
        if snapshot == self._last_saved:
            return
        self._last_saved = snapshot
        self.state["updated"] = time.time()
        self.folder.write_state(self.state)
        try:
            self.ledger.update_endpoint(
                self.name,
                status=self.state["status"],
                url=self.state.get("url"),
                variants=self.state["variants"],
                failure_reason=self.state.get("failure_reason"),
                deleted_at=self.state.get("deleted"),
            )
        except Exception as exc:  # noqa: BLE001 - the endpoint must go on without the index
            print(f"ledger update failed: {exc}", file=sys.stderr, flush=True)

    def background(self, coroutine: Any) -> None:
        """Run ``coroutine`` as a task that lives until it ends."""
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- workers ----------------------------------------------------------------------------

    async def _spawn(self, variant: Variant, index: int) -> Worker:
        if self.launcher is None:
            self.launcher = asyncio.get_running_loop().run_in_executor(None, WorkerLauncher)
        launcher = await self.launcher
        worker = await spawn(variant, index, launcher, self.folder.logs, self.background)
        self.background(self._watch(variant, worker))
        return worker

    async def _watch(self, variant: Variant, worker: Worker) -> None:
        """Respawn a worker that died, unless it was retired on purpose."""
        await worker.process.wait()
        if worker.retired or self.done.is_set():
            return
        worker.retired = True
        worker.channel.close()
        # Only a worker that never served counts toward a crash loop: one that served and
        # died was killed from outside (OOM killer, kill) or by us for missing a deadline.
        crashed = worker.served == 0 and not worker.killed
        if crashed:
            variant.crashes.append(time.monotonic())
        why = (
            ""
            if crashed
            else " (killed after missing its deadline)"
            if worker.killed
            else f" (it had served {worker.served} requests: not a crash loop)"
        )
        print(
            f"worker {variant.name}-{worker.index} exited ({worker.process.returncode}); "
            f"restarting{why}",
            file=sys.stderr,
            flush=True,
        )
        recent = [t for t in variant.crashes if time.monotonic() - t < CRASH_WINDOW]
        if len(recent) > MAX_CRASHES:
            await self.fail(
                f"Variant {variant.name}: workers crashed {len(recent)} times "
                f"within {CRASH_WINDOW:.0f} s; see its logs."
            )
            return
        while True:
            try:
                replacement = await self._spawn(variant, worker.index)
                break
            except StartFailed as exc:
                # A replacement that dies while starting is a crash like any other: try
                # again until the crash-loop limit, rather than fail the endpoint at once.
                variant.crashes.append(time.monotonic())
                recent = [t for t in variant.crashes if time.monotonic() - t < CRASH_WINDOW]
                if len(recent) > MAX_CRASHES or self.done.is_set():
                    await self.fail(f"Variant {variant.name}: a worker could not restart: {exc}")
                    return
                print(
                    f"worker {variant.name}-{worker.index} could not restart ({exc}); trying again",
                    file=sys.stderr,
                    flush=True,
                )
                await asyncio.sleep(0.5)
        variant.workers = [w for w in variant.workers if w is not worker] + [replacement]
        variant.pool.put(replacement)
        self.save()

    async def _start_variant(self, spec: dict[str, Any]) -> Variant:
        loop = asyncio.get_running_loop()
        model_dir, script, framework, why = await loop.run_in_executor(
            None, prepare_model, self.folder.models, spec["name"], spec
        )
        spec = {
            **spec,
            "model_dir": str(model_dir),
            "script": str(script) if script is not None else None,
            "framework": framework,
            "framework_reason": why,
        }
        variant = Variant(spec["name"], spec, float(spec.get("weight", 1.0)))
        count = max(1, int(spec.get("instance_count", 1)))
        results = await asyncio.gather(
            *(self._spawn(variant, i) for i in range(1, count + 1)), return_exceptions=True
        )
        workers = [r for r in results if isinstance(r, Worker)]
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            for worker in workers:
                worker.close()
            error = errors[0]
            raise error if isinstance(error, StartFailed) else StartFailed(repr(error))
        variant.workers = workers
        for worker in workers:
            variant.pool.put(worker)
        return variant

    def _retire(self, variant: Variant, reason: str = "the variant was removed") -> None:
        variant.pool.break_all(reason)
        for worker in variant.workers:
            worker.close()

    async def _drain(self, variant: Variant, timeout: float = INVOCATION_TIMEOUT) -> None:
        """Wait until no request routed to a variant is left (waiting or in flight).

        Counting idle workers is not enough: a worker handed back to a request queued for
        it is in the queue until that request's task runs, and retiring it then would leave
        the queued requests waiting for a worker that never comes.
        """
        deadline = time.monotonic() + timeout
        while variant.pending:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind, start every variant, go InService (or Failed)."""
        from sm_magics.backends.local.routes import RouterApp

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", int(self.config.get("port") or 0)))
        sock.listen(1024)
        sock.setblocking(False)
        port = sock.getsockname()[1]
        self.server = HttpServer(RouterApp(self, port))
        await self.server.start(sock)
        self.save(
            status="Creating", url=f"http://127.0.0.1:{port}", port=port, router_pid=os.getpid()
        )
        try:
            for spec in self.config["variants"]:
                variant = await self._start_variant(spec)
                self.variants[variant.name] = variant
                self.save()
        except StartFailed as exc:
            await self.fail(str(exc))
            return
        self.save(
            status="InService", failure_reason=None, config_version=self.config.get("version", 0)
        )

    async def fail(self, reason: str) -> None:
        """Mark the endpoint Failed with ``reason``, stop its workers and end."""
        print(f"endpoint failed: {reason}", file=sys.stderr, flush=True)
        for variant in self.variants.values():
            self._retire(variant, f"Endpoint {self.name} failed: {reason}")
        self.save(status="Failed", failure_reason=reason)
        self.done.set()

    async def reconfigure(self) -> None:
        """Apply a changed config without dropping a request (see the module docstring)."""
        async with self._reconfigure_lock:
            if self.state.get("status") not in ("InService", "Updating"):
                return
            config = self.folder.read_config()
            wanted = {spec["name"]: spec for spec in config["variants"]}
            self.save(status="Updating")
            started: list[Variant] = []
            try:
                for name, spec in wanted.items():
                    current = self.variants.get(name)
                    if current is None or spec.get("model_path") != current.spec.get("model_path"):
                        started.append(await self._start_variant(spec))
            except StartFailed as exc:
                for variant in started:
                    self._retire(variant)
                # As SageMaker: a failed update leaves the endpoint serving the old config,
                # and describing it shows that config, not the one that failed.
                # It keeps the failed one's version, so that describe says Updating for the
                # next update until that one is applied (its version is then higher).
                if self.folder.read_config() == config:
                    self.folder.write_config({**self.config, "version": config.get("version", 0)})
                self.save(
                    status="InService",
                    last_update_error=str(exc),
                    config_version=config.get("version", 0),
                )
                return
            replaced = [self.variants[v.name] for v in started if v.name in self.variants]
            removed = [v for n, v in self.variants.items() if n not in wanted]
            table = {n: v for n, v in self.variants.items() if n in wanted}
            table.update({v.name: v for v in started})
            for name, variant in table.items():
                variant.weight = float(wanted[name].get("weight", variant.weight))
                variant.spec["weight"] = variant.weight
            self.variants = table  # one assignment: requests see the old or the new table
            self.config = config
            self.save()
            for variant in replaced + removed:
                await self._drain(variant)
                self._retire(variant)
            self.save(
                status="InService", last_update_error=None, config_version=config.get("version", 0)
            )

    async def shutdown(self, reason: str = "Deleted", *, expired: bool = False) -> None:
        """Stop taking requests, finish those in flight, stop workers, record Deleted.

        When the TTL ``expired``, nobody asked for the deletion, so the reason also goes
        to ``failure_reason``, the ledger column that says why an endpoint ended: the row
        then tells a user who comes back later why the endpoint is gone.
        """
        if self.done.is_set():
            return
        self.save(status="Deleting")
        if self.server is not None:
            self.server.stop()
        deadline = time.monotonic() + 30
        while self.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for variant in self.variants.values():
            self._retire(variant, f"Endpoint {self.name} is being deleted.")
        why = {"failure_reason": reason} if expired else {}
        self.save(status="Deleted", deleted=time.time(), deleted_reason=reason, **why)
        self.done.set()

    async def housekeeping(self) -> None:
        """Write statistics about once a second; delete the endpoint when its TTL passes."""
        ttl_at = self.config.get("ttl_at")
        while not self.done.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.done.wait(), STATS_INTERVAL)
            if self.done.is_set():
                return
            self.save()
            if ttl_at and time.time() >= ttl_at:
                await self.shutdown(reason=self._ttl_reason(ttl_at), expired=True)

    def _ttl_reason(self, ttl_at: float) -> str:
        """Return ``"TTL expired (5s)"``: the TTL as given (config ``ttl``), else as lived."""
        ttl = self.config.get("ttl") or round(ttl_at - float(self.state.get("created") or ttl_at))
        return f"TTL expired ({format_duration(ttl)})"

    # -- requests ---------------------------------------------------------------------------

    def choose(self, target: str | None) -> Variant:
        """Pick the variant of one request: the target, else by weight."""
        if target:
            variant = self.variants.get(target)
            if variant is None:
                raise LookupError(
                    f"Target variant {target!r} not found; variants: {', '.join(self.variants)}"
                )
            return variant
        variants = [v for v in self.variants.values() if v.weight > 0]
        if not variants:
            raise LookupError("No variant of this endpoint has a weight above 0.")
        if len(variants) == 1:
            return variants[0]
        return random.choices(variants, weights=[v.weight for v in variants])[0]  # noqa: S311

    async def invoke(
        self, variant: Variant, body: bytes, content_type: str, accept: str
    ) -> tuple[dict[str, Any], bytes]:
        """Run one request on an idle worker of ``variant``; retry once if it dies.

        The caller bounds the whole call with the request's one deadline: when it passes,
        the task is cancelled here, and a worker still holding the request is killed (it
        is stuck, or stopped reading) so that its watcher starts a fresh one.
        """
        started = time.perf_counter()
        self.in_flight += 1
        variant.pending += 1
        header = {"content_type": content_type, "accept": accept}
        deaths = 0
        try:
            while True:
                worker: Worker = await variant.pool.get()
                if worker.retired:
                    continue
                try:
                    reply, payload = await worker.channel.call(header, body)
                except WorkerDied:
                    deaths += 1
                    if deaths == 2:
                        raise
                    continue  # the watcher respawns it; try another worker
                except asyncio.CancelledError:
                    worker.kill()
                    raise
                worker.served += 1
                variant.pool.put(worker)
                variant.invocations += 1
                self.answered += 1
                if reply.get("status", 500) >= 400:
                    variant.errors += 1
                variant.latencies.append((time.perf_counter() - started) * 1000)
                return reply, payload
        finally:
            self.in_flight -= 1
            variant.pending -= 1


async def run(folder: EndpointDir) -> None:
    """Run the endpoint until it is deleted, expires or fails."""
    router = Router(folder)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: router.background(router.shutdown()))
    loop.add_signal_handler(signal.SIGHUP, lambda: router.background(router.reconfigure()))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    await router.start()
    housekeeping = asyncio.ensure_future(router.housekeeping())
    await router.done.wait()
    housekeeping.cancel()
    # Answer the requests still in flight (a failed endpoint answers them at once) before
    # the process ends, so no client is left with a reset connection.
    deadline = time.monotonic() + 5
    while router.in_flight and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    if router.server is not None:
        router.server.stop()
    router.save()


def _event_loop_runner() -> Any:
    """Return ``asyncio.run``, or ``uvloop.run`` when ``SM_MAGICS_UVLOOP=1`` and it is installed.

    Opt-in: on the 2-core development machine uvloop made no measurable difference to the
    router's CPU per request once HTTP parsing moved to httptools (see docs/benchmarks.md),
    so the standard loop stays the default and uvloop no dependency.
    """
    if os.environ.get("SM_MAGICS_UVLOOP") == "1":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run
    return asyncio.run


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m sm_magics.backends.local.router <endpoint-folder>``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sm_magics.backends.local.router ENDPOINT_FOLDER", file=sys.stderr)
        return 2
    folder = EndpointDir(Path(args[0]))
    try:
        _event_loop_runner()(run(folder))
    except Exception:  # noqa: BLE001 - whatever broke, the endpoint must not stay Creating
        detail = traceback.format_exc()
        print(detail, file=sys.stderr, flush=True)
        state = folder.read_state()
        if state.get("status") not in ("Deleted", "Failed"):
            state.update(
                status="Failed", failure_reason=f"InternalServerError: {detail.splitlines()[-1]}"
            )
            folder.write_state(state)
            with contextlib.suppress(Exception):
                Ledger().update_endpoint(
                    folder.name, status="Failed", failure_reason=state["failure_reason"]
                )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
