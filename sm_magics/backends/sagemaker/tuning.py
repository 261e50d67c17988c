"""Hyperparameter tuning jobs on SageMaker: CreateHyperParameterTuningJob and friends.

The training job definition is the ``CreateTrainingJob`` request the training path builds
for the same spec (image, code upload by content hash, channels, role, spot, VPC,
metric definitions): one spec, turned into a ``TrainingJobDefinition`` here, never written
twice. Trials are SageMaker's own training jobs; listing them
(``ListTrainingJobsForHyperParameterTuningJob``) also records each as a ledger row tagged
with its tuning job, so costs, ``%sm_jobs`` and the panel count trials the same way on
both backends.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from sm_magics.backends import descriptions
from sm_magics.backends.sagemaker import jobs
from sm_magics.errors import InvalidRequest
from sm_magics.ledger_records import JobRecord, job_row_spec
from sm_magics.tuning import ranges as ranges_mod
from sm_magics.tuning.spec import TRIAL_OF_TAG, TuningSpec

if TYPE_CHECKING:
    from sm_magics.backends.descriptions import TrialSummary, TuningJobDescription
    from sm_magics.backends.sagemaker.aws import AwsSession
    from sm_magics.backends.sagemaker.training import SageMakerTraining
    from sm_magics.ledger import Ledger
    from sm_magics.ledger_records import JobChanges

SAGEMAKER = "sagemaker"
BACKEND_NAME = "sagemaker"
KIND = "tuning"
#: ``TrainingJobDefinition`` takes these fields of a ``CreateTrainingJob`` request as they are.
_DEFINITION_FIELDS = (
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "StoppingCondition",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "Environment",
)


def tuning_job_request(spec: TuningSpec, training_request: dict[str, Any]) -> dict[str, Any]:
    """Return ``CreateHyperParameterTuningJob``'s parameters for ``spec``.

    ``training_request`` is the ``CreateTrainingJob`` request of the spec's training
    template; its hyperparameters become the static ones (the tuned names removed), its
    tags the tuning job's tags.
    """
    tuned = {rng.name for rng in spec.ranges}
    static = {k: v for k, v in training_request["HyperParameters"].items() if k not in tuned}
    static["sagemaker_job_name"] = json.dumps(spec.name)
    definition: dict[str, Any] = {
        key: training_request[key] for key in _DEFINITION_FIELDS if key in training_request
    }
    resources = dict(training_request["ResourceConfig"])
    resources.pop("KeepAlivePeriodInSeconds", None)  # warm pools are per training job
    definition["ResourceConfig"] = resources
    definition["StaticHyperParameters"] = static
    limits: dict[str, int] = {"MaxParallelTrainingJobs": spec.max_parallel}
    if spec.strategy != "Grid":  # a grid's size is its number of jobs
        limits["MaxNumberOfTrainingJobs"] = spec.max_jobs
    if spec.max_runtime:
        limits["MaxRuntimeInSeconds"] = spec.max_runtime
    config: dict[str, Any] = {
        "Strategy": spec.strategy,
        "HyperParameterTuningJobObjective": {
            "Type": spec.objective_type,
            "MetricName": spec.objective,
        },
        "ResourceLimits": limits,
        "ParameterRanges": ranges_mod.to_parameter_ranges(spec.ranges),
        "TrainingJobEarlyStoppingType": spec.early_stopping,
    }
    if spec.random_seed is not None:
        config["RandomSeed"] = spec.random_seed
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": spec.name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": definition,
        "Tags": training_request.get("Tags", []),
    }
    if spec.warm_start:
        request["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": parent} for parent in spec.warm_start
            ],
            "WarmStartType": "IdenticalDataAndAlgorithm",
        }
    return request


class SageMakerTuning:
    """Tuning methods of the sagemaker backend, composed over its session and training."""

    def __init__(self, aws: AwsSession, ledger: Ledger, training: SageMakerTraining) -> None:
        self.aws = aws
        self.ledger = ledger
        self.training = training  # builds the trials' request: prepare_training_request

    def create_tuning_job(self, spec: TuningSpec) -> None:
        """Start a tuning job on SageMaker; return once it is accepted.

        Raises
        ------
        InvalidRequest, AlreadyExists, AccessDenied, ResourceLimitExceeded
            What the checks or AWS said; the ledger row is removed again, nothing is left.
        """
        template = spec.training
        if template.driver:
            raise InvalidRequest(
                f"--driver {template.driver} cannot be tuned on SageMaker: a tuning job's "
                "training definition cannot override the image's entry point, which the "
                "ModelTrainer conventions need. Drop --driver to tune with the framework "
                "container's conventions."
            )
        request_training, source_hash, image = self.training.prepare_training_request(template)
        request = tuning_job_request(spec, request_training)
        self.ledger.insert_job(
            JobRecord(
                name=spec.name,
                kind=KIND,
                backend=BACKEND_NAME,
                region=self.aws.region,
                status="InProgress",
                secondary_status=f"0/{spec.max_jobs} trials",
                instance_type=template.instance_type,
                instance_count=template.instance_count,
                spot=template.spot,
                created_at=time.time(),
                source_hash=source_hash,
                notebook=template.notebook,
                tags=dict(template.tags),
                spec=job_row_spec({**spec.to_json(), "resolved_image": image}),
            )
        )
        try:
            self.aws.call(SAGEMAKER, "create_hyper_parameter_tuning_job", **request)
        except BaseException:
            self.ledger.delete_job(spec.name)
            raise

    def describe_tuning_job(self, name: str) -> TuningJobDescription:
        """Return ``DescribeHyperParameterTuningJob``'s answer; sync the ledger row."""
        description: TuningJobDescription = jobs.describe(
            self.aws,
            self.ledger,
            "tuning job",
            name,
            lambda client: client.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name
            ),
        )
        if self._sync_row(name, description):
            # The trials bill as training jobs of their own: whenever the tuning job
            # moved, their rows are brought up too, so costs and cleanup see them.
            self.list_tuning_trials(name)
        return description

    def _sync_row(self, name: str, description: TuningJobDescription) -> bool:
        """Bring the tuning job's row up to ``description``; return whether it moved."""
        record = self.ledger.get_job(name)
        if record is None or record.backend != BACKEND_NAME:
            return False
        total = descriptions.max_trials(description)
        progress = f"{descriptions.ended_trials(description)}/{total or '?'} trials"
        best_job = description.get("BestTrainingJob")
        best = best_job.get("FinalHyperParameterTuningJobObjectiveMetric") if best_job else None
        if best:
            progress += f", best {float(best['Value']):.6g}"
        changes: JobChanges = {
            "status": description.get("HyperParameterTuningJobStatus", record.status),
            "secondary_status": progress,
            "ended_at": jobs.epoch(description.get("HyperParameterTuningEndTime")),
            "failure_reason": description.get("FailureReason"),
        }
        if any(getattr(record, key) != value for key, value in changes.items()):
            self.ledger.update_job(name, **changes)
            return True
        return False

    def list_tuning_trials(self, name: str) -> list[TrialSummary]:
        """Return every trial's summary (newest first), each recorded in the ledger."""
        summaries: list[TrialSummary] = []
        token: str | None = None
        while True:
            list_page = self.aws.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job
            page = (
                list_page(
                    HyperParameterTuningJobName=name,
                    MaxResults=100,
                    SortBy="CreationTime",
                    SortOrder="Descending",
                    NextToken=token,
                )
                if token
                else list_page(
                    HyperParameterTuningJobName=name,
                    MaxResults=100,
                    SortBy="CreationTime",
                    SortOrder="Descending",
                )
            )
            summaries.extend(page["TrainingJobSummaries"])
            token = page.get("NextToken")
            if not token:
                break
        parent = self.ledger.get_job(name)
        if parent is not None:
            for summary in summaries:
                self._record_trial(parent, summary)
        return summaries

    def _record_trial(self, parent: JobRecord, summary: TrialSummary) -> None:
        """Insert or bring up to date the ledger row of one trial (the backend's row)."""
        trial = summary["TrainingJobName"]
        status = summary["TrainingJobStatus"]
        started = jobs.epoch(summary.get("TrainingStartTime"))
        ended = jobs.epoch(summary.get("TrainingEndTime"))
        reason = summary.get("FailureReason")
        changes: JobChanges = {
            "status": status,
            "started_at": started,
            "ended_at": ended,
            "failure_reason": reason,
        }
        existing = self.ledger.get_job(trial)
        if existing is None:
            self.ledger.insert_job(
                JobRecord(
                    name=trial,
                    backend=BACKEND_NAME,
                    region=parent.region,
                    created_at=jobs.epoch(summary.get("CreationTime")) or time.time(),
                    instance_type=parent.instance_type,
                    instance_count=parent.instance_count,
                    spot=parent.spot,
                    notebook=parent.notebook,
                    tags={**parent.tags, TRIAL_OF_TAG: parent.name},
                    spec={"hyperparameters": dict(summary.get("TunedHyperParameters", {}))},
                    status=status,
                    started_at=started,
                    ended_at=ended,
                    failure_reason=reason,
                )
            )
        elif any(getattr(existing, key) != value for key, value in changes.items()):
            self.ledger.update_job(trial, **changes)

    def stop_tuning_job(self, name: str) -> None:
        """Stop the tuning job and its running trials; idempotent once it ended."""
        jobs.stop(
            self.aws,
            self.ledger,
            name,
            status=lambda: str(self.describe_tuning_job(name)["HyperParameterTuningJobStatus"]),
            operation="stop_hyper_parameter_tuning_job",
            params={"HyperParameterTuningJobName": name},
            secondary=False,
        )


def best_trial_name(description: TuningJobDescription) -> str | None:
    """Return the best trial's training job name, if the tuning job has one yet."""
    best = description.get("BestTrainingJob")
    return best.get("TrainingJobName") if best else None


__all__ = ["SageMakerTuning", "best_trial_name", "tuning_job_request"]
