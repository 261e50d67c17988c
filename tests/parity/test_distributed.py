"""Multi-host local jobs that really meet: torch.distributed over gloo, end to end.

Two hosts run a real ``init_process_group("gloo", init_method="env://")`` script that
all-reduces a tensor and trains a tiny model with DDP; a second job runs the same script
under ``--distribution torch_distributed`` (torchrun per host). Two such jobs at once get
different rendezvous ports. With namespaces available, ``algo-1`` resolves, the host name
is ``algo-N`` and ``/opt/ml/model`` is the host's model folder.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import make_spec, path_from_uri, tar_members, wait_until_terminal

from sm_magics.backends.local import host_launch

torch = pytest.importorskip("torch")

GLOO = """\
import json
import os
import socket

import torch
import torch.distributed as dist

dist.init_process_group("gloo", init_method="env://",
                        rank=int(os.environ.get("RANK", os.environ["SM_CURRENT_HOST_RANK"])),
                        world_size=int(os.environ.get("WORLD_SIZE", os.environ["SM_HOST_COUNT"])))
rank = dist.get_rank()
total = torch.tensor([float(rank + 1)])
dist.all_reduce(total)
torch.manual_seed(0)
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 1))
optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
features = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
for _ in range(3):
    optimiser.zero_grad()
    loss = ((model(features) - 1.0) ** 2).mean()
    loss.backward()
    optimiser.step()
weights = [p.detach().tolist() for p in model.parameters()]
report = {
    "rank": rank,
    "world": dist.get_world_size(),
    "sum": total.item(),
    "weights": weights,
    "master": [os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"]],
    "hostname": socket.gethostname(),
    "algo1": socket.gethostbyname("algo-1") if os.environ["MASTER_ADDR"] == "algo-1" else None,
    "opt_ml_model": os.path.samefile("/opt/ml/model", os.environ["SM_MODEL_DIR"])
    if os.path.isdir("/opt/ml/model") else None,
}
with open(os.path.join(os.environ["SM_MODEL_DIR"], f"rank-{rank}.json"), "w") as out:
    json.dump(report, out)
dist.destroy_process_group()
"""


def reports(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Return each rank's report from the job's model.tar.gz, by rank."""
    members = tar_members(path_from_uri(job["ModelArtifacts"]["S3ModelArtifacts"]))
    found = [json.loads(v) for k, v in members.items() if k.startswith("rank-")]
    return sorted(found, key=lambda r: r["rank"])


@pytest.mark.parametrize("distribution", [None, "torch_distributed"])
def test_two_hosts_rendezvous_over_gloo_and_train(
    local_backend: Any, distribution: str | None
) -> None:
    specs = [make_spec(script=GLOO, instance_count=2, distribution=distribution) for _ in range(2)]
    for spec in specs:
        local_backend.create_training_job(spec)
    jobs = [wait_until_terminal(local_backend, s.name, timeout=300) for s in specs]
    ports = set()
    for job in jobs:
        assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
        ranks = reports(job)
        assert [r["rank"] for r in ranks] == [0, 1]
        assert all(r["world"] == 2 and r["sum"] == 3.0 for r in ranks)
        assert ranks[0]["weights"] == ranks[1]["weights"]  # DDP kept them in step
        ports.add(ranks[0]["master"][1])
        if host_launch.namespaces_reason() is None:
            assert ranks[0]["master"][0] == "algo-1"
            assert {r["algo1"] for r in ranks} == {"127.0.0.1"}
            assert all(r["opt_ml_model"] for r in ranks)
            if distribution is None:
                assert [r["hostname"] for r in ranks] == ["algo-1", "algo-2"]
    assert len(ports) == 2  # one rendezvous port per job
