"""Endpoints served with the XGBoost and PyTorch containers' defaults, end to end.

A real XGBoost training job whose script defines no handler at all is deployed as is
(its framework comes from the job); a bare ``model.tar.gz`` holding a TorchScript
``model.pt`` is deployed with no script (its framework comes from the files). Both answer
over HTTP, and describe names the defaults and why they were chosen. The PyTorch
container loads the model once per worker: ``model_fn`` runs exactly once in each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import make_spec, path_from_uri, wait_until_terminal

from sm_magics.backends.specs import VariantSpec
from sm_magics.packaging import write_tar_gz

from .conftest import Endpoints, invoke, wait_until

pytest.importorskip("xgboost")
torch = pytest.importorskip("torch")

XGB_TRAIN = """\
import os

import numpy as np
import xgboost as xgb

features = np.array([[a, b] for a in range(6) for b in range(6)], dtype=float)
data = xgb.DMatrix(features, label=features.sum(axis=1))
booster = xgb.train({"max_depth": 3}, data, num_boost_round=int(os.environ.get("SM_HP_ROUNDS", 8)))
booster.save_model(os.path.join(os.environ["SM_MODEL_DIR"], "xgboost-model.json"))
"""

COUNTING_MODEL_FN = """\
import os

import torch


def model_fn(model_dir):
    with open({log!r}, "a") as log:
        log.write(f"{{os.getpid()}}\\n")
    return torch.jit.load(os.path.join(model_dir, "model.pt"))
"""


def torchscript_model(folder: Path) -> Path:
    """Write a ``model.tar.gz`` holding a TorchScript ``model.pt`` (row sums)."""

    class Sum(torch.nn.Module):  # type: ignore[misc]
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.sum(dim=1, keepdim=True)

    (folder / "model").mkdir()
    torch.jit.script(Sum()).save(str(folder / "model" / "model.pt"))
    write_tar_gz(folder / "model", folder / "model.tar.gz")
    return folder / "model.tar.gz"


def test_an_xgboost_job_without_handlers_serves_csv_with_the_container_defaults(
    endpoints: Endpoints,
) -> None:
    backend = endpoints.backend
    spec = make_spec(script=XGB_TRAIN, framework="xgboost", hyperparameters={"rounds": 8})
    backend.create_training_job(spec)
    job = wait_until_terminal(backend, spec.name, timeout=180)
    assert job["TrainingJobStatus"] == "Completed", job
    variant = VariantSpec(model_data=job["ModelArtifacts"]["S3ModelArtifacts"], job=spec.name)
    name = endpoints.deploy(variant)
    described = endpoints.describe(name)["ProductionVariants"][0]
    assert described["ServingDefaults"] == "xgboost"
    assert described["ServingDefaultsReason"] == "the training job's framework"
    reply = invoke(endpoints.url(name), b"1,2\n4,4", **{"Content-Type": "text/csv"})
    assert reply.status == 200, reply.body
    assert json.loads(reply.body) == pytest.approx([3.0, 8.0], abs=0.5)
    refused = invoke(endpoints.url(name), b"[[1, 2]]", **{"Content-Type": "application/json"})
    assert refused.status == 415
    assert path_from_uri(job["ModelArtifacts"]["S3ModelArtifacts"]).is_file()


def test_a_torchscript_model_serves_without_a_script_and_model_fn_runs_once_per_worker(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    archive = torchscript_model(tmp_path)
    bare = endpoints.deploy(VariantSpec(model_data=str(archive), entry_point=None))
    described = endpoints.describe(bare)["ProductionVariants"][0]
    assert described["ServingDefaults"] == "pytorch"
    reply = invoke(endpoints.url(bare), b"[[1, 2], [3, 4]]")
    assert reply.status == 200, reply.body
    assert json.loads(reply.body) == [[3.0], [7.0]]

    loads = tmp_path / "loads.txt"
    script = endpoints.script(COUNTING_MODEL_FN.format(log=str(loads)))
    counted = endpoints.deploy(
        VariantSpec(
            model_data=str(archive),
            entry_point=script,
            instance_count=2,
            environment={"SM_MAGICS_FRAMEWORK": "pytorch"},
        )
    )
    for _ in range(10):
        assert invoke(endpoints.url(counted), b"[[1, 1]]").status == 200
    workers = endpoints.workers(counted)
    wait_until(lambda: len(workers) == 2, what="two workers")
    pids = loads.read_text().split()
    assert sorted(pids) == sorted(str(p) for p in workers)
