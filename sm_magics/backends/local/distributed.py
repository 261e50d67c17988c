"""Multi-host rendezvous for local jobs: where the hosts meet, and how each one starts.

SageMaker's framework containers give every host ``MASTER_ADDR`` (the first host,
``algo-1``) and ``MASTER_PORT``, and the v3 ``ModelTrainer`` drivers add ``SM_MASTER_ADDR``,
``SM_MASTER_PORT``, ``SM_HOST_COUNT`` and ``SM_CURRENT_HOST_RANK``. Locally every host is a
process on this machine, so:

- ``MASTER_ADDR`` is ``algo-1`` when the hosts run in namespaces that resolve it (see
  :mod:`.namespaces`), else ``127.0.0.1``;
- ``MASTER_PORT`` is a port free at job start, one per job (the containers use a fixed
  port, which two local jobs would fight over);
- ``GLOO_SOCKET_IFNAME`` is the loopback interface unless set, so gloo binds where the
  other hosts can reach it.

``--distribution`` chooses the launcher, as the SDK's ``distribution=`` does:
``torch_distributed`` runs ``torchrun`` on each host with one process per GPU (one on a
CPU host, as the training toolkit does); ``mpi`` runs ``mpirun`` from ``algo-1`` over all
the job's processes, when ``mpirun`` is installed.
"""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass
from typing import Any

from sm_magics.errors import InvalidRequest

TORCH_DISTRIBUTED = "torch_distributed"
MPI = "mpi"
DISTRIBUTIONS = (TORCH_DISTRIBUTED, MPI)
#: Hyperparameters the SDK adds for each distribution (the containers read them).
SDK_FLAGS = {
    TORCH_DISTRIBUTED: {"sagemaker_torch_distributed_enabled": True},
    MPI: {"sagemaker_mpi_enabled": True},
}


def validate(distribution: str | None) -> str | None:
    """Return the canonical distribution name, or raise one clear message."""
    if not distribution:
        return None
    name = distribution.strip().lower().replace("-", "_")
    if name in ("torchrun", "pytorchddp"):
        name = TORCH_DISTRIBUTED
    if name not in DISTRIBUTIONS:
        raise InvalidRequest(
            f"--distribution {distribution!r}: use one of {', '.join(DISTRIBUTIONS)}."
        )
    return name


def free_port() -> int:
    """Return a TCP port nobody listens on now (the job's rendezvous port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def loopback_interface() -> str | None:
    """Return the name of the loopback interface (``lo``, ``lo0``), if psutil finds one."""
    import psutil

    for name, addresses in psutil.net_if_addrs().items():
        if any(a.family == socket.AF_INET and a.address == "127.0.0.1" for a in addresses):
            return name
    return None


@dataclass(frozen=True)
class Plan:
    """How one job's hosts meet and start."""

    hosts: list[str]
    master_addr: str
    master_port: int
    distribution: str | None
    processes_per_host: int

    def env(self, host: str, base: dict[str, str]) -> dict[str, str]:
        """Return the rendezvous variables of ``host`` (on top of ``base``)."""
        extra = {
            "MASTER_ADDR": self.master_addr,
            "MASTER_PORT": str(self.master_port),
            # The host's name even without namespaces: drivers compare it with
            # SM_CURRENT_HOST to tell the master (MASTER_ADDR is what they connect to).
            "SM_MASTER_ADDR": self.hosts[0],
            "SM_MASTER_PORT": str(self.master_port),
            "SM_HOST_COUNT": str(len(self.hosts)),
            "SM_CURRENT_HOST_RANK": str(self.hosts.index(host)),
        }
        if "GLOO_SOCKET_IFNAME" not in base:
            interface = loopback_interface()
            if interface:
                extra["GLOO_SOCKET_IFNAME"] = interface
        return extra

    def command(self, host: str, python: str, entry_point: str, args: list[str]) -> list[str]:
        """Return the command ``host`` runs: the script, or its launcher."""
        if self.distribution == TORCH_DISTRIBUTED:
            launcher = [
                python,
                "-m",
                "torch.distributed.run",
                "--nnodes",
                str(len(self.hosts)),
                "--nproc_per_node",
                str(self.processes_per_host),
            ]
            if len(self.hosts) > 1:
                launcher += [
                    "--master_addr",
                    self.master_addr,
                    "--master_port",
                    str(self.master_port),
                    "--node_rank",
                    str(self.hosts.index(host)),
                ]
            else:
                launcher += ["--master_port", str(self.master_port)]
            return [*launcher, entry_point, *args]
        if self.distribution == MPI:
            if host != self.hosts[0]:
                # On SageMaker the other hosts wait for algo-1's mpirun over SSH; here
                # mpirun starts every process from algo-1, so they have nothing to run.
                return [python, "-c", "pass"]
            mpirun = shutil.which("mpirun")
            assert mpirun is not None  # checked by plan()
            count = len(self.hosts) * self.processes_per_host
            return [mpirun, "--allow-run-as-root", "-np", str(count), python, entry_point, *args]
        return [python, entry_point, *args]


def plan(spec: dict[str, Any], hosts: list[str], *, namespaced: bool, num_gpus: int = 0) -> Plan:
    """Return the job's :class:`Plan`.

    Raises
    ------
    InvalidRequest
        ``mpi`` without ``mpirun`` on this machine.
    """
    distribution = validate(spec.get("distribution"))
    if distribution == MPI and shutil.which("mpirun") is None:
        raise InvalidRequest(
            "--distribution mpi needs mpirun (Open MPI), which is not installed here; "
            "install it (e.g. apt-get install openmpi-bin) or use torch_distributed."
        )
    return Plan(
        hosts=hosts,
        master_addr=hosts[0] if namespaced else "127.0.0.1",
        master_port=free_port(),
        distribution=distribution,
        processes_per_host=max(1, num_gpus),
    )
