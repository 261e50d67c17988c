"""``--driver modeltrainer``: the SDK v3 ModelTrainer conventions on the local backend.

A script written for ``ModelTrainer`` reads its hyperparameters as JSON-encoded
arguments in the given order, runs from the code channel, and finds ``SM_SOURCE_DIR``,
``SM_ENTRY_SCRIPT``, ``SM_MASTER_ADDR`` (the first host's name) and the host count/rank.
"""

from __future__ import annotations

import json
from typing import Any

from helpers import make_spec, path_from_uri, tar_members, wait_until_terminal

SCRIPT = """\
import json
import os
import sys
from pathlib import Path

names = ["SM_SOURCE_DIR", "SM_ENTRY_SCRIPT", "SM_MASTER_ADDR", "SM_MASTER_PORT",
         "SM_HOST_COUNT", "SM_CURRENT_HOST_RANK", "SM_HPS", "SM_CURRENT_HOST"]
report = {name: os.environ.get(name) for name in names}
report["argv"] = sys.argv[1:]
report["cwd_is_source"] = os.path.samefile(os.getcwd(), os.environ["SM_SOURCE_DIR"])
host = os.environ["SM_CURRENT_HOST"]
Path(os.environ["SM_MODEL_DIR"], f"{host}.json").write_text(json.dumps(report))
"""


def test_the_v3_driver_conventions(local_backend: Any) -> None:
    hyperparameters = {"lr": 0.1, "name": "x", "flag": True, "layers": [1, 2]}
    spec = make_spec(
        script=SCRIPT, instance_count=2, hyperparameters=hyperparameters, driver="modeltrainer"
    )
    local_backend.create_training_job(spec)
    job = wait_until_terminal(local_backend, spec.name, timeout=180)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    members = tar_members(path_from_uri(job["ModelArtifacts"]["S3ModelArtifacts"]))
    for rank, host in enumerate(["algo-1", "algo-2"]):
        report = json.loads(members[f"{host}.json"])
        # JSON-encoded values; in key order, as the hyperparameters map arrives from the API.
        expected = ["--flag", "true", "--layers", "[1, 2]", "--lr", "0.1", "--name", "x"]
        assert report["argv"] == expected
        assert report["SM_SOURCE_DIR"].endswith("/input/data/code")
        assert report["cwd_is_source"] is True
        assert report["SM_ENTRY_SCRIPT"] == "train.py"
        assert report["SM_MASTER_ADDR"] == "algo-1"
        assert report["SM_HOST_COUNT"] == "2"
        assert report["SM_CURRENT_HOST_RANK"] == str(rank)
        assert json.loads(report["SM_HPS"]) == hyperparameters
        assert int(report["SM_MASTER_PORT"]) > 0
