"""SageMaker's own answers, as the sagemaker backend reads them.

Not part of the backend contract (that is :mod:`sm_magics.backends.descriptions`): what
the sagemaker backend reads of ``DescribeEndpoint``, ``DescribeEndpointConfig`` and
``DescribeModel`` to build an endpoint description and to update or sweep an endpoint,
and of ``DescribeModelPackage`` to mirror a version registered elsewhere.

The stubs (``mypy-boto3-sagemaker``) declare every key of an answer as present; these
types say what the API documents (most keys are optional), so reading an answer stays
defensive, and, being read-only, they accept the stubs' answers: mypy checks what
:attr:`AwsSession.sagemaker <sm_magics.backends.sagemaker.aws.AwsSession.sagemaker>`
returns against them. ``tests/backends/test_descriptions_match_stubs.py`` checks every key
against the stubs. Types only at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from typing_extensions import ReadOnly


class LiveVariant(TypedDict, total=False):
    """One of ``DescribeEndpoint``'s ``ProductionVariants``: what serves now."""

    VariantName: ReadOnly[str]
    CurrentWeight: ReadOnly[float]
    DesiredWeight: ReadOnly[float]
    CurrentInstanceCount: ReadOnly[int]
    DesiredInstanceCount: ReadOnly[int]


class PendingDeployment(TypedDict, total=False):
    """``DescribeEndpoint``'s ``PendingDeploymentSummary``: an update under way."""

    EndpointConfigName: ReadOnly[str]


class EndpointAnswer(TypedDict, total=False):
    """``DescribeEndpoint`` as SageMaker answers it."""

    EndpointName: ReadOnly[str]
    EndpointArn: ReadOnly[str]
    EndpointConfigName: ReadOnly[str]
    EndpointStatus: ReadOnly[str]
    FailureReason: ReadOnly[str]
    CreationTime: ReadOnly[datetime]
    LastModifiedTime: ReadOnly[datetime]
    ProductionVariants: ReadOnly[Sequence[LiveVariant]]
    PendingDeploymentSummary: ReadOnly[PendingDeployment]


class ConfigVariant(TypedDict, total=False):
    """One of ``DescribeEndpointConfig``'s ``ProductionVariants``: what was asked."""

    VariantName: ReadOnly[str]
    ModelName: ReadOnly[str]
    InitialInstanceCount: ReadOnly[int]
    InitialVariantWeight: ReadOnly[float]
    InstanceType: ReadOnly[str]
    ServerlessConfig: ReadOnly[Mapping[str, object]]


class EndpointConfigAnswer(TypedDict, total=False):
    """``DescribeEndpointConfig`` as SageMaker answers it."""

    EndpointConfigName: ReadOnly[str]
    ProductionVariants: ReadOnly[Sequence[ConfigVariant]]


class ContainerAnswer(TypedDict, total=False):
    """A model's ``PrimaryContainer``: image, model data and environment."""

    Image: ReadOnly[str]
    ModelDataUrl: ReadOnly[str]
    Environment: ReadOnly[Mapping[str, str]]


class ModelAnswer(TypedDict, total=False):
    """``DescribeModel`` as SageMaker answers it."""

    ModelName: ReadOnly[str]
    PrimaryContainer: ReadOnly[ContainerAnswer]


class InferenceSpecification(TypedDict, total=False):
    """A model package's ``InferenceSpecification``: its containers."""

    Containers: ReadOnly[Sequence[ContainerAnswer]]


class ModelPackageAnswer(TypedDict, total=False):
    """``DescribeModelPackage`` as SageMaker answers it (a version registered elsewhere)."""

    ModelPackageGroupName: ReadOnly[str]
    ModelPackageVersion: ReadOnly[int]
    ModelApprovalStatus: ReadOnly[str]
    ModelPackageDescription: ReadOnly[str]
    CreationTime: ReadOnly[datetime]
    CustomerMetadataProperties: ReadOnly[Mapping[str, str]]
    InferenceSpecification: ReadOnly[InferenceSpecification]
