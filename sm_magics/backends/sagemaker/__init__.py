"""The sagemaker backend: the same contract as the local one, against Amazon SageMaker.

Importing this package imports boto3 (through :mod:`.aws`, lazily, when a backend object is
made); the kernel reaches it only through the registry when a magic asks for
``-b sagemaker``. Over one :class:`~.aws.AwsSession`, the backend is objects it owns,
each given what it needs: training (:mod:`.training`, its request in
:mod:`.training_requests`, its CloudWatch logs in :mod:`.cwlogs`), batch transform
(:mod:`.transform`), processing (:mod:`.processing`), tuning (:mod:`.tuning`, over the
training object), the model registry (:mod:`.packages`) and endpoints (an
:class:`~.serving.EndpointService`: :mod:`.serving`, :mod:`.updates`, :mod:`.resources`,
:mod:`.endpoint_parts`, :mod:`.autoscaling`, :mod:`.images`). What the job kinds share
(describe-or-Deleted, the idempotent stop) is :mod:`.jobs`; uploads by content hash are
:mod:`.uploads`'.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sm_magics.backends import base
from sm_magics.backends.options import BackendOptions
from sm_magics.backends.results import AsyncInvokeResult, LogBatch, LogCursor
from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.backends.sagemaker.packages import SageMakerPackages
from sm_magics.backends.sagemaker.processing import SageMakerProcessing
from sm_magics.backends.sagemaker.serving import EndpointService
from sm_magics.backends.sagemaker.training import SageMakerTraining
from sm_magics.backends.sagemaker.transform import SageMakerTransforms
from sm_magics.backends.sagemaker.tuning import SageMakerTuning
from sm_magics.backends.specs import TrainingSpec
from sm_magics.ledger import Ledger

if TYPE_CHECKING:
    from sm_magics.backends.descriptions import TrainingJobDescription


class SageMakerBackend(base.Backend):
    """Jobs and endpoints on Amazon SageMaker, through boto3.

    Parameters
    ----------
    region
        AWS region (else the boto3 configuration).
    ledger
        The ledger jobs and endpoints are recorded in (shared with the local backend).
    options
        ``role``, ``bucket``, ``profile``, ``subnets``, ``security_group_ids``,
        ``scheduler_role`` (the role EventBridge Scheduler assumes to delete an endpoint at
        its ``--ttl``; default the execution role), ``endpoint_url`` (tests).
    aws
        A ready :class:`~.aws.AwsSession` (tests); it then decides region and options.
    """

    name = "sagemaker"
    status_poll_interval = 5.0  # DescribeTrainingJob/DescribeEndpoint are rate limited

    def __init__(
        self,
        *,
        region: str | None = None,
        ledger: Ledger | None = None,
        options: BackendOptions | None = None,
        aws: AwsSession | None = None,
    ) -> None:
        options = options or BackendOptions()
        self.aws: AwsSession = aws or AwsSession(
            region,
            profile=options.profile,
            role=options.role,
            bucket=options.bucket,
            endpoint_url=options.endpoint_url,
            scheduler_role=options.scheduler_role,
        )
        super().__init__(region=self.aws.region, ledger=ledger, options=options)
        self.training = SageMakerTraining(self.aws, self.ledger, self.options)
        self.transforms = SageMakerTransforms(self.aws, self.ledger)
        self.processing = SageMakerProcessing(self.aws, self.ledger, self.options)
        self.endpoints: EndpointService = EndpointService(self.aws, self.ledger)
        self.tuning = SageMakerTuning(self.aws, self.ledger, self.training)
        self.packages = SageMakerPackages(self.aws, self.ledger, self.training)

    # -- jobs: the objects that own each kind ------------------------------------------------

    def create_training_job(self, spec: TrainingSpec) -> None:
        """See :meth:`Backend.create_training_job` and :mod:`.training`."""
        self.training.create_training_job(spec)

    def describe_training_job(self, name: str) -> TrainingJobDescription:
        """See :meth:`Backend.describe_training_job`; syncs the row, or marks it Deleted."""
        return self.training.describe_training_job(name)

    def stop_training_job(self, name: str) -> None:
        """See :meth:`Backend.stop_training_job`: idempotent."""
        self.training.stop_training_job(name)

    def read_training_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """See :meth:`Backend.read_training_logs` (CloudWatch, :mod:`.cwlogs`)."""
        return self.training.read_training_logs(name, cursor)

    # -- endpoints: the EndpointService's ---------------------------------------------------

    def invoke_endpoint_async(
        self, name: str, body: bytes, *, content_type: str, accept: str | None = None
    ) -> AsyncInvokeResult:
        """See :meth:`Backend.invoke_endpoint_async`."""
        return self.endpoints.invoke_endpoint_async(
            name, body, content_type=content_type, accept=accept
        )

    def fetch(self, uri: str, dest: Path) -> None:
        """See :meth:`Backend.fetch`: ``s3://`` artifacts are downloaded."""
        if not uri.startswith("s3://"):
            super().fetch(uri, dest)
            return
        from sm_magics.backends.sagemaker.uploads import parse_s3_uri

        bucket, key = parse_s3_uri(uri)
        try:
            self.aws.client("s3").download_file(bucket, key, str(dest))
        except Exception as exc:
            from sm_magics.backends.sagemaker.errors import translate

            raise translate(exc, "s3", "get_object") from exc

    def set_autoscaling(self, name: str, variant: str, min_capacity: int, max_capacity: int) -> str:
        """See :meth:`Backend.set_autoscaling`: target tracking on invocations/instance."""
        from sm_magics.backends.sagemaker.autoscaling import enable_autoscaling

        enable_autoscaling(self.aws, name, variant, min_capacity, max_capacity)
        return (
            f"Variant {variant} of {name} scales between {min_capacity} and {max_capacity} "
            "instances on invocations per instance."
        )


__all__ = ["SageMakerBackend"]
