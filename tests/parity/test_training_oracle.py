"""Oracle: the SageMaker training toolkit's ``Environment()`` inside a local job.

The ``sagemaker-training`` package is what framework containers run before the script;
built inside a local job (from the config files we write), its ``to_env_vars()`` must
equal the environment the script sees, variable for variable, on every host of a
multi-host job. Whatever differs is printed by name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import make_spec, path_from_uri, tar_members, wait_until_terminal

pytest.importorskip("sagemaker_training")

ORACLE = """\
import json
import os
from pathlib import Path

from sagemaker_training import environment

expected = environment.Environment().to_env_vars()
seen = {key: os.environ.get(key) for key in expected}
different = {
    key: {"toolkit": value, "local": seen[key]}
    for key, value in expected.items()
    if value != seen[key] and key != "SM_TRAINING_ENV"
}
# SM_TRAINING_ENV is the whole Environment as JSON: compare it property by property.
toolkit_env = json.loads(expected["SM_TRAINING_ENV"])
local_env = json.loads(seen["SM_TRAINING_ENV"] or "{}")
for key in sorted(set(toolkit_env) | set(local_env)):
    if toolkit_env.get(key, "<absent>") != local_env.get(key, "<absent>"):
        different[f"SM_TRAINING_ENV.{key}"] = {
            "toolkit": toolkit_env.get(key, "<absent>"),
            "local": local_env.get(key, "<absent>"),
        }
host = os.environ["SM_CURRENT_HOST"]
Path(os.environ["SM_MODEL_DIR"], f"diff-{host}.json").write_text(json.dumps(different))
"""


def test_the_toolkit_environment_equals_what_the_script_sees(local_backend: Any) -> None:
    spec = make_spec(
        script=ORACLE,
        instance_count=2,
        hyperparameters={"epochs": 3, "lr": 0.1, "name": "x", "flag": True, "nested": {"a": 1}},
        inputs={"train": str(Path(__file__).parent)},
    )
    local_backend.create_training_job(spec)
    job = wait_until_terminal(local_backend, spec.name, timeout=180)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    members = tar_members(path_from_uri(job["ModelArtifacts"]["S3ModelArtifacts"]))
    for host in ("algo-1", "algo-2"):
        diff = json.loads(members[f"diff-{host}.json"])
        assert diff == {}, json.dumps(diff, indent=1)
