"""The detached process that runs one local job from start to end.

Started by :class:`~sm_magics.backends.local.engine.LocalBackend` in a new session, so it
outlives the kernel that launched it. It is the only writer of the job's ``state.json``
while it lives, and it mirrors each transition into the ledger. Its life::

    Starting     wait for a free slot (machine-wide limit on concurrent local jobs)
    Downloading  link the input channels into input/data/
    Training     build the --requirements venv if any, start algo-1..algo-N, capture
                 every line with a timestamp, enforce --max-run, honour stop (SIGTERM)
    Uploading    pack model/ into model.tar.gz and output/data into output.tar.gz
    Completed | Failed | Stopped

Run as ``python -m sm_magics.backends.local.supervisor <job-folder>``.

The phases are the same for every job kind that runs a user's script on N hosts; a kind
says only what differs, by overriding the hooks :attr:`Supervisor.label`,
:attr:`Supervisor.running_phase`, :meth:`Supervisor._prepare_inputs`,
:meth:`Supervisor._host_launch`, :meth:`Supervisor._script_args` and
:meth:`Supervisor._upload` (processing jobs: :mod:`.processor`).

The first line matters: a training job's hosts are usually started by :mod:`.starter`
from the launch the kernel computed, before this module is even imported; it hands them
over to :meth:`Supervisor.run`. Otherwise (a slot to wait for, a venv to build, another
job kind) the hosts still start before anything slow is imported (the ledger and sqlite3,
tar, metrics, venvs); the ledger learns of the early transitions right after the hosts
run. Every host carries the job's mark (``SM_MAGICS_JOB_ID``), dies with the supervisor
(``PR_SET_PDEATHSIG`` on Linux) and is swept with all it started by the job's watchdog if
the supervisor dies anyway. A full disk ends the job ``Failed`` with "No space
left on device": a small reserve file is given back to write that last state.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sm_magics import config
from sm_magics.backends import statuses as base  # constants only: no heavy imports
from sm_magics.backends.local import environment, logstore, namespaces, processes, slots
from sm_magics.backends.local.jobdir import JobDir, disk_full
from sm_magics.backends.local.outcome import Outcome, failure_reason, final_metrics
from sm_magics.backends.local.statefile import (
    DOWNLOADING_MESSAGE,
    TRAINING_MESSAGE,
    add_transition,
    overwrite_in_place,
)

if TYPE_CHECKING:  # imported once the hosts run: the first line comes first
    from sm_magics.backends.local.host_launch import Launcher
    from sm_magics.backends.local.starter import Early
    from sm_magics.ledger import Ledger

__all__ = ["Host", "Outcome", "Supervisor", "main"]

#: Seconds between SIGTERM and SIGKILL on stop (SageMaker gives 120; local users wait).
ENV_STOP_GRACE = "SM_MAGICS_STOP_GRACE"
DEFAULT_STOP_GRACE = 10.0
#: Bytes set aside at start, given back when the disk fills so the last state can be written.
RESERVE_BYTES = 256 * 1024


class Process(Protocol):
    """A host process: ``subprocess.Popen`` or :class:`~.starter.Child`."""

    pid: int

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


@dataclass
class Host:
    """One running host process and the log it writes to."""

    name: str
    process: Process
    log: logstore.HostLog
    readers: list[threading.Thread] = field(default_factory=list)
    #: A namespaces scratch folder to remove at the end (hosts the starter forked).
    scratch: str | None = None


class Supervisor:
    """Drives one job through its statuses; see the module docstring.

    Subclasses for other job kinds override the hooks below, never the phases.
    """

    #: The kind's word in status messages ("Training job completed").
    label = "Training"
    #: The secondary status while the script runs, and what the transition says.
    running_phase = base.TRAINING
    running_message = TRAINING_MESSAGE
    uploading_message = "Uploading generated training model"

    #: The training toolkit installs ``requirements.txt`` found at the root of the code.
    installs_bundled_requirements = True

    def __init__(self, job: JobDir) -> None:
        self.job = job
        self.spec: dict[str, Any] = job.read_spec()
        self.state: dict[str, Any] = job.read_state()
        self.hosts_names = environment.host_names(int(self.spec["instance_count"]))
        self._ledger: Ledger | None = None
        #: Ledger changes made before the hosts started, written once they run.
        self._pending: dict[str, Any] | None = {}
        self.stop_requested = threading.Event()
        self.hosts: list[Host] = []
        self._launcher: Launcher | None = None  # built with the first host
        self.grace = float(os.environ.get(ENV_STOP_GRACE, DEFAULT_STOP_GRACE))
        self.mark: str = self.state.get("job_mark") or os.urandom(12).hex()
        self.reserve = job.root / ".reserve"
        #: Set when a write met a full disk: the job ends Failed with this reason.
        self.disk_error: str | None = None
        self._watchdog: int | None = None

    # -- state ------------------------------------------------------------------------------

    def _write_state(self) -> None:
        """Replace state.json; on a full disk give back the reserve and try once more.

        If even that fails (something else took the space), the document is written over
        the old one in place (:func:`.statefile.overwrite_in_place`).
        """
        try:
            self.job.write_state(self.state)
            return
        except OSError as exc:
            if not disk_full(exc):
                raise
            self._note_disk_full(str(self.job.state_file))
        if self.reserve.exists():
            self.reserve.unlink()
            with contextlib.suppress(OSError):
                self.job.write_state(self.state)
                return
        overwrite_in_place(self.job.state_file, self.state)

    def _note_disk_full(self, where: str) -> None:
        if self.disk_error is None:
            self.disk_error = f"No space left on device (writing {where})"

    def _save(self, **ledger_changes: Any) -> None:
        # The job folder first: it is the truth; the ledger is re-synced from it by readers.
        self._write_state()
        if self._pending is not None:  # the hosts are not running yet: write it then
            self._pending.update(ledger_changes)
            return
        self._update_ledger(ledger_changes)

    def _update_ledger(self, changes: dict[str, Any]) -> None:
        try:
            if self._ledger is None:
                from sm_magics.ledger import Ledger

                self._ledger = Ledger()
            self._ledger.update_job(
                self.job.name,
                status=self.state["status"],
                secondary_status=self.state["secondary_status"],
                **changes,
            )
        except Exception as exc:  # noqa: BLE001 - the job must go on without the index
            if disk_full(exc):
                self._note_disk_full("the ledger")
            _say(f"ledger update failed: {exc}")

    def _flush_ledger(self) -> None:
        """Write the transitions held back while the hosts started."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._update_ledger(pending)

    def _transition(self, secondary: str, message: str, **ledger_changes: Any) -> None:
        add_transition(self.state, secondary, message)
        self._save(**ledger_changes)

    # -- phases -----------------------------------------------------------------------------

    def run(self, early: Early | None = None, stopped: list[bool] | None = None) -> int:
        """Run the job to its end; return the process exit code (0 unless we crashed).

        ``early``: the hosts :mod:`.starter` already started (with their slot); ``stopped``
        is not empty when a stop arrived before this object's signal handler was set.
        """
        signal.signal(signal.SIGTERM, lambda *_: self.stop_requested.set())
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if stopped:
            self.stop_requested.set()
        if early is not None:  # what the starter wrote, in case the kernel wrote over it
            self.state.update(early.recorded)
            self._watchdog = early.watchdog
        # Our own identity, the same the engine records: whichever write lands last, the
        # (pid, start time) pair stays in the state for dead-supervisor detection.
        self.state["supervisor_pid"] = os.getpid()
        self.state["supervisor_start"] = processes.start_time(os.getpid())
        self.state["job_mark"] = self.mark
        with contextlib.suppress(OSError), open(self.reserve, "wb") as handle:
            handle.write(b"\0" * RESERVE_BYTES)  # none on a disk already full: run anyway
        try:
            self._write_state()
            outcome = self._run_phases() if early is None else self._run_started(early)
        except Exception as exc:  # noqa: BLE001 - whatever broke, the job must end Failed
            import traceback

            detail = traceback.format_exc()
            _say(detail)
            self._kill_hosts(grace=0)
            if disk_full(exc):
                self._note_disk_full(getattr(exc, "filename", None) or "the job folder")
                reason = f"InternalServerError: {self.disk_error}"
            else:
                last = detail.splitlines()[-1]
                reason = f"InternalServerError: the local supervisor failed: {last}"
            outcome = Outcome(base.FAILED, base.FAILED, f"{self.label} job failed", reason)
        self._finish(outcome)
        self.reserve.unlink(missing_ok=True)
        return 0

    def _run_phases(self) -> Outcome:
        slot = slots.acquire(
            config.home_dir() / "slots", config.max_local_jobs(), self.stop_requested
        )
        if slot is None:
            return Outcome(
                base.STOPPED, base.STOPPED, f"{self.label} job stopped before it started"
            )
        self._transition(base.DOWNLOADING, DOWNLOADING_MESSAGE)
        self._prepare_inputs()
        self.state["training_start"] = time.time()
        self._transition(
            self.running_phase, self.running_message, started_at=self.state["training_start"]
        )
        if self.stop_requested.is_set():
            return Outcome(base.STOPPED, base.STOPPED, f"{self.label} job stopped")
        python = self._interpreter()
        if isinstance(python, Outcome):
            return python
        outcome = self._train(python)
        if outcome.status != base.FAILED:
            self._transition(base.UPLOADING, self.uploading_message)
            self._upload(outcome)
        return outcome

    def _run_started(self, early: Early) -> Outcome:
        """Go on from the hosts the starter forked and recorded (:func:`.starter.record`).

        ``early.slot``, the slot's lock, stays open (held) until this process ends.
        """
        assert self._pending is not None
        self._pending["started_at"] = self.state["training_start"]
        for name, child, log, reader in early.hosts:
            self.hosts.append(Host(name, child, log, [reader], child.scratch))
        outcome = self._train(None)
        if outcome.status != base.FAILED:
            self._transition(base.UPLOADING, self.uploading_message)
            self._upload(outcome)
        return outcome

    def _prepare_inputs(self) -> None:
        """Make the job's inputs visible to its hosts (``Downloading``)."""
        environment.link_channels(self.job, self.spec["resolved_inputs"])

    def _interpreter(self) -> str | Outcome:
        requirements = self.spec.get("requirements")
        bundled = self.job.code / "requirements.txt"
        if not requirements and self.installs_bundled_requirements and bundled.is_file():
            # The training toolkit installs requirements.txt at the root of the source dir
            # before the script runs; --requirements stays for a file elsewhere.
            requirements = str(bundled)
            self._say("Found requirements.txt in the source directory: installing it first")
        if not requirements:
            return str(self.spec.get("python") or sys.executable)
        from sm_magics.backends.local import venvs

        log = logstore.HostLog(self.job.logs, "algo-1", self.state["training_start"])
        try:
            return str(venvs.ensure_venv(Path(requirements), lambda line: log.write(line, "s")))
        except venvs.RequirementsError as exc:
            log.write(str(exc), "s")
            return Outcome(
                base.FAILED, base.FAILED, f"{self.label} job failed", f"ClientError: {exc}"
            )
        finally:
            log.close()

    def _script_args(self) -> list[str]:
        """Return the script's command-line arguments (training: the hyperparameters)."""
        return environment.cli_args(self.spec["hyperparameters"])

    def _host_launch(self, host: str, python: str) -> tuple[list[str], dict[str, str], Path]:
        """Lay out one host's files; return its ``(command, environment, working dir)``."""
        from sm_magics.backends.local.host_launch import Launcher

        environment.write_host_config(self.job, host, self.hosts_names, self.spec)
        env = environment.training_env(self.job, host, self.hosts_names, self.spec)
        if self._launcher is None:
            self._launcher = Launcher(self.job, self.spec, self.hosts_names, self._say)
        return self._launcher.launch(
            host, python, self.spec["entry_point"], self._script_args(), env
        )

    def _say(self, line: str) -> None:
        """Write one line of ours into ``algo-1``'s log."""
        log = logstore.HostLog(self.job.logs, "algo-1", self.state["training_start"])
        try:
            log.write(line, "s")
        finally:
            log.close()

    def _start_hosts(self, python: str) -> None:
        started = self.state["training_start"]
        mark = processes.mark_env(self.job.name, self.mark)
        preexec = processes.die_with_parent()
        for host in self.hosts_names:
            command, env, cwd = self._host_launch(host, python)
            env = {**env, **mark}
            log = logstore.HostLog(self.job.logs, host, started)
            if host == "algo-1":
                shown = " ".join(namespaces.unwrap(command))
                log.write(f"Invoking script with the following command: {shown}", "s")
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                # One pipe for both streams: lines keep the order the script wrote them in
                # (two pipes read by two threads would interleave them by chance).
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: stop signals reach its children too
                preexec_fn=preexec,  # dies with us (Linux); the watchdog covers the rest
            )
            entry = Host(host, process, log)
            assert process.stdout is not None
            reader = threading.Thread(target=logstore.pump, args=(process.stdout, log), daemon=True)
            reader.start()
            entry.readers.append(reader)
            self.hosts.append(entry)
        self.state["host_pgids"] = [h.process.pid for h in self.hosts]
        self._write_state()

    def _start_watchdog(self) -> None:
        """Start the process that sweeps the job's processes if we die (see watchdog)."""
        if self._watchdog is not None:  # the starter did
            return
        from sm_magics.backends.local import watchdog

        try:
            self._watchdog = watchdog.start(self.mark)
        except OSError as exc:
            _say(f"watchdog not started: {exc}")

    def _train(self, python: str | None) -> Outcome:
        if python is not None:  # None: the starter started them
            self._start_hosts(python)
        self._flush_ledger()
        self._start_watchdog()
        max_run = self.spec.get("max_run")
        deadline = self.state["training_start"] + max_run if max_run else None
        outcome: Outcome | None = None
        failed_host: tuple[Host, int] | None = None
        while outcome is None:
            codes = [h.process.poll() for h in self.hosts]
            failed = [(h, c) for h, c in zip(self.hosts, codes, strict=True) if c not in (None, 0)]
            if failed:
                failed_host = (failed[0][0], failed[0][1] or 0)
                outcome = Outcome(base.FAILED, base.FAILED, f"{self.label} job failed")
            elif all(c == 0 for c in codes):
                outcome = Outcome(base.COMPLETED, base.COMPLETED, f"{self.label} job completed")
            elif self.stop_requested.is_set():
                outcome = Outcome(base.STOPPED, base.STOPPED, f"{self.label} job stopped")
            elif deadline is not None and time.time() > deadline:
                outcome = Outcome(
                    base.STOPPED,
                    base.MAX_RUNTIME_EXCEEDED,
                    f"{self.label} job stopped: it exceeded MaxRuntimeInSeconds ({max_run})",
                )
            else:
                self.stop_requested.wait(0.1)
        if outcome.status != base.COMPLETED:
            if outcome.status == base.STOPPED:
                self.state["status"] = base.STOPPING
                self._save()
            self._kill_hosts(self.grace)
        self._drain(outcome)
        if failed_host is not None:  # after the drain: the stderr tail is complete now
            outcome.failure_reason = self._failure_reason(*failed_host)
        return outcome

    def _kill_hosts(self, grace: float) -> None:
        processes.terminate_groups([h.process.pid for h in self.hosts], grace)
        processes.sweep_marked(self.mark, grace=min(grace, 1.0))
        for host in self.hosts:
            with contextlib.suppress(subprocess.TimeoutExpired, TimeoutError):
                host.process.wait(timeout=5)

    def _drain(self, outcome: Outcome) -> None:
        # The script is gone; a grandchild it left in its group, or a daemon it started in
        # a session of its own, may still run and hold the pipes: the job's end ends them.
        processes.terminate_groups([h.process.pid for h in self.hosts], grace=1.0)
        processes.sweep_marked(self.mark, grace=1.0)
        for host in self.hosts:
            for reader in host.readers:
                reader.join(timeout=5)
            if host.log.error is not None and disk_full(host.log.error):
                self._note_disk_full(str(host.log.path))
            if host.name == "algo-1":
                host.log.write(outcome.message, "s")
            host.log.close()
            if host.scratch is not None:
                import shutil

                shutil.rmtree(host.scratch, ignore_errors=True)
        if self.disk_error is not None and outcome.status == base.COMPLETED:
            outcome.status = outcome.secondary = base.FAILED
            outcome.message = "Training job failed"
            outcome.failure_reason = f"InternalServerError: {self.disk_error}"

    def _failure_reason(self, host: Host, code: int) -> str:
        command = ["python", self.spec["entry_point"], *self._script_args()]
        return failure_reason(self.job.host_root(host.name), host.log.tail, code, command)

    def _upload(self, outcome: Outcome) -> None:
        """Pack what the job made (training: ``model.tar.gz``, ``output.tar.gz``)."""
        from sm_magics.packaging import write_tar_gz

        artifacts = self.job.artifacts
        model_dirs = environment.model_dirs(self.job, self.hosts_names)
        model_tar = artifacts / "model.tar.gz"
        write_tar_gz(model_dirs[0], model_tar, extra_roots=model_dirs[1:])
        data_dirs = environment.output_data_dirs(self.job, self.hosts_names)
        if any(any(d.iterdir()) for d in data_dirs if d.is_dir()):
            write_tar_gz(data_dirs[0], artifacts / "output.tar.gz", extra_roots=data_dirs[1:])
            self.state["output_data"] = (artifacts / "output.tar.gz").as_uri()
        self.state["model_data"] = model_tar.as_uri()

    def _finish(self, outcome: Outcome) -> None:
        self._flush_ledger()
        now = time.time()
        self.state["final_metrics"] = final_metrics(
            self.job.logs, self.spec.get("metric_definitions")
        )
        self.state["status"] = outcome.status
        self.state["failure_reason"] = outcome.failure_reason
        self.state["ended"] = now
        if self.state.get("training_start"):
            self.state["training_end"] = now
        # The last transition ends as it starts, in the same write that makes the job
        # terminal: a reader that sees the end status sees every EndTime.
        add_transition(self.state, outcome.secondary, outcome.message)
        self.state["transitions"][-1]["EndTime"] = now
        self._save(
            ended_at=now,
            failure_reason=outcome.failure_reason,
            model_data=self.state.get("model_data"),
            metrics={m["MetricName"]: m["Value"] for m in self.state["final_metrics"]},
        )
        if self._watchdog is not None:  # a clean end: the watchdog has nothing to sweep
            with contextlib.suppress(OSError):
                os.write(self._watchdog, b"done")


def _say(text: str) -> None:
    """Note something in supervisor.log; never fail for it (the disk may be full)."""
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr, flush=True)


def main(
    argv: list[str] | None = None,
    *,
    early: Early | None = None,
    stopped: list[bool] | None = None,
) -> int:
    """Entry point: ``python -m sm_magics.backends.local.supervisor <job-folder>``.

    :mod:`.starter` calls it with the hosts it started (``early``) and any stop it saw.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sm_magics.backends.local.supervisor JOB_FOLDER", file=sys.stderr)
        return 2
    return Supervisor(JobDir(Path(args[0]))).run(early, stopped)


if __name__ == "__main__":
    sys.exit(main())
