"""The tuning loop against a scripted backend: scheduling, early stopping, failure reasons.

The backend here is a fake that plays each trial's training job from a script: a list of
objective values (one per "epoch", one per poll) and how the job ends. It speaks the
Backend contract the loop uses (create, describe, read logs, stop), so the loop's logic is
tested exactly and quickly; tests/tuning/test_local_tuning.py runs it with real jobs.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import pytest

from sm_magics.backends import statuses
from sm_magics.backends.results import LogBatch, LogEvent
from sm_magics.backends.specs import TrainingSpec
from sm_magics.errors import InvalidRequest, NotFound
from sm_magics.tuning import ranges
from sm_magics.tuning.loop import TuningLoop
from sm_magics.tuning.spec import TuningSpec

Play = Callable[[dict[str, Any]], tuple[list[float], str, str | None]]


class ScriptedBackend:
    """Trials whose objective values and ending a function of their hyperparameters decides."""

    def __init__(self, play: Play) -> None:
        self.play = play
        self.jobs: dict[str, dict[str, Any]] = {}
        self.max_running = 0
        self.lock = threading.Lock()

    def create_training_job(self, spec: TrainingSpec) -> None:
        values, ending, reason = self.play(spec.hyperparameters)
        if ending == "refuse":
            raise InvalidRequest(reason or "refused")
        self.jobs[spec.name] = {
            "spec": spec,
            "values": values,
            "ending": ending,
            "reason": reason,
            "emitted": 0,
            "stopped": False,
        }
        running = sum(1 for j in self.jobs.values() if not self._done(j))
        self.max_running = max(self.max_running, running)

    def _done(self, job: dict[str, Any]) -> bool:
        return bool(job["stopped"] or job["emitted"] >= len(job["values"]))

    def read_training_logs(self, name: str, cursor: dict[str, Any] | None = None) -> LogBatch:
        job = self.jobs[name]
        events = []
        if not job["stopped"] and job["emitted"] < len(job["values"]):
            value = job["values"][job["emitted"]]
            job["emitted"] += 1
            events.append(LogEvent(job["emitted"], "algo-1", f"epoch {job['emitted']} auc={value}"))
        return LogBatch(events, {"n": job["emitted"]})

    def describe_training_job(self, name: str) -> dict[str, Any]:
        if name not in self.jobs:
            raise NotFound(name)
        job = self.jobs[name]
        if job["stopped"]:
            status = statuses.STOPPED
        elif job["emitted"] < len(job["values"]):
            status = statuses.IN_PROGRESS
        else:
            status = statuses.COMPLETED if job["ending"] == "ok" else statuses.FAILED
        description = {"TrainingJobName": name, "TrainingJobStatus": status}
        if status == statuses.FAILED:
            description["FailureReason"] = job["reason"]
        return description

    def stop_training_job(self, name: str) -> None:
        self.jobs[name]["stopped"] = True


def _spec(**kw: Any) -> TuningSpec:
    training = TrainingSpec(
        name="tune",
        entry_point="train.py",
        script="pass",
        metric_definitions={"auc": r"auc=([0-9.eE+-]+)"},
    )
    options: dict[str, Any] = {"max_jobs": 12, "max_parallel": 3, "random_seed": 3}
    options.update(kw)
    return TuningSpec("tune", training, "auc", ranges.parse_ranges(["x=0:1", "k=1..5"]), **options)


def _run(spec: TuningSpec, backend: ScriptedBackend) -> dict[str, Any]:
    saved: list[dict[str, Any]] = []
    loop = TuningLoop(spec, backend, lambda s: saved.append(s), poll_interval=0)  # type: ignore[arg-type]
    state = loop.run()
    assert saved and saved[-1] is state
    return state


def _curve(hp: dict[str, Any]) -> tuple[list[float], str, str | None]:
    score = 1 - (hp["x"] - 0.7) ** 2 - 0.01 * hp["k"]
    return [score * (0.6 + 0.1 * epoch) for epoch in range(5)], "ok", None


def test_finds_the_best_trial_and_keeps_within_max_parallel() -> None:
    backend = ScriptedBackend(_curve)
    state = _run(_spec(), backend)
    assert state["status"] == "Completed"
    assert len(state["trials"]) == 12
    assert backend.max_running <= 3
    finals = {t["name"]: t["objective"] for t in state["trials"]}
    best = max(finals, key=lambda n: finals[n])
    assert state["best"]["name"] == best
    assert state["best"]["objective"] == pytest.approx(finals[best])
    # the best-so-far history only ever improves
    values = [v for _, v, _ in state["best_history"]]
    assert values == sorted(values)


def test_minimize_picks_the_smallest() -> None:
    state = _run(_spec(objective_type="Minimize"), ScriptedBackend(_curve))
    finals = [t["objective"] for t in state["trials"] if t["status"] == statuses.COMPLETED]
    assert state["best"]["objective"] == min(finals)


def test_early_stopping_stops_trials_below_the_median_and_says_why() -> None:
    def play(hp: dict[str, Any]) -> tuple[list[float], str, str | None]:
        # half the space is hopeless from the first epoch on
        good = hp["x"] > 0.5
        return [(0.8 if good else 0.1) + 0.01 * e for e in range(8)], "ok", None

    state = _run(_spec(early_stopping="Auto", max_jobs=16, max_parallel=2), ScriptedBackend(play))
    stopped = [t for t in state["trials"] if t["status"] == statuses.STOPPED]
    assert stopped, "no trial was stopped early"
    for trial in stopped:
        assert trial["params"]["x"] <= 0.5
        assert trial["early_stopped"] is True
        assert "below the median" in trial["failure_reason"]
    # trials that started once three had completed were stopped right at their second step
    assert any(len(t["series"]) == 2 for t in stopped)
    assert state["status"] == "Completed"
    assert state["best"]["params"]["x"] > 0.5


def test_off_never_stops_a_trial() -> None:
    def play(hp: dict[str, Any]) -> tuple[list[float], str, str | None]:
        return [0.1 if hp["x"] < 0.5 else 0.9] * 6, "ok", None

    state = _run(_spec(max_jobs=10), ScriptedBackend(play))
    assert all(t["status"] == statuses.COMPLETED for t in state["trials"])


def test_every_trial_failing_names_the_first_real_error() -> None:
    def play(hp: dict[str, Any]) -> tuple[list[float], str, str | None]:
        return [0.5], "fail", "AlgorithmError: ValueError: Input contains NaN"

    state = _run(_spec(max_jobs=4, max_parallel=2), ScriptedBackend(play))
    assert state["status"] == "Failed"
    first = state["trials"][0]["name"]
    assert state["failure_reason"] == (
        f"All 4 training jobs failed; the first, {first}: "
        "AlgorithmError: ValueError: Input contains NaN"
    )
    assert all(t["objective_status"] == "Failed" for t in state["trials"])


def test_a_trial_without_the_objective_fails_with_the_regex_named() -> None:
    state = _run(_spec(max_jobs=2, max_parallel=1), ScriptedBackend(lambda hp: ([], "ok", None)))
    assert state["status"] == "Failed"
    assert "never appeared in the logs" in state["trials"][0]["failure_reason"]
    assert "auc=" in state["trials"][0]["failure_reason"]


def test_a_refused_trial_is_failed_and_the_search_goes_on() -> None:
    calls = {"n": 0}

    def play(hp: dict[str, Any]) -> tuple[list[float], str, str | None]:
        calls["n"] += 1
        if calls["n"] == 1:
            return [], "refuse", "no capacity"
        return [0.5, 0.6], "ok", None

    state = _run(_spec(max_jobs=3, max_parallel=1), ScriptedBackend(play))
    assert state["trials"][0]["status"] == statuses.FAILED
    assert "InvalidRequest: no capacity" in state["trials"][0]["failure_reason"]
    assert state["status"] == "Completed"


def test_stop_stops_running_trials_and_ends_stopped() -> None:
    backend = ScriptedBackend(lambda hp: ([0.5] * 1000, "ok", None))
    spec = _spec(max_jobs=6, max_parallel=2)
    loop = TuningLoop(spec, backend, lambda s: None, poll_interval=0.001)  # type: ignore[arg-type]
    timer = threading.Timer(0.05, loop.stop_requested.set)
    timer.start()
    state = loop.run()
    assert state["status"] == "Stopped"
    assert len(state["trials"]) == 2  # nothing new launched after the stop
    assert all(t["status"] == statuses.STOPPED for t in state["trials"])


def test_warm_start_seeds_the_study_with_the_parents_results() -> None:
    parent = _run(_spec(max_jobs=5, max_parallel=1), ScriptedBackend(_curve))
    spec = _spec(max_jobs=2, max_parallel=1, warm_start=["tune"])
    loop = TuningLoop(
        spec, ScriptedBackend(_curve), lambda s: None, poll_interval=0, parents=[parent]
    )  # type: ignore[arg-type]
    assert loop.state["warm_started"] == 5
    assert len(loop.study.trials) == 5
    assert math.isclose(loop.study.best_value, parent["best"]["objective"])


@pytest.mark.parametrize("strategy", ["Random", "Bayesian", "Hyperband"])
def test_each_strategy_runs_to_completion(strategy: str) -> None:
    state = _run(_spec(strategy=strategy, max_jobs=6), ScriptedBackend(_curve))
    assert state["status"] == "Completed"
    assert len(state["trials"]) == 6


def test_grid_tries_each_combination_once() -> None:
    training = TrainingSpec(
        name="grid",
        entry_point="train.py",
        script="pass",
        metric_definitions={"auc": r"auc=([0-9.eE+-]+)"},
    )
    spec = TuningSpec(
        "grid",
        training,
        "auc",
        ranges.parse_ranges(["a=1,2,3", "b=x,y"]),
        strategy="Grid",
        max_parallel=2,
    )

    def play(hp: dict[str, Any]) -> tuple[list[float], str, str | None]:
        return [hp["a"] + (0.5 if hp["b"] == "y" else 0)], "ok", None

    state = _run(spec, ScriptedBackend(play))
    combos = {(t["hyperparameters"]["a"], t["hyperparameters"]["b"]) for t in state["trials"]}
    assert combos == {(a, b) for a in (1, 2, 3) for b in ("x", "y")}
    assert state["best"]["objective"] == 3.5
