"""The shapes of what the backend contract's ``describe_*`` methods return.

Both backends answer in SageMaker's words (``DescribeTrainingJob``'s keys, and so on), so
the types here are SageMaker's response shapes, cut down to what sm-magics produces and
reads, with every value type taken from the ``mypy-boto3-sagemaker`` stubs where it fits.
Three rules make one type serve both backends:

* every key is optional (``total=False``): the local backend answers a subset, and a key
  SageMaker has not reported yet (``TrainingEndTime``) is simply absent;
* every key is read-only (PEP 705 ``ReadOnly``): a read-only optional key accepts a stub
  response whose key is required, so the SageMaker backend returns what its typed boto3
  client answers and mypy checks that answer against these types, with no cast. Nobody
  mutates a description: whoever needs another one builds a new dict
  (``{**description, "FailureReason": reason}``);
* nested lists and maps are ``Sequence`` and ``Mapping`` (covariant), so a stub's
  ``list[ChannelOutputTypeDef]`` is one of ours; instance types are ``str``, not the stubs'
  ``Literal`` unions, because instance types newer than the stubs, and the local
  backend's, pass through unchanged.

What sm-magics adds to SageMaker's shapes is declared apart, in subclasses whose names say
so: ``Local...`` (keys only the local backend answers, such as ``LocalJobDir``) and the
endpoint's additions (``Url``, ``TtlAt``, ``LastUpdateError``, ...), which both backends
fill because the endpoint description is built by sm-magics on both (``DescribeEndpoint``
and its endpoint config merged). ``tests/backends/test_descriptions_match_stubs.py``
checks every SageMaker key declared here against the stubs, so the types cannot drift from
the API.

This module is types (and four small readers of them): at run time it imports ``typing``
and nothing else (the stubs, ``typing_extensions`` and ``datetime`` are read by mypy
alone), so importing it costs nothing and never loads boto3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias, TypedDict

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from mypy_boto3_sagemaker.literals import (
        ProcessingJobStatusType,
        SecondaryStatusType,
        TrainingJobStatusType,
        TransformJobStatusType,
    )
    from mypy_boto3_sagemaker.type_defs import (
        FinalHyperParameterTuningJobObjectiveMetricTypeDef,
        MetricDataTypeDef,
        MetricDefinitionTypeDef,
        ModelArtifactsTypeDef,
        ObjectiveStatusCountersTypeDef,
        SecondaryStatusTransitionTypeDef,
        TrainingJobStatusCountersTypeDef,
    )
    from typing_extensions import ReadOnly, TypeIs


# -- parts shared by several descriptions ---------------------------------------------------


class ResourceConfig(TypedDict, total=False):
    """A training job's ``ResourceConfig`` (also a tuning job's training definition's)."""

    InstanceType: ReadOnly[str]
    InstanceCount: ReadOnly[int]
    VolumeSizeInGB: ReadOnly[int]


class StoppingCondition(TypedDict, total=False):
    """``StoppingCondition``: the longest a job may run."""

    MaxRuntimeInSeconds: ReadOnly[int]


class AlgorithmSpecification(TypedDict, total=False):
    """``AlgorithmSpecification``: the image and the metrics its logs are read for."""

    TrainingImage: ReadOnly[str]
    TrainingInputMode: ReadOnly[str]
    MetricDefinitions: ReadOnly[Sequence[MetricDefinitionTypeDef]]


# -- training -------------------------------------------------------------------------------


class TrainingJobDescription(TypedDict, total=False):
    """``DescribeTrainingJob``'s answer: :meth:`Backend.describe_training_job` returns it."""

    TrainingJobName: ReadOnly[str]
    TrainingJobArn: ReadOnly[str]
    TuningJobArn: ReadOnly[str]
    TrainingJobStatus: ReadOnly[TrainingJobStatusType]
    SecondaryStatus: ReadOnly[SecondaryStatusType]
    SecondaryStatusTransitions: ReadOnly[Sequence[SecondaryStatusTransitionTypeDef]]
    FailureReason: ReadOnly[str]
    HyperParameters: ReadOnly[Mapping[str, str]]
    AlgorithmSpecification: ReadOnly[AlgorithmSpecification]
    #: Where each channel's data comes from (``FileDataSource`` locally, S3 on SageMaker).
    InputDataConfig: ReadOnly[Sequence[Mapping[str, object]]]
    OutputDataConfig: ReadOnly[Mapping[str, object]]
    ResourceConfig: ReadOnly[ResourceConfig]
    StoppingCondition: ReadOnly[StoppingCondition]
    EnableManagedSpotTraining: ReadOnly[bool]
    CreationTime: ReadOnly[datetime]
    TrainingStartTime: ReadOnly[datetime]
    TrainingEndTime: ReadOnly[datetime]
    LastModifiedTime: ReadOnly[datetime]
    TrainingTimeInSeconds: ReadOnly[int]
    BillableTimeInSeconds: ReadOnly[int]
    FinalMetricDataList: ReadOnly[Sequence[MetricDataTypeDef]]
    ModelArtifacts: ReadOnly[ModelArtifactsTypeDef]
    Environment: ReadOnly[Mapping[str, str]]


class LocalTrainingJobDescription(TrainingJobDescription, total=False):
    """What the local backend adds to ``DescribeTrainingJob``'s keys."""

    #: The job's tags (SageMaker answers them through ``ListTags`` instead).
    Tags: ReadOnly[Mapping[str, str]]
    #: The job folder (``SM_MAGICS_HOME/jobs/<name>``).
    LocalJobDir: ReadOnly[str]
    #: Options recorded and not acted on, as lines for the user.
    LocalNotes: ReadOnly[Sequence[str]]
    #: The digest of the staged code (lineage).
    SourceHash: ReadOnly[str | None]
    #: ``output.tar.gz`` (``/opt/ml/output/data``), once packed.
    OutputDataArtifacts: ReadOnly[str]


# -- batch transform ------------------------------------------------------------------------


class TransformResources(TypedDict, total=False):
    """A transform job's ``TransformResources``."""

    InstanceType: ReadOnly[str]
    InstanceCount: ReadOnly[int]


class TransformJobDescription(TypedDict, total=False):
    """``DescribeTransformJob``'s answer: :meth:`Backend.describe_transform_job` returns it."""

    TransformJobName: ReadOnly[str]
    TransformJobArn: ReadOnly[str]
    TransformJobStatus: ReadOnly[TransformJobStatusType]
    FailureReason: ReadOnly[str]
    ModelName: ReadOnly[str]
    TransformInput: ReadOnly[Mapping[str, object]]
    TransformOutput: ReadOnly[Mapping[str, object]]
    TransformResources: ReadOnly[TransformResources]
    CreationTime: ReadOnly[datetime]
    TransformStartTime: ReadOnly[datetime]
    TransformEndTime: ReadOnly[datetime]


class LocalTransformJobDescription(TransformJobDescription, total=False):
    """What the local backend adds to ``DescribeTransformJob``'s keys: its progress."""

    FilesProcessed: ReadOnly[int]
    RecordsProcessed: ReadOnly[int]


# -- processing -----------------------------------------------------------------------------


class ProcessingS3Output(TypedDict, total=False):
    """One processing output's ``S3Output``: where the folder is stored."""

    S3Uri: ReadOnly[str]
    LocalPath: ReadOnly[str]
    S3UploadMode: ReadOnly[str]


class ProcessingOutput(TypedDict, total=False):
    """One entry of ``ProcessingOutputConfig.Outputs``."""

    OutputName: ReadOnly[str]
    AppManaged: ReadOnly[bool]
    S3Output: ReadOnly[ProcessingS3Output]


class ProcessingOutputConfig(TypedDict, total=False):
    """``ProcessingOutputConfig``: the outputs, each with its URI."""

    Outputs: ReadOnly[Sequence[ProcessingOutput]]


class ProcessingInput(TypedDict, total=False):
    """One entry of ``ProcessingInputs`` (the code is one too)."""

    InputName: ReadOnly[str]
    AppManaged: ReadOnly[bool]
    S3Input: ReadOnly[Mapping[str, object]]


class ProcessingClusterConfig(TypedDict, total=False):
    """``ProcessingResources.ClusterConfig``: the instances a processing job runs on."""

    InstanceType: ReadOnly[str]
    InstanceCount: ReadOnly[int]
    VolumeSizeInGB: ReadOnly[int]


class ProcessingResources(TypedDict, total=False):
    """``ProcessingResources``."""

    ClusterConfig: ReadOnly[ProcessingClusterConfig]


class AppSpecification(TypedDict, total=False):
    """A processing job's ``AppSpecification``: image, entry point and arguments."""

    ImageUri: ReadOnly[str]
    ContainerEntrypoint: ReadOnly[Sequence[str]]
    ContainerArguments: ReadOnly[Sequence[str]]


class ProcessingJobDescription(TypedDict, total=False):
    """``DescribeProcessingJob``'s answer: :meth:`Backend.describe_processing_job` returns it."""

    ProcessingJobName: ReadOnly[str]
    ProcessingJobArn: ReadOnly[str]
    ProcessingJobStatus: ReadOnly[ProcessingJobStatusType]
    ProcessingInputs: ReadOnly[Sequence[ProcessingInput]]
    ProcessingOutputConfig: ReadOnly[ProcessingOutputConfig]
    ProcessingResources: ReadOnly[ProcessingResources]
    StoppingCondition: ReadOnly[StoppingCondition]
    AppSpecification: ReadOnly[AppSpecification]
    Environment: ReadOnly[Mapping[str, str]]
    ExitMessage: ReadOnly[str]
    FailureReason: ReadOnly[str]
    CreationTime: ReadOnly[datetime]
    ProcessingStartTime: ReadOnly[datetime]
    ProcessingEndTime: ReadOnly[datetime]
    LastModifiedTime: ReadOnly[datetime]


class LocalProcessingJobDescription(ProcessingJobDescription, total=False):
    """What the local backend adds to ``DescribeProcessingJob``'s keys (as for training)."""

    Tags: ReadOnly[Mapping[str, str]]
    LocalJobDir: ReadOnly[str]
    LocalNotes: ReadOnly[Sequence[str]]
    SourceHash: ReadOnly[str | None]


# -- tuning ---------------------------------------------------------------------------------


class TrialSummary(TypedDict, total=False):
    """One trial as ``ListTrainingJobsForHyperParameterTuningJob`` lists it.

    :meth:`Backend.list_tuning_trials` returns these, and ``BestTrainingJob`` is one.
    """

    TrainingJobName: ReadOnly[str]
    TrainingJobArn: ReadOnly[str]
    TuningJobName: ReadOnly[str]
    CreationTime: ReadOnly[datetime]
    TrainingStartTime: ReadOnly[datetime]
    TrainingEndTime: ReadOnly[datetime]
    #: ``str``, not the stubs' ``Literal``: the local tuner's state types it so.
    TrainingJobStatus: ReadOnly[str]
    TunedHyperParameters: ReadOnly[Mapping[str, str]]
    FailureReason: ReadOnly[str]
    FinalHyperParameterTuningJobObjectiveMetric: ReadOnly[
        FinalHyperParameterTuningJobObjectiveMetricTypeDef
    ]
    ObjectiveStatus: ReadOnly[str]


class LocalTrialSummary(TrialSummary, total=False):
    """What the local backend adds to a trial's summary: what the widget charts and sorts."""

    #: ``[step, value, timestamp]`` of each objective value the trial logged.
    LocalObjectiveSeries: ReadOnly[Sequence[Sequence[float]]]
    #: Whether the pruner stopped it (SageMaker's early stopping).
    LocalEarlyStopped: ReadOnly[bool]


class TuningResourceLimits(TypedDict, total=False):
    """``HyperParameterTuningJobConfig.ResourceLimits``."""

    MaxNumberOfTrainingJobs: ReadOnly[int]
    MaxParallelTrainingJobs: ReadOnly[int]
    MaxRuntimeInSeconds: ReadOnly[int]


class TuningObjective(TypedDict, total=False):
    """``HyperParameterTuningJobObjective``: the metric and whether to minimize it."""

    Type: ReadOnly[str]
    MetricName: ReadOnly[str]


class TuningJobConfig(TypedDict, total=False):
    """``HyperParameterTuningJobConfig``: the search."""

    Strategy: ReadOnly[str]
    HyperParameterTuningJobObjective: ReadOnly[TuningObjective]
    ResourceLimits: ReadOnly[TuningResourceLimits]
    ParameterRanges: ReadOnly[Mapping[str, object]]
    TrainingJobEarlyStoppingType: ReadOnly[str]


class TrainingJobDefinition(TypedDict, total=False):
    """A tuning job's ``TrainingJobDefinition``: what each trial runs."""

    StaticHyperParameters: ReadOnly[Mapping[str, str]]
    AlgorithmSpecification: ReadOnly[AlgorithmSpecification]
    ResourceConfig: ReadOnly[ResourceConfig]


class TuningJobDescription(TypedDict, total=False):
    """``DescribeHyperParameterTuningJob``'s answer (:meth:`Backend.describe_tuning_job`)."""

    HyperParameterTuningJobName: ReadOnly[str]
    HyperParameterTuningJobArn: ReadOnly[str]
    HyperParameterTuningJobStatus: ReadOnly[str]
    HyperParameterTuningJobConfig: ReadOnly[TuningJobConfig]
    TrainingJobDefinition: ReadOnly[TrainingJobDefinition]
    CreationTime: ReadOnly[datetime]
    LastModifiedTime: ReadOnly[datetime]
    HyperParameterTuningEndTime: ReadOnly[datetime]
    TrainingJobStatusCounters: ReadOnly[TrainingJobStatusCountersTypeDef]
    ObjectiveStatusCounters: ReadOnly[ObjectiveStatusCountersTypeDef]
    BestTrainingJob: ReadOnly[TrialSummary]
    WarmStartConfig: ReadOnly[Mapping[str, object]]
    FailureReason: ReadOnly[str]


class LocalTuningJobDescription(TuningJobDescription, total=False):
    """What the local backend adds to ``DescribeHyperParameterTuningJob``'s keys."""

    BestTrainingJob: ReadOnly[LocalTrialSummary]
    #: The tuning job's folder (``SM_MAGICS_HOME/tuning/<name>``).
    LocalTuningDir: ReadOnly[str]
    #: ``[time, objective, trial name]`` each time the best objective improved.
    LocalBestObjectiveHistory: ReadOnly[Sequence[Sequence[float | str]]]
    #: How many trials a warm start took from its parent jobs.
    LocalWarmStartedTrials: ReadOnly[int]


# -- endpoints ------------------------------------------------------------------------------


class EndpointVariantDescription(TypedDict, total=False):
    """One entry of an endpoint description's ``ProductionVariants``.

    ``DescribeEndpoint``'s live figures (weights, counts) merged with the endpoint
    config's (instance type, model) and the model's ``ModelDataUrl``: what a view of the
    variant needs in one place. ``None`` where a side is missing (a variant being added
    has no live figures yet, one being removed no config).
    """

    VariantName: ReadOnly[str]
    CurrentWeight: ReadOnly[float]
    DesiredWeight: ReadOnly[float]
    CurrentInstanceCount: ReadOnly[int]
    DesiredInstanceCount: ReadOnly[int]
    InstanceType: ReadOnly[str | None]
    ModelName: ReadOnly[str]
    ModelDataUrl: ReadOnly[str | None]
    ServerlessConfig: ReadOnly[Mapping[str, object]]


class ServedVariantDescription(EndpointVariantDescription, total=False):
    """What the local router adds to a variant: its traffic and the defaults it serves with.

    Only local variants have them (a SageMaker variant's figures are CloudWatch
    metrics); readers fall back to nothing.
    """

    Invocations: ReadOnly[int]
    Errors: ReadOnly[int]
    LatencyP50Ms: ReadOnly[float | None]
    LatencyP99Ms: ReadOnly[float | None]
    ServingDefaults: ReadOnly[str | None]
    ServingDefaultsReason: ReadOnly[str | None]


class EndpointStatusDescription(TypedDict, total=False):
    """``DescribeEndpoint``'s own keys, as both backends answer them."""

    EndpointName: ReadOnly[str]
    EndpointArn: ReadOnly[str]
    EndpointConfigName: ReadOnly[str | None]
    #: SageMaker's status words, a system update or rollback read as ``Updating``.
    EndpointStatus: ReadOnly[str]
    ProductionVariants: ReadOnly[Sequence[ServedVariantDescription]]
    FailureReason: ReadOnly[str]
    CreationTime: ReadOnly[datetime | None]
    LastModifiedTime: ReadOnly[datetime | None]


class EndpointDescription(EndpointStatusDescription, total=False):
    """:meth:`Backend.describe_endpoint`'s answer: ``DescribeEndpoint`` and sm-magics' keys.

    Both backends fill these additions.
    """

    #: The URL requests go to (the local router's, SageMaker's runtime endpoint).
    Url: ReadOnly[str | None]
    #: When ``--ttl`` deletes the endpoint; ``None`` without one.
    TtlAt: ReadOnly[datetime | None]
    #: Why the last update failed, the endpoint still serving its previous config.
    LastUpdateError: ReadOnly[str]
    #: SageMaker's own status word where ``EndpointStatus`` reads it differently.
    SageMakerStatus: ReadOnly[str]


#: A description of any job kind: what :func:`sm_magics.backends.kinds.describe` returns.
JobDescription: TypeAlias = (
    TrainingJobDescription
    | TransformJobDescription
    | ProcessingJobDescription
    | TuningJobDescription
)


def ended_trials(description: TuningJobDescription) -> int:
    """Return how many of a tuning job's trials have ended (every status but InProgress)."""
    counters = description.get("TrainingJobStatusCounters")
    if not counters:
        return 0
    return (
        counters.get("Completed", 0)
        + counters.get("RetryableError", 0)
        + counters.get("NonRetryableError", 0)
        + counters.get("Stopped", 0)
    )


def max_trials(description: TuningJobDescription) -> int | None:
    """Return the most trials a tuning job may run (``MaxNumberOfTrainingJobs``)."""
    config = description.get("HyperParameterTuningJobConfig")
    limits = config.get("ResourceLimits") if config else None
    return limits.get("MaxNumberOfTrainingJobs") if limits else None


def is_local_tuning(description: TuningJobDescription) -> TypeIs[LocalTuningJobDescription]:
    """Return whether a tuning description is the local backend's (it has the extras)."""
    return "LocalTuningDir" in description


def is_local_trial(summary: TrialSummary) -> TypeIs[LocalTrialSummary]:
    """Return whether a trial summary is the local backend's (it has the extras)."""
    return "LocalObjectiveSeries" in summary
