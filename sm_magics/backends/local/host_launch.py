"""How each host of a local training job starts: launcher, rendezvous and namespaces.

One :class:`Launcher` per job decides, once, whether hosts run in their own namespaces
(:mod:`.namespaces`: ``/opt/ml`` and ``algo-N`` true for the script) and how they meet
(:mod:`.distributed`). Where namespaces are unavailable and the job could notice (several
hosts, or ``/opt/ml`` in its code), ``algo-1``'s log says so once, naming what will not
work. ``SM_*`` paths keep naming the job folder, which the namespaces leave visible;
``/opt/ml`` is the same folder seen at the container's path, so scripts that hard-code
either find their files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sm_magics.backends.local import distributed, drivers, namespaces
from sm_magics.backends.local.jobdir import JobDir

#: ``0`` turns the namespaces off (for debugging; the job-folder layout is used then).
ENV_NAMESPACES = "SM_MAGICS_NAMESPACES"


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
        self, job: JobDir, spec: dict[str, Any], hosts: list[str], say: Callable[[str], None]
    ) -> None:
        self.job = job
        self.spec = spec
        self.hosts = hosts
        self.driver = spec.get("driver")
        if self.driver not in (None, *drivers.DRIVERS):
            raise ValueError(f"unknown driver {self.driver!r}")
        reason = namespaces_reason()
        self.namespaced = reason is None
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
        env = {**env, **self.plan.env(host, env)}
        code = self.job.code
        if self.driver == drivers.MODELTRAINER:
            args = drivers.cli_args(self.spec["hyperparameters"])
            env.update(drivers.environment(self.job, host, self.spec, self.plan.master_port, env))
            code = drivers.code_dir(self.job)
        command = self.plan.command(host, python, entry_point, args)
        if not self.namespaced:
            return command, env, code
        root = self.job.host_root(host)
        if host != self.hosts[0]:
            link = root / "code"
            if not link.exists() and not link.is_symlink():
                link.symlink_to(code, target_is_directory=True)
        wrapped = namespaces.wrap(
            command, opt_ml=root, hostname=host, hosts=self.hosts, cwd=str(code)
        )
        return wrapped, env, code
