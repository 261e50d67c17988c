"""The XGBoost container's stop check: SIGTERM mid-training saves the model, once.

When a job is stopped SageMaker sends SIGTERM to every host and uploads whatever is in
``/opt/ml/model`` afterwards. The XGBoost container catches it mid-training and saves the
booster from the master host only, so a 2-host job yields exactly one model. The script
below does what the container does; the test checks that the local backend delivers the
signal to both hosts during training, waits for them to save, and uploads the result.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import make_spec, path_from_uri, tar_members, wait_for_log, wait_until_terminal

pytest.importorskip("xgboost")

TRAIN_UNTIL_STOPPED = """\
import json
import os
import signal
import sys

import numpy as np
import xgboost as xgb

hosts = json.loads(os.environ["SM_HOSTS"])
is_master = os.environ["SM_CURRENT_HOST"] == hosts[0]
features = np.random.default_rng(0).random((200, 4))
data = xgb.DMatrix(features, label=features.sum(axis=1))
state = {"booster": None}


class Keep(xgb.callback.TrainingCallback):
    def after_iteration(self, model, epoch, evals_log):
        state["booster"] = model
        print(f"{os.environ['SM_CURRENT_HOST']} round {epoch}", flush=True)
        return False


def on_sigterm(signum, frame):
    if is_master and state["booster"] is not None:
        path = os.path.join(os.environ["SM_MODEL_DIR"], "xgboost-model")
        state["booster"].save_model(path + ".json")
        os.replace(path + ".json", path)
        print("saved the model on SIGTERM", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, on_sigterm)
xgb.train({"max_depth": 2}, data, num_boost_round=10**6, callbacks=[Keep()])
"""


def test_sigterm_mid_training_saves_the_model_on_exactly_one_host(
    local_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SM_MAGICS_STOP_GRACE", "30")  # time to save (SageMaker gives 120 s)
    spec = make_spec(script=TRAIN_UNTIL_STOPPED, instance_count=2)
    local_backend.create_training_job(spec)
    # the master's booster must exist before the signal (under load algo-2 may train first)
    wait_for_log(local_backend, spec.name, "algo-1 round 3", timeout=180)
    local_backend.stop_training_job(spec.name)
    job = wait_until_terminal(local_backend, spec.name, timeout=180)
    assert job["TrainingJobStatus"] == "Stopped"
    members = tar_members(path_from_uri(job["ModelArtifacts"]["S3ModelArtifacts"]))
    assert [name for name in members if name.endswith("xgboost-model")] == ["xgboost-model"]
