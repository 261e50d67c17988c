"""SageMaker's hyperparameter tuner, played against moto for the notebook tests.

moto stores a ``CreateHyperParameterTuningJob`` and marks it ``Completed`` with a canned
best job; it runs no trial and has neither ``ListTrainingJobsForHyperParameterTuningJob``
nor ``StopHyperParameterTuningJob``. :class:`FakeTuner` takes the stored job over: it
samples each trial's values from the request's ``ParameterRanges`` (a seeded random
search: what is under test is the client, not the search), creates each trial as a
training job in moto (the quickstart's fake container runs it), reads the objective from
the trial's CloudWatch lines with the request's own regex (the last value, as SageMaker
does), and keeps the tuning job's status, counters and best trial. The two missing
operations are added to moto's response class and answered from those trials.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import threading
import time
from typing import Any

from sm_magics.tuning.ranges import (
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    from_parameter_ranges,
)

LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def _sample(rng: random.Random, spec: Any) -> Any:
    if isinstance(spec, CategoricalRange):
        return rng.choice(spec.values)
    if isinstance(spec, IntegerRange):
        return rng.randint(spec.low, spec.high)
    assert isinstance(spec, ContinuousRange)
    if spec.scaling == "Logarithmic":
        return math.exp(rng.uniform(math.log(spec.low), math.log(spec.high)))
    return rng.uniform(spec.low, spec.high)


class FakeTuner:
    """Runs each new tuning job's trials in moto; see the module docstring."""

    def __init__(self, logs: Any) -> None:
        self.logs = logs
        self.trials: dict[str, list[dict[str, Any]]] = {}
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, backend: Any, job: Any) -> None:
        """Take over a tuning job moto just stored."""
        job.hyper_parameter_tuning_job_status = "InProgress"
        job.best_training_job = None
        job.OverallBestTrainingJob = None
        job.failure_reason = None
        job.tuning_job_completion_details = None
        job.training_job_status_counters = dict.fromkeys(
            ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped"), 0
        )
        job.objective_status_counters = {"Succeeded": 0, "Pending": 0, "Failed": 0}
        self.trials[job.hyper_parameter_tuning_job_name] = []
        thread = threading.Thread(target=self._run, args=(backend, job), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _run(self, backend: Any, job: Any) -> None:
        from moto.core.utils import utcnow

        try:
            self._tune(backend, job)
            job.hyper_parameter_tuning_job_status = (
                "Completed" if job.best_training_job else "Failed"
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)
            job.hyper_parameter_tuning_job_status = "Failed"
            job.failure_reason = f"fake tuner: {exc!r}"
        job.hyper_parameter_tuning_end_time = job.last_modified_time = utcnow()

    def _tune(self, backend: Any, job: Any) -> None:
        config = job.hyper_parameter_tuning_job_config
        definition = job.training_job_definition
        objective = config["HyperParameterTuningJobObjective"]
        regex = next(
            m["Regex"]
            for m in definition["AlgorithmSpecification"]["MetricDefinitions"]
            if m["Name"] == objective["MetricName"]
        )
        ranges = from_parameter_ranges(config["ParameterRanges"])
        limits = config["ResourceLimits"]
        count = limits.get("MaxNumberOfTrainingJobs") or 1
        rng = random.Random(0)
        maximize = objective["Type"] == "Maximize"
        tuning = job.hyper_parameter_tuning_job_name
        for number in range(count):
            values = {r.name: _sample(rng, r) for r in ranges}
            digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:8]
            name = f"{tuning}-{number + 1:03d}-{digest}"
            hyperparameters = dict(definition.get("StaticHyperParameters") or {})
            hyperparameters.update({k: json.dumps(v) for k, v in values.items()})
            summary: dict[str, Any] = {
                "TrainingJobName": name,
                "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
                "TuningJobName": tuning,
                "CreationTime": time.time(),
                "TrainingJobStatus": "InProgress",
                "TunedHyperParameters": {k: str(v) for k, v in values.items()},
                "ObjectiveStatus": "Pending",
            }
            self.trials[tuning].append(summary)
            trial = backend.create_training_job(
                training_job_name=name,
                hyper_parameters=hyperparameters,
                algorithm_specification=definition["AlgorithmSpecification"],
                role_arn=definition["RoleArn"],
                input_data_config=definition.get("InputDataConfig") or [],
                output_data_config=definition["OutputDataConfig"],
                resource_config=definition["ResourceConfig"],
                vpc_config=definition.get("VpcConfig"),
                stopping_condition=definition["StoppingCondition"],
                tags=[],
                enable_network_isolation=False,
                enable_inter_container_traffic_encryption=False,
                enable_managed_spot_training=False,
                checkpoint_config=definition.get("CheckpointConfig"),
                debug_hook_config=None,
                debug_rule_configurations=None,
                tensor_board_output_config=None,
                experiment_config=None,
            )
            deadline = time.time() + 240
            while trial.training_job_status == "InProgress" and time.time() < deadline:
                time.sleep(0.1)
            summary["TrainingJobStatus"] = trial.training_job_status
            summary["TrainingStartTime"] = summary["CreationTime"]
            summary["TrainingEndTime"] = time.time()
            value = self._objective(name, regex)
            counters = job.training_job_status_counters
            if trial.training_job_status == "Completed" and value is not None:
                summary["ObjectiveStatus"] = "Succeeded"
                summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                    "Type": objective["Type"],
                    "MetricName": objective["MetricName"],
                    "Value": value,
                }
                counters["Completed"] += 1
                job.objective_status_counters["Succeeded"] += 1
                best = job.best_training_job
                if best is None or (
                    value > best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
                    if maximize
                    else value < best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
                ):
                    job.best_training_job = dict(summary)
            else:
                summary["ObjectiveStatus"] = "Failed"
                summary["FailureReason"] = getattr(trial, "failure_reason", None) or "no objective"
                counters["NonRetryableError"] += 1
                job.objective_status_counters["Failed"] += 1

    def _objective(self, trial: str, regex: str) -> float | None:
        pattern = re.compile(regex)
        value = None
        events = self.logs.filter_log_events(logGroupName=LOG_GROUP, logStreamNamePrefix=trial)
        for event in events.get("events", []):
            match = pattern.search(event["message"])
            if match:
                value = float(match.group(1))
        return value

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=600)


def install(monkeypatch: Any, tuner: FakeTuner) -> None:
    """Hand every new tuning job to ``tuner``; answer the operations moto lacks."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    created = SageMakerModelBackend.create_hyper_parameter_tuning_job

    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        arn = created(self, *args, **kwargs)
        job = self.hyper_parameter_tuning_jobs[kwargs["hyper_parameter_tuning_job_name"]]
        tuner.start(self, job)
        return arn

    def list_trials(self: Any) -> Any:
        name = self._get_param("HyperParameterTuningJobName")
        trials = sorted(tuner.trials.get(name, []), key=lambda t: -t["CreationTime"])
        return ActionResult({"TrainingJobSummaries": trials})

    def stop(self: Any) -> Any:
        name = self._get_param("HyperParameterTuningJobName")
        job = self.sagemaker_backend.hyper_parameter_tuning_jobs[name]
        job.hyper_parameter_tuning_job_status = "Stopping"
        from moto.core.responses import EmptyResult

        return EmptyResult()

    monkeypatch.setattr(SageMakerModelBackend, "create_hyper_parameter_tuning_job", create)
    monkeypatch.setattr(
        SageMakerResponse,
        "list_training_jobs_for_hyper_parameter_tuning_job",
        list_trials,
        raising=False,
    )
    monkeypatch.setattr(SageMakerResponse, "stop_hyper_parameter_tuning_job", stop, raising=False)
