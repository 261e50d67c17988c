"""How each host of a local training job starts: launcher, rendezvous and namespaces.

One :class:`Launcher` per job decides, once, whether hosts run in their own namespaces
(:mod:`.namespaces`: ``/opt/ml`` and ``algo-N`` true for the script) and how they meet
(:mod:`.distributed`). Where namespaces are unavailable and the job could notice (several
hosts, or ``/opt/ml`` in its code), ``algo-1``'s log says so once, naming what will not
work. ``SM_*`` paths keep naming the job folder, which the namespaces leave visible;
``/opt/ml`` is the same folder seen at the container's path, so scripts that hard-code
either find their files. Where the kernel also allows it, each host gets a PID namespace
(:mod:`.pidns`): every process its script starts ends with the script, even one that
wiped its environment and so escapes the job-mark sweep.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sm_magics import config
from sm_magics.backends.local import distributed, drivers, environment, namespaces, processes
from sm_magics.backends.local.jobdir import JobDir

#: ``0`` turns the namespaces off (for debugging; the job-folder layout is used then).
ENV_NAMESPACES = "SM_MAGICS_NAMESPACES"
#: ``0`` keeps the user and mount namespaces but not the PID one (the job-mark sweep only).
ENV_PID_NAMESPACE = "SM_MAGICS_PID_NAMESPACE"


def namespaces_reason() -> str | None:
    """Return why hosts cannot run in namespaces here, or ``None`` when they can."""
    if os.environ.get(ENV_NAMESPACES, "1") == "0":
        return f"{ENV_NAMESPACES}=0"
    return namespaces.probe()


def fallback_notice(reason: str, broken: str, where: str, works: str) -> str:
    """Return the one line saying namespaces are unavailable and what will not work.

    Training hosts and serving workers say it in the same words, so a user who met it
    once recognises it.
    """
    return (
        f"Namespaces are not available here ({reason}): {broken} will not work in this "
        f"{where}; {works}"
    )


def mentions_opt_ml(folder: Path) -> bool:
    """Whether any Python file under ``folder`` names ``/opt/ml`` (it could notice)."""
    for path in folder.rglob("*.py"):
        try:
            if "/opt/ml" in path.read_text(errors="replace"):
                return True
        except OSError:
            continue
    return False


class Launcher:
    """Builds each host's command for one job; see the module docstring."""

    def __init__(
        self,
        job: JobDir,
        spec: dict[str, Any],
        hosts: list[str],
        say: Callable[[str], None],
        *,
        reason: str | None = "probe",
    ) -> None:
        """``reason``: why namespaces cannot be used, ``None`` if they can; probed by default."""
        self.job = job
        self.spec = spec
        self.hosts = hosts
        self.driver = spec.get("driver")
        if self.driver not in (None, *drivers.DRIVERS):
            raise ValueError(f"unknown driver {self.driver!r}")
        probed = reason == "probe"
        if probed:
            reason = namespaces_reason()
        self.namespaced = reason is None
        #: A PID namespace per host: everything the script starts ends with it (.pidns).
        #: Assumed where namespaces are (the kernel's fast start): if the init cannot mount
        #: its /proc, the start fails and the supervisor's path probes.
        self.pid_namespace = (
            self.namespaced
            and os.environ.get(ENV_PID_NAMESPACE, "1") != "0"
            and (not probed or namespaces.probe_pid() is None)
        )
        self.plan = distributed.plan(spec, hosts, namespaced=self.namespaced)
        if not self.namespaced and self._would_notice(spec, hosts):
            say(
                fallback_notice(
                    str(reason),
                    "hard-coded /opt/ml paths and algo-N host names",
                    "job",
                    f"the SM_* variables and MASTER_ADDR={self.plan.master_addr} do",
                )
            )

    def _would_notice(self, spec: dict[str, Any], hosts: list[str]) -> bool:
        """Whether the job can tell the difference: several hosts, or /opt/ml in its code.

        Saying it only then keeps the logs of single-host jobs that use SM_* variables
        (nearly all of them) the same with and without namespaces.
        """
        return len(hosts) > 1 or mentions_opt_ml(self.job.code)

    def launch(
        self, host: str, python: str, entry_point: str, args: list[str], env: dict[str, str]
    ) -> tuple[list[str], dict[str, str], Path]:
        """Return ``(command, environment, working dir)`` of ``host``."""
        command, env, code, ns = self.parts(host, python, entry_point, args, env)
        if ns is None:
            return command, env, code
        wrapped = namespaces.wrap(
            command,
            opt_ml=ns["opt_ml"],
            hostname=host,
            hosts=self.hosts,
            cwd=str(code),
            pid=ns["pid"],
        )
        return wrapped, env, code

    def parts(
        self, host: str, python: str, entry_point: str, args: list[str], env: dict[str, str]
    ) -> tuple[list[str], dict[str, str], Path, dict[str, Any] | None]:
        """Return ``(command, environment, working dir, namespaces)`` of ``host``.

        ``namespaces`` is ``None`` or what :func:`.namespaces.setup` takes (``opt_ml``,
        ``hostname``, ``hosts``); :meth:`launch` puts it on the command line instead.
        """
        env = {**env, **self.plan.env(host, env)}
        code = self.job.code
        if self.driver == drivers.MODELTRAINER:
            args = drivers.cli_args(self.spec["hyperparameters"])
            env.update(drivers.environment(self.job, host, self.spec, self.plan.master_port, env))
            code = drivers.code_dir(self.job)
        command = self.plan.command(host, python, entry_point, args)
        if not self.namespaced:
            return command, env, code, None
        root = self.job.host_root(host)
        if host != self.hosts[0]:
            link = root / "code"
            if not link.exists() and not link.is_symlink():
                link.symlink_to(code, target_is_directory=True)
        ns = {"opt_ml": str(root), "hostname": host, "hosts": self.hosts}
        return command, env, code, {**ns, "pid": self.pid_namespace}


def fast_start(job: JobDir, spec: dict[str, Any], mark: str) -> dict[str, Any] | None:
    """Compute, in the kernel, every host's launch for :mod:`.starter`; ``None``: not here.

    Done for training jobs that need no venv (the common case): the config files, each
    host's environment and command, whether it enters namespaces (assumed on Linux; the
    starter falls back to the supervisor's probe if the kernel refuses), and the lines
    ``algo-1``'s log starts with. The job's input channels are linked here too.
    """
    if spec.get("requirements") or (job.code / "requirements.txt").is_file():
        return None
    hosts = environment.host_names(int(spec["instance_count"]))
    notes: list[str] = []
    if sys.platform.startswith("linux") and os.environ.get(ENV_NAMESPACES, "1") != "0":
        reason: str | None = None
    else:
        reason = namespaces_reason()
    try:
        launcher = Launcher(job, spec, hosts, notes.append, reason=reason)
    except Exception:  # noqa: BLE001 - the supervisor reports it as the job's failure
        return None
    python = str(spec.get("python") or sys.executable)
    args = environment.cli_args(spec["hyperparameters"])
    marks = processes.mark_env(spec["name"], mark)
    launches = []
    environment.link_channels(job, spec["resolved_inputs"])
    for host in hosts:
        environment.write_host_config(job, host, hosts, spec)
        env = environment.training_env(job, host, hosts, spec)
        env[config.ENV_HOME] = str(config.home_dir())  # as the supervisor's own environment
        command, env, code, ns = launcher.parts(host, python, spec["entry_point"], args, env)
        executable = shutil.which(command[0], path=env.get("PATH"))
        if executable is None:
            return None  # the supervisor says it cannot run
        launches.append(
            {
                "name": host,
                "command": [str(Path(executable).absolute()), *command[1:]],
                "env": {**env, **marks},
                "cwd": str(code),
                "ns": ns,
            }
        )
        if host == hosts[0]:
            notes.append(f"Invoking script with the following command: {' '.join(command)}")
    return {
        "hosts": launches,
        "lines": notes,
        "mark": mark,
        "slots": str(config.home_dir() / "slots"),
        "capacity": config.max_local_jobs(),
    }
