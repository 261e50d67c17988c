"""A local batch transform loads its model as a serving worker does (issue 10 #4).

A ``model_fn`` that opens ``/opt/ml/model/...`` directly works on SageMaker's batch
transform and on a local endpoint; locally it must work in a batch transform too. On Linux,
where unprivileged user and mount namespaces are allowed, the transform's process runs in
namespaces with ``/opt/ml/model`` bound to the extracted model and ``model_fn`` is handed
that path. Without them (``SM_MAGICS_NAMESPACES=0``) the transform's log says once that
hard-coded ``/opt/ml`` paths will not work.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from sm_magics.backends import statuses
from sm_magics.backends.local import host_launch
from sm_magics.backends.specs import TransformSpec

from .conftest import ROW, ROW_CLASS, Endpoints, wait_until
from .test_worker_namespaces import HARD_CODED, NOTICE, PORTABLE

#: Answers one JSON line at a time, slowly, after saying it has started: a job to stop.
SLOW = """\
import os
import time
from pathlib import Path

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(data, model):
    Path(os.environ["TRANSFORM_STARTED"]).touch()
    time.sleep(0.2)
    return model.predict(data)
"""


def _start(
    endpoints: Endpoints, script: Path, folder: Path, content_type: str = "text/csv"
) -> tuple[str, Path]:
    """Start a transform of ``folder/in``; return its name and output folder."""
    output = folder / "out"
    name = f"tr-{uuid.uuid4().hex[:10]}"
    backend: Any = endpoints.backend
    backend.create_transform_job(
        TransformSpec(
            name=name,
            model=endpoints.variant(script=script),
            input_uri=str(folder / "in"),
            output_uri=str(output),
            content_type=content_type,
        )
    )
    return name, output


def _wait_ended(endpoints: Endpoints, name: str) -> dict[str, Any]:
    backend: Any = endpoints.backend

    def ended() -> dict[str, Any] | None:
        description: dict[str, Any] = backend.describe_transform_job(name)
        done = description["TransformJobStatus"] in statuses.TERMINAL_STATUSES
        return description if done else None

    description: dict[str, Any] = wait_until(ended, what=f"transform {name} to end")
    return description


def _transform(endpoints: Endpoints, script: Path, folder: Path) -> tuple[str, Path]:
    """Run a transform of two CSV files (one nested) to its end; return its name and output."""
    source = folder / "in"
    (source / "nested").mkdir(parents=True)
    row = ",".join(str(value) for value in ROW)
    (source / "first.csv").write_text(f"{row}\n{row}\n")
    (source / "nested" / "second.csv").write_text(f"{row}\n")
    name, output = _start(endpoints, script, folder)
    description = _wait_ended(endpoints, name)
    assert description["TransformJobStatus"] == "Completed", (description, _log(endpoints, name))
    return name, output


def _log(endpoints: Endpoints, name: str) -> list[str]:
    backend: Any = endpoints.backend
    return [event.message for event in backend.read_transform_logs(name).events]


def test_a_model_fn_that_opens_opt_ml_model_transforms(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    reason = host_launch.namespaces_reason()
    if reason is not None:
        pytest.skip(f"namespaces are not available here: {reason}")
    name, output = _transform(endpoints, endpoints.script(HARD_CODED), tmp_path)
    results = {
        p.relative_to(output).as_posix(): p.read_text() for p in output.rglob("*") if p.is_file()
    }
    assert sorted(results) == ["first.csv.out", "nested/second.csv.out"]
    answers = [json.loads(line) for text in results.values() for line in text.splitlines()]
    assert len(answers) == 2  # first.csv is one mini-batch of two rows
    for answer in answers:
        assert answer["prediction"] == [ROW_CLASS] * len(answer["prediction"])
        # model_fn is handed the container's path, as SageMaker's toolkit does.
        assert answer["model_dir"] == "/opt/ml/model"
    assert sum(len(answer["prediction"]) for answer in answers) == 3
    assert not any(NOTICE in line for line in _log(endpoints, name))


def test_without_namespaces_the_transform_log_says_so_once(
    endpoints: Endpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(host_launch.ENV_NAMESPACES, "0")
    name, output = _transform(endpoints, endpoints.script(PORTABLE), tmp_path)
    assert json.loads((output / "first.csv.out").read_text()) == [ROW_CLASS, ROW_CLASS]
    notices = [line for line in _log(endpoints, name) if NOTICE in line]
    assert len(notices) == 1, notices
    assert "SM_MAGICS_NAMESPACES=0" in notices[0]
    assert "hard-coded /opt/ml paths will not work in this transform job" in notices[0]


def test_a_stop_reaches_the_transform_through_the_launcher(
    endpoints: Endpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The launcher execs the transform in its place: the pid the state names gets the stop."""
    started = tmp_path / "started"
    monkeypatch.setenv("TRANSFORM_STARTED", str(started))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.jsonl").write_text(f"{json.dumps([ROW])}\n" * 1000)
    name, output = _start(
        endpoints, endpoints.script(SLOW), tmp_path, content_type="application/jsonlines"
    )
    wait_until(started.exists, what="the first record to reach predict_fn")
    endpoints.backend.stop_transform_job(name)
    description = _wait_ended(endpoints, name)
    assert description["TransformJobStatus"] == "Stopped", (description, _log(endpoints, name))
    assert not (output / "rows.jsonl.out").exists()  # complete or absent
