"""Runs, comparison, the model registry, deploy from it and lineage, on the local backend.

Real jobs and a real endpoint through the magics; MLflow is the real client on a file
store.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from sm_magics import model_registry, packaging

CELL = """
import argparse, os
import joblib
from sklearn.dummy import DummyRegressor


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--level", type=float)
    args, _ = parser.parse_known_args()
    for step in range(3):
        print(f"acc={args.level * (step + 1) / 3:.3f}", flush=True)
    data = os.environ["SM_CHANNEL_TRAIN"]
    assert os.listdir(data)
    model = DummyRegressor(strategy="constant", constant=args.level).fit([[0]], [0])
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
"""


def _train(ip: Any, name: str, level: float, data: Path) -> None:
    ip.run_cell_magic(
        "sm_train",
        f"{name} --hp level={level} --metric acc=acc=([0-9.]+) --experiment churn "
        f"--input train={data} --wait",
        CELL,
    )


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "rows.csv").write_text("1,2\n")
    return folder


def test_runs_compare_register_approve_deploy_and_lineage(
    ip: Any, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _train(ip, "run-low", 0.6, data)
    _train(ip, "run-high", 0.9, data)
    session = ip.magics_manager.registry["SageMakerMagics"].session

    # runs: every run with its params and final metrics, filtered and sorted
    table = ip.run_line_magic("sm_runs", "--experiment churn --sort acc")
    assert [row.name for row in table.rows] == ["run-high", "run-low"]
    assert table.rows[0].metrics == {"acc": 0.9} and table.rows[0].params == {"level": 0.9}
    assert [r.name for r in ip.run_line_magic("sm_runs", "--filter 'acc>0.7'").rows] == ["run-high"]
    frame = session.runs(experiment="churn")
    records = frame.to_dict("records") if hasattr(frame, "to_dict") else frame
    assert {r["name"] for r in records} == {"run-low", "run-high"}
    assert {"param.level", "metric.acc", "cost_usd", "source_hash"} <= set(records[0])
    with pytest.raises(UsageError, match="NAME OP VALUE"):
        ip.run_line_magic("sm_runs", "--filter 'acc'")

    # compare: parameters side by side, the differing ones marked, curves overlaid
    view = ip.run_line_magic("sm_compare", "run-low run-high")
    assert "* level" in repr(view) and "acc (final)" in repr(view)
    html = view._repr_html_()
    assert "<svg" in html and "run-low" in html and "run-high" in html

    # register two versions; deploy refuses until one is approved
    first = ip.run_line_magic("sm_register", "run-low --group churn-model --description first")
    second = ip.run_line_magic("sm_register", "run-high --group churn-model")
    assert (first.version, second.version) == (1, 2)
    assert second.status == "PendingManualApproval" and second.metrics == {"acc": 0.9}
    assert Path(second.model_data.removeprefix("file://")).is_file()  # kept by content hash
    models = ip.run_line_magic("sm_models", "churn-model")
    assert [r.version for r in models.rows] == [2, 1]
    with pytest.raises(UsageError, match="no approved version"):
        ip.run_line_magic("sm_deploy", "churn-model -e churn-ep")
    ip.run_line_magic("sm_approve", "churn-model/2 --note 'best acc'")
    approved = model_registry.find(session.ledger, "churn-model", 2)
    assert approved is not None and approved.status == "Approved"
    assert approved.history[-1]["note"] == "best acc" and "@" in approved.history[-1]["by"]
    with pytest.raises(UsageError, match="PendingManualApproval, not Approved"):
        ip.run_line_magic("sm_deploy", "churn-model/1 -e churn-ep")

    endpoint = ip.run_line_magic("sm_deploy", "churn-model -e churn-ep --wait")
    try:
        assert endpoint.invoke([[1.0]]) == [0.9]  # version 2's model
        record = session.ledger.get_endpoint("churn-ep")
        assert record.tags["sm-magics:model-package"] == approved.arn
        lineage = ip.run_line_magic("sm_lineage", "churn-ep")
        text = repr(lineage)
        assert "endpoint churn-ep" in text
        assert "model package churn-model/2" in text
        assert "training job run-high" in text
        assert "input train" in text and str(data) in text
        # the input as it was when the run was submitted, by content
        assert f"sha256: {packaging.hash_tree(data)}" in text
        assert "code " in text
        assert "sm-magics-lineage" in lineage._repr_html_()
    finally:
        ip.run_line_magic("sm_delete", "churn-ep --yes")

    # a rejected version no longer deploys; cleanup never touches the registry
    ip.run_line_magic("sm_reject", "churn-model/2")
    with pytest.raises(UsageError, match="Rejected, not Approved"):
        ip.run_line_magic("sm_deploy", "churn-model/2 -e churn-ep2")
    ip.run_line_magic("sm_cleanup", "--all --yes")
    assert len(model_registry.list_packages(session.ledger, "churn-model")) == 2


def test_runs_are_logged_to_mlflow_with_stepped_metrics(
    ip: Any, data: Path, tmp_path: Path
) -> None:
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    store = (tmp_path / "mlruns").as_uri()
    magics = ip.magics_manager.registry["SageMakerMagics"]
    magics.mlflow_tracking_uri = store
    try:
        _train(ip, "tracked-a", 0.3, data)
        _train(ip, "tracked-b", 0.6, data)
        ip.run_line_magic("sm_runs", "")
        ip.run_line_magic("sm_runs", "")  # a second sync logs nothing twice
    finally:
        magics.mlflow_tracking_uri = ""
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("churn")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.tags["sm_magics.job"] for r in runs) == ["tracked-a", "tracked-b"]
    run = next(r for r in runs if r.data.tags["sm_magics.job"] == "tracked-b")
    assert run.data.params == {"level": "0.6"}
    history = client.get_metric_history(run.info.run_id, "acc")
    assert [(m.step, m.value) for m in history] == [(0, 0.2), (1, 0.4), (2, 0.6)]
    assert run.data.tags["sm_magics.model_data"].endswith("model.tar.gz")
    assert run.info.status == "FINISHED"


def test_bad_registry_input_is_one_clear_message(ip: Any) -> None:
    with pytest.raises(UsageError, match="Invalid model group name"):
        ip.run_line_magic("sm_register", "/nope/model.tar.gz --group 'bad name'")
    with pytest.raises(UsageError, match="name a version"):
        ip.run_line_magic("sm_approve", "churn-model")
    with pytest.raises(UsageError, match="No model package"):
        ip.run_line_magic("sm_approve", "ghost/3")
    with pytest.raises(UsageError, match="one of --approve"):
        ip.run_line_magic("sm_register", "x --group g --approve --reject")
    with pytest.raises(UsageError, match="no endpoint, model package"):
        ip.run_line_magic("sm_lineage", "nothing-here")
