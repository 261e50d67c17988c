"""Serving workers see ``/opt/ml/model`` as SageMaker's inference containers do (issue 10 #4).

An inference script written for the real service often opens ``/opt/ml/model/...`` in
``model_fn`` instead of joining ``model_dir``. On Linux, where unprivileged user and mount
namespaces are allowed, each worker runs in namespaces of its own with ``/opt/ml/model``
bound to the variant's model folder, so such a script serves unchanged. Where they are
not (macOS, a kernel that forbids them, ``SM_MAGICS_NAMESPACES=0``) the worker's log says
once that hard-coded ``/opt/ml`` paths will not work.
"""

from __future__ import annotations

import json

import pytest

from sm_magics.backends.local import host_launch

from .conftest import ROW_CLASS, ROW_JSON, Endpoints, invoke

#: A model_fn that ignores its argument, as many AWS examples do, and says what it got.
HARD_CODED = """\
import json

import joblib

SEEN = {}


def model_fn(model_dir):
    SEEN["model_dir"] = model_dir
    return joblib.load("/opt/ml/model/model.joblib")


def output_fn(prediction, accept):
    answer = {"prediction": prediction.tolist(), "model_dir": SEEN["model_dir"]}
    return json.dumps(answer), "application/json"
"""

#: Uses model_dir (works everywhere) but names /opt/ml, so it could notice the difference.
PORTABLE = """\
import os

import joblib

CONTAINER_PATH = "/opt/ml/model"


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""

NOTICE = "Namespaces are not available here"


def _log_lines(endpoints: Endpoints, name: str) -> list[str]:
    return [event.message for event in endpoints.backend.read_endpoint_logs(name).events]


def test_a_model_fn_that_opens_opt_ml_model_serves(endpoints: Endpoints) -> None:
    reason = host_launch.namespaces_reason()
    if reason is not None:
        pytest.skip(f"namespaces are not available here: {reason}")
    name = endpoints.deploy(endpoints.variant(script=endpoints.script(HARD_CODED), count=2))
    url = endpoints.url(name)
    for _ in range(4):
        reply = invoke(url, ROW_JSON)
        assert reply.status == 200, reply.body
        answer = json.loads(reply.body)
        assert answer["prediction"] == [ROW_CLASS]
        # model_fn is handed the container's path, as SageMaker's toolkit does.
        assert answer["model_dir"] == "/opt/ml/model"
    assert not any(NOTICE in line for line in _log_lines(endpoints, name))


def test_without_namespaces_the_worker_log_says_so_once(
    endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(host_launch.ENV_NAMESPACES, "0")
    name = endpoints.deploy(endpoints.variant(script=endpoints.script(PORTABLE), count=2))
    assert invoke(endpoints.url(name), ROW_JSON).json() == [ROW_CLASS]
    notices = [line for line in _log_lines(endpoints, name) if NOTICE in line]
    assert len(notices) == 1, notices
    assert "SM_MAGICS_NAMESPACES=0" in notices[0]
    assert "hard-coded /opt/ml paths will not work in this endpoint" in notices[0]
