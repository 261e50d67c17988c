"""``%%sm_tune`` through a real IPython shell: the magic, the handle, results, deploy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from sm_magics.api.tuning import Tuning

CELL = """
import argparse, json, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
parser.add_argument("--depth", type=int)
parser.add_argument("--kind")
parser.add_argument("--epochs", type=int)
args, _ = parser.parse_known_args()
for epoch in range(args.epochs):
    score = 1 - (args.alpha - 0.25) ** 2 - 0.02 * abs(args.depth - 3)
    print(f"epoch {epoch} val_score={score:.5f}", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "params.json"), "w") as out:
    json.dump(vars(args), out)
"""

LINE = (
    "demo-tune --objective val_score --metric val_score=val_score=([-0-9.]+) "
    "--range alpha=0.01:1:log --range depth=1..6 --range kind=a,b --hp epochs=2 "
    "--max-jobs 4 --max-parallel 2 --seed 3 -o tuning"
)


def test_tune_wait_prints_each_trial_and_the_best(
    ip: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = ip.run_cell_magic("sm_tune", LINE + " --wait", CELL)
    assert isinstance(result, Tuning)
    assert ip.user_ns["tuning"] is result
    out = capsys.readouterr().out
    assert "Tuning job demo-tune on local: waiting" in out
    assert out.count("demo-tune-00") >= 4
    assert "Tuning job demo-tune Completed: best demo-tune-" in out
    tuning: Tuning = result
    assert tuning.status == "Completed"
    assert tuning.secondary_status == "4/4 trials"
    rows = tuning.results()
    rows = rows.to_dict("records") if hasattr(rows, "to_dict") else rows
    assert len(rows) == 4
    assert {"trial", "status", "objective", "alpha", "depth", "kind", "cost_usd"} <= set(rows[0])
    assert rows[0]["objective"] == max(r["objective"] for r in rows)  # best first
    best = tuning.best_job
    assert best is not None and best.name == rows[0]["trial"]
    assert tuning.best_params["depth"] == rows[0]["depth"]
    # the trial's model is its own: the script saw the sampled values as typed values
    model_dir = best.download_model(tmp_path / "model-best")
    saved = json.loads((model_dir / "params.json").read_text())
    assert saved["depth"] == rows[0]["depth"] and saved["epochs"] == 2
    # everything that knows jobs knows this one
    table = ip.run_line_magic("sm_jobs", "")
    assert "demo-tune" in repr(table)
    ip.run_line_magic("sm_logs", "demo-tune")
    logs = capsys.readouterr().out
    assert "[001/algo-1]" in logs or "001/algo-1" in logs
    assert ip.run_line_magic("sm_wait", "demo-tune").status == "Completed"
    # the display bundle carries a static snapshot for frontends without the widget
    bundle = tuning._repr_mimebundle_()
    assert "Snapshot of" in bundle["text/html"] and "%sm_watch demo-tune" in bundle["text/html"]
    assert "demo-tune-00" in bundle["text/html"] and "&#36;" in bundle["text/html"]


SERVABLE = """
import argparse, os
import joblib
from sklearn.dummy import DummyRegressor


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--depth", type=int)
    parser.add_argument("--kind")
    parser.add_argument("--epochs", type=int)
    args, _ = parser.parse_known_args()
    print(f"val_score={-abs(args.depth - 4) - args.alpha:.5f}", flush=True)
    model = DummyRegressor(strategy="constant", constant=args.depth).fit([[0]], [0])
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
"""


def test_deploy_a_tuning_job_deploys_its_best_trial(ip: Any) -> None:
    ip.run_cell_magic("sm_tune", LINE + " --wait", SERVABLE)
    tuning: Tuning = ip.user_ns["tuning"]
    endpoint = ip.run_line_magic("sm_deploy", "demo-tune -e tuned-ep --wait")
    try:
        assert "tuned-ep" in repr(ip.run_line_magic("sm_endpoints", ""))
        best = tuning.best_job
        assert best is not None
        assert endpoint.describe()["ProductionVariants"][0]["VariantName"]
        assert endpoint.invoke([[1.0]]) == [tuning.best_params["depth"]]
    finally:
        ip.run_line_magic("sm_delete", "tuned-ep --yes")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--objective nope --metric a=a=(.+) --range x=0:1", "must be one of the --metric names"),
        ("--objective a --metric a=a=(.+)", "at least one --range"),
        ("--objective a --metric a=a=(.+) --range x=1:0", "LOW must be below HIGH"),
        ("--objective a --metric a=a=(.+) --range x=0:1 --maximize --minimize", "not both"),
        ("--objective a --metric a=a=(.+) --range x=0:1 --strategy annealing", "choose bayesian"),
        (
            "--objective a --metric a=a=(.+) --range x=0:1 --max-parallel 5 --max-jobs 2",
            "more than --max-jobs",
        ),
        ("x" * 33 + " --objective a --metric a=a=(.+) --range x=0:1", "1-32 letters"),
    ],
)
def test_bad_lines_are_one_usage_error_and_create_nothing(ip: Any, line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ip.run_cell_magic("sm_tune", line, "print('hi')")
    magics = ip.magics_manager.registry["SageMakerMagics"]
    assert magics.session.ledger.list_jobs(limit=10) == []
