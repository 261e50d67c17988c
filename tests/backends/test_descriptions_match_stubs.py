"""The describe types of the backend contract cannot drift from SageMaker's API.

``sm_magics.backends.descriptions`` declares the keys sm-magics produces and reads of each
``Describe*`` answer. Every such key must be one SageMaker answers: it is looked up in the
``mypy-boto3-sagemaker`` TypedDict of that answer (importable at run time; its
``__annotations__`` are the API's keys). What sm-magics adds is declared in subclasses of
their own, and those keys must *not* be SageMaker's (a key SageMaker has belongs in the
API type, where its value type is checked against the stub's by mypy). The SageMaker
answers the sagemaker backend reads (``sm_magics.backends.sagemaker.answers``) are checked
the same way.
"""

from __future__ import annotations

import typing

import pytest

from sm_magics.backends import descriptions
from sm_magics.backends.sagemaker import answers

type_defs = pytest.importorskip("mypy_boto3_sagemaker.type_defs")

#: Each API type here -> the stub TypedDicts its keys come from (a key must be in one).
API_SHAPES: dict[str, tuple[str, ...]] = {
    "ResourceConfig": ("ResourceConfigOutputTypeDef",),
    "StoppingCondition": ("StoppingConditionTypeDef", "ProcessingStoppingConditionTypeDef"),
    "AlgorithmSpecification": (
        "AlgorithmSpecificationOutputTypeDef",
        "HyperParameterAlgorithmSpecificationOutputTypeDef",
    ),
    "TrainingJobDescription": ("DescribeTrainingJobResponseTypeDef",),
    "TransformResources": ("TransformResourcesTypeDef",),
    "TransformJobDescription": ("DescribeTransformJobResponseTypeDef",),
    "ProcessingS3Output": ("ProcessingS3OutputTypeDef",),
    "ProcessingOutput": ("ProcessingOutputTypeDef",),
    "ProcessingOutputConfig": ("ProcessingOutputConfigOutputTypeDef",),
    "ProcessingInput": ("ProcessingInputTypeDef",),
    "ProcessingClusterConfig": ("ProcessingClusterConfigOutputTypeDef",),
    "ProcessingResources": ("ProcessingResourcesOutputTypeDef",),
    "AppSpecification": ("AppSpecificationOutputTypeDef",),
    "ProcessingJobDescription": ("DescribeProcessingJobResponseTypeDef",),
    "TrialSummary": ("HyperParameterTrainingJobSummaryTypeDef",),
    "TuningResourceLimits": ("ResourceLimitsTypeDef",),
    "TuningObjective": ("HyperParameterTuningJobObjectiveTypeDef",),
    "TuningJobConfig": ("HyperParameterTuningJobConfigOutputTypeDef",),
    "TrainingJobDefinition": ("HyperParameterTrainingJobDefinitionOutputTypeDef",),
    "TuningJobDescription": ("DescribeHyperParameterTuningJobResponseTypeDef",),
    # Built by sm-magics on both backends from DescribeEndpoint, the endpoint config's
    # variant and the model's container.
    "EndpointVariantDescription": (
        "ProductionVariantSummaryTypeDef",
        "ProductionVariantTypeDef",
        "ContainerDefinitionOutputTypeDef",
    ),
    "EndpointStatusDescription": ("DescribeEndpointOutputTypeDef",),
    # SageMaker's answers as the sagemaker backend reads them (sagemaker/answers.py).
    "LiveVariant": ("ProductionVariantSummaryTypeDef",),
    "PendingDeployment": ("PendingDeploymentSummaryTypeDef",),
    "EndpointAnswer": ("DescribeEndpointOutputTypeDef",),
    "ConfigVariant": ("ProductionVariantOutputTypeDef",),
    "EndpointConfigAnswer": ("DescribeEndpointConfigOutputTypeDef",),
    "ContainerAnswer": ("ContainerDefinitionOutputTypeDef",),
    "ModelAnswer": ("DescribeModelOutputTypeDef",),
    "InferenceSpecification": ("InferenceSpecificationOutputTypeDef",),
    "ModelPackageAnswer": ("DescribeModelPackageOutputTypeDef",),
}

#: Each type of sm-magics' additions -> the API type it adds to.
ADDITIONS: dict[str, str] = {
    "LocalTrainingJobDescription": "TrainingJobDescription",
    "LocalTransformJobDescription": "TransformJobDescription",
    "LocalProcessingJobDescription": "ProcessingJobDescription",
    "LocalTrialSummary": "TrialSummary",
    "LocalTuningJobDescription": "TuningJobDescription",
    "ServedVariantDescription": "EndpointVariantDescription",
    "EndpointDescription": "EndpointStatusDescription",
}


def _typed_dicts() -> dict[str, type]:
    """Every TypedDict of the contract's descriptions and of the SageMaker answers."""
    return {
        name: value
        for module in (descriptions, answers)
        for name, value in vars(module).items()
        if isinstance(value, type) and typing.is_typeddict(value)
    }


def _stub_keys(stubs: tuple[str, ...]) -> set[str]:
    keys: set[str] = set()
    for stub in stubs:
        keys |= set(getattr(type_defs, stub).__annotations__)
    return keys


def unknown_keys(ours: type, stubs: tuple[str, ...]) -> set[str]:
    """Return the keys of ``ours`` that none of ``stubs`` has."""
    return set(ours.__annotations__) - _stub_keys(stubs)


def test_every_type_is_checked() -> None:
    assert set(_typed_dicts()) == set(API_SHAPES) | set(ADDITIONS)


@pytest.mark.parametrize("name", sorted(API_SHAPES))
def test_api_keys_are_sagemakers(name: str) -> None:
    ours = _typed_dicts()[name]
    assert unknown_keys(ours, API_SHAPES[name]) == set(), (
        f"{name} declares keys SageMaker does not answer; move sm-magics' own keys to an "
        "additions type"
    )


@pytest.mark.parametrize("name", sorted(ADDITIONS))
def test_additions_are_not_sagemakers(name: str) -> None:
    ours, base = _typed_dicts()[name], ADDITIONS[name]
    assert issubclass(ours, dict)
    added = set(ours.__annotations__) - set(_typed_dicts()[base].__annotations__)
    assert added, f"{name} adds nothing to {base}"
    assert added & _stub_keys(API_SHAPES[base]) == set(), (
        f"{name} adds keys SageMaker answers; declare them in {base}"
    )


def test_a_misspelt_key_is_caught() -> None:
    class Misspelt(typing.TypedDict, total=False):
        TrainingJobName: str
        TrainingJobStatuss: str

    assert unknown_keys(Misspelt, ("DescribeTrainingJobResponseTypeDef",)) == {"TrainingJobStatuss"}


def test_the_module_imports_no_stub_at_run_time() -> None:
    import subprocess
    import sys

    code = (
        "import sys, sm_magics.backends.descriptions;"
        "print(sorted(m for m in sys.modules if m.startswith(('mypy_boto3', 'boto', "
        "'typing_extensions', 'datetime'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
