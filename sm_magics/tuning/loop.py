"""The local tuner's loop: trials are training jobs on a backend, chosen by an Optuna study.

The loop speaks only the :class:`~sm_magics.backends.base.Backend` contract
(``create_training_job``, ``describe_training_job``, ``read_training_logs``,
``stop_training_job``), so each trial is an ordinary job with its own folder, logs, ledger
row, widget and cost, and the loop can be tested against any backend. It keeps at most
``max_parallel`` trials running, reads each running trial's new log lines for the
objective metric (each value is one step for early stopping), and writes its whole state
through ``save`` after every change, so a reader (the kernel's describe, the side panel)
always sees a whole document.

Failure reasons are the trials' own: when every trial fails, the tuning job's reason
names the first trial and its real error, not "No training job succeeded".
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sm_magics.backends import base, kinds, statuses
from sm_magics.errors import SmMagicsError
from sm_magics.metrics import MetricParser
from sm_magics.tuning import ranges as ranges_mod
from sm_magics.tuning.state import TrialEntry, TuningState

if TYPE_CHECKING:
    import optuna

    from sm_magics.backends.results import LogCursor
    from sm_magics.tuning.spec import TuningSpec

#: How many objective points a trial keeps for its curve (the last ones win).
MAX_SERIES = 2000
#: The tuning job's own statuses (SageMaker's ``HyperParameterTuningJobStatus``).
TUNING_STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")


def _now() -> float:
    return time.time()


@dataclass
class _Running:
    """What the loop holds for one running trial besides its state entry."""

    trial: optuna.trial.Trial
    entry: TrialEntry
    cursor: LogCursor | None = None
    steps: int = 0
    stop_sent: bool = False
    early_reason: str | None = None
    parser: MetricParser = field(default_factory=lambda: MetricParser({}))


class TuningLoop:
    """Runs one tuning job to its end; see the module docstring."""

    def __init__(
        self,
        spec: TuningSpec,
        backend: base.Backend,
        save: Callable[[TuningState], None],
        *,
        state: TuningState | None = None,
        poll_interval: float = 0.2,
        parents: list[TuningState] | None = None,
    ) -> None:
        from sm_magics.tuning import search

        self.spec = spec
        self.backend = backend
        self.save = save
        self.poll_interval = poll_interval
        self.study = search.create_study(spec)
        self.distributions = search.distributions(spec)
        self.state: TuningState = state or {}
        self.state.setdefault("status", "InProgress")
        self.state.setdefault("created", _now())
        self.state.setdefault("trials", [])
        self.state.setdefault("best_history", [])
        self.state.setdefault("warm_started", 0)
        self.running: dict[str, _Running] = {}
        self.stop_requested = threading.Event()
        self.objective_regex = spec.training.metric_definitions[spec.objective]
        for parent in parents or []:
            self._warm_start(parent)

    # -- public -----------------------------------------------------------------------------

    def run(self, deadline: float | None = None) -> TuningState:
        """Run until every trial ended (or a stop / the deadline); return the final state."""
        self.save(self.state)
        while True:
            if deadline is not None and _now() >= deadline and not self.stop_requested.is_set():
                self.state["stop_reason"] = "MaxRuntimeExceeded"
                self.stop_requested.set()
            if self.stop_requested.is_set():
                self._stop_all()
            else:
                self._launch()
            changed = self._poll()
            if changed:
                self.save(self.state)
            if not self.running and (self.stop_requested.is_set() or self._launched_all()):
                break
            time.sleep(self.poll_interval)
        self._finish()
        self.save(self.state)
        return self.state

    # -- launching --------------------------------------------------------------------------

    def _launched_all(self) -> bool:
        return len(self.state["trials"]) >= self.spec.max_jobs

    def _launch(self) -> None:
        while len(self.running) < self.spec.max_parallel and not self._launched_all():
            trial = self.study.ask(self.distributions)
            number = len(self.state["trials"])
            params = dict(trial.params)
            hyperparameters = {
                name: (ranges_mod.decode_value(value) if isinstance(value, str) else value)
                for name, value in params.items()
            }
            training = self.spec.trial_training_spec(number, hyperparameters)
            entry: TrialEntry = {
                "number": number,
                "name": training.name,
                "params": params,
                "hyperparameters": hyperparameters,
                "status": statuses.IN_PROGRESS,
                "objective": None,
                "objective_status": "Pending",
                "series": [],
                "created": _now(),
            }
            self.state["trials"].append(entry)
            try:
                self.backend.create_training_job(training)
            except SmMagicsError as exc:
                self._end_trial(entry, trial, statuses.FAILED, f"{type(exc).__name__}: {exc}")
                self.save(self.state)
                continue
            running = _Running(
                trial, entry, parser=MetricParser({"objective": self.objective_regex})
            )
            self.running[training.name] = running
            self.save(self.state)

    # -- following --------------------------------------------------------------------------

    def _poll(self) -> bool:
        changed = False
        for name, running in list(self.running.items()):
            changed |= self._read_objective(running)
            try:
                description = self.backend.describe_training_job(name)
            except SmMagicsError:
                continue  # a transient read error; the next poll tries again
            status = kinds.status_of(description)
            if status != running.entry["status"] and status not in statuses.TERMINAL_STATUSES:
                running.entry["status"] = status
                changed = True
            if status in statuses.TERMINAL_STATUSES:
                self._read_objective(running)  # the lines written just before the end
                reason = description.get("FailureReason")
                if running.early_reason and status == statuses.STOPPED:
                    reason = running.early_reason
                running.entry["started"] = _timestamp(description.get("TrainingStartTime"))
                self._end_trial(running.entry, running.trial, status, reason, running)
                del self.running[name]
                changed = True
        return changed

    def _read_objective(self, running: _Running) -> bool:
        try:
            batch = self.backend.read_training_logs(running.entry["name"], running.cursor)
        except SmMagicsError:
            return False
        running.cursor = batch.cursor
        changed = False
        for event in batch.events:
            for point in running.parser.parse(event.timestamp, event.message):
                running.entry["objective"] = point.value
                series = running.entry["series"]
                series.append([running.steps, point.value, point.timestamp])
                del series[:-MAX_SERIES]
                changed = True
                self._report(running, point.value)
                running.steps += 1
        return changed

    def _report(self, running: _Running, value: float) -> None:
        """Give the pruner the step; stop the trial if it says so (early stopping)."""
        if running.stop_sent or (
            self.spec.early_stopping == "Off" and (self.spec.strategy != "Hyperband")
        ):
            return
        running.trial.report(value, running.steps)
        if not running.trial.should_prune():
            return
        reason = getattr(self.study.pruner, "last_reason", None) or (
            f"Early stopping ({self.spec.strategy}): stopped at step {running.steps + 1} "
            f"with objective {value:.6g}"
        )
        running.early_reason = reason
        running.entry["early_stopped"] = True
        running.stop_sent = True
        with contextlib.suppress(SmMagicsError):
            self.backend.stop_training_job(running.entry["name"])
        running.entry["status"] = statuses.STOPPING

    def _stop_all(self) -> None:
        if self.state["status"] == "InProgress":
            self.state["status"] = "Stopping"
            self.save(self.state)
        for name, running in self.running.items():
            if not running.stop_sent:
                running.stop_sent = True
                with contextlib.suppress(SmMagicsError):
                    self.backend.stop_training_job(name)

    # -- ending -----------------------------------------------------------------------------

    def _end_trial(
        self,
        entry: TrialEntry,
        trial: optuna.trial.Trial,
        status: str,
        reason: str | None,
        running: _Running | None = None,
    ) -> None:
        from optuna.trial import TrialState

        entry["status"] = status
        entry["ended"] = _now()
        if reason:
            entry["failure_reason"] = reason
        value = entry.get("objective")
        if status == statuses.COMPLETED and value is not None:
            entry["objective_status"] = "Succeeded"
            self.study.tell(trial, value)
            self._record_best(entry, value)
        elif running is not None and running.early_reason and value is not None:
            entry["objective_status"] = "Succeeded"  # SageMaker keeps a stopped trial's value
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            entry["objective_status"] = "Failed"
            if status == statuses.COMPLETED:
                entry["failure_reason"] = (
                    f"The objective metric {self.spec.objective!r} never appeared in the "
                    f"logs (regex {self.objective_regex!r})"
                )
            self.study.tell(trial, state=TrialState.FAIL)

    def _record_best(self, entry: TrialEntry, value: float) -> None:
        best = self.state.get("best")
        better = best is None or (
            value > best["objective"] if self.spec.maximize else value < best["objective"]
        )
        if better:
            self.state["best"] = {
                "name": entry["name"],
                "objective": value,
                "params": entry["params"],
            }
            self.state["best_history"].append([_now(), value, entry["name"]])

    def _finish(self) -> None:
        trials = self.state["trials"]
        self.state["ended"] = _now()
        succeeded = [
            t
            for t in trials
            if t["status"] == statuses.COMPLETED and t.get("objective_status") == "Succeeded"
        ]
        if self.stop_requested.is_set() and self.state.get("stop_reason") != "MaxRuntimeExceeded":
            self.state["status"] = "Stopped"
            return
        if succeeded or (self.state.get("stop_reason") and self.state.get("best")):
            self.state["status"] = "Completed"
            return
        self.state["status"] = "Failed"
        failed = [t for t in trials if t.get("failure_reason")]
        if failed:
            first = failed[0]
            self.state["failure_reason"] = (
                f"All {len(trials)} training jobs failed; the first, {first['name']}: "
                f"{first['failure_reason']}"
            )
        else:
            self.state["failure_reason"] = "No training job completed with an objective."

    # -- warm start -------------------------------------------------------------------------

    def _warm_start(self, parent: TuningState) -> None:
        from sm_magics.tuning import search

        for entry in parent.get("trials", []):
            value = entry.get("objective")
            if entry.get("status") != statuses.COMPLETED or value is None:
                continue
            if search.add_finished_trial(self.study, self.spec, entry["params"], float(value)):
                self.state["warm_started"] += 1


def _timestamp(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    stamp = getattr(value, "timestamp", None)
    return float(stamp()) if callable(stamp) else None
