"""The model registry on SageMaker: model package groups, versions and approvals.

``register_model`` creates the group once (``CreateModelPackageGroup``; an existing group
is fine) and a version with ``CreateModelPackage``: the inference specification (the
serving image, the model, its script-mode handler environment, content and instance
types), the metrics as a JSON statistics file uploaded by content hash
(``ModelMetrics.ModelQuality``), the approval status, and the lineage as
``CustomerMetadataProperties`` (source job, code hash). Each version is mirrored in the
ledger, so listings and lineage need no call after a restart.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sm_magics import model_registry
from sm_magics.backends.sagemaker import images, uploads
from sm_magics.errors import AlreadyExists, InvalidRequest, NotFound
from sm_magics.model_registry import ApprovalChange, PackageRecord

if TYPE_CHECKING:
    from sm_magics.backends.packages import PackageSpec
    from sm_magics.backends.sagemaker.answers import ContainerAnswer, ModelPackageAnswer
    from sm_magics.backends.sagemaker.aws import AwsSession
    from sm_magics.backends.sagemaker.training import SageMakerTraining
    from sm_magics.ledger import Ledger

SAGEMAKER = "sagemaker"
METRICS_PREFIX = "sm-magics/model-metrics"
#: Metadata keys that carry lineage on the package (SageMaker shows them in Studio too).
META_JOB = "sm-magics:source-job"
META_HASH = "sm-magics:source-hash"


def _timestamp(value: object) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value) if isinstance(value, int | float) else time.time()


def _version_of(arn: str) -> int:
    return int(arn.rsplit("/", 1)[-1])


class SageMakerPackages:
    """Model registry methods of the sagemaker backend (composed into it)."""

    def __init__(self, aws: AwsSession, ledger: Ledger, training: SageMakerTraining) -> None:
        self.aws = aws
        self.ledger = ledger
        self.training = training  # describe_training_job of the source job

    def _container(self, spec: PackageSpec) -> dict[str, Any]:
        """Return the serving container: the source job's image and handler environment."""
        environment: dict[str, str] = {}
        training_image = None
        job_spec: dict[str, Any] | None = None
        if spec.source_job:
            description = self.training.describe_training_job(spec.source_job)
            training_image = description["AlgorithmSpecification"].get("TrainingImage")
            hyperparameters = description.get("HyperParameters") or {}
            for key, env in (
                ("sagemaker_program", "SAGEMAKER_PROGRAM"),
                ("sagemaker_submit_directory", "SAGEMAKER_SUBMIT_DIRECTORY"),
            ):
                if key in hyperparameters:
                    environment[env] = str(json.loads(hyperparameters[key]))
            record = self.ledger.get_job(spec.source_job)
            job_spec = dict(record.spec) if record is not None else None
        image = images.resolve(
            region=self.aws.region,
            instance_type=spec.instance_types[0] if spec.instance_types else None,
            environment={},
            training_image=training_image,
            job_spec=job_spec,
        )
        container: dict[str, Any] = {"Image": image, "ModelDataUrl": spec.model_data}
        if environment:
            container["Environment"] = environment
        return container

    def register_model(self, spec: PackageSpec, *, by: str) -> PackageRecord:
        """See :meth:`Backend.register_model`: CreateModelPackage (group made once)."""
        if not spec.model_data.startswith("s3://"):
            raise InvalidRequest(
                f"On SageMaker a registered model lives in S3, not at {spec.model_data}."
            )
        container = self._container(spec)
        try:
            self.aws.call(
                SAGEMAKER,
                "create_model_package_group",
                ModelPackageGroupName=spec.group,
                ModelPackageGroupDescription=f"Registered with sm-magics by {by}",
            )
        except (AlreadyExists, InvalidRequest) as exc:
            if "exist" not in str(exc).lower():
                raise
        request: dict[str, Any] = {
            "ModelPackageGroupName": spec.group,
            "InferenceSpecification": {
                "Containers": [container],
                "SupportedContentTypes": list(spec.content_types),
                "SupportedResponseMIMETypes": list(spec.response_types),
                "SupportedRealtimeInferenceInstanceTypes": list(spec.instance_types),
                "SupportedTransformInstanceTypes": list(spec.instance_types),
            },
            "ModelApprovalStatus": spec.approval,
        }
        if spec.description:
            request["ModelPackageDescription"] = spec.description
        if spec.metrics:
            body = json.dumps(
                {"metrics": {k: {"value": v} for k, v in sorted(spec.metrics.items())}},
                sort_keys=True,
            ).encode()
            uri = uploads.upload_bytes(self.aws, body, prefix=METRICS_PREFIX, suffix=".json")
            request["ModelMetrics"] = {
                "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": uri}}
            }
        metadata = {
            key: value
            for key, value in ((META_JOB, spec.source_job), (META_HASH, spec.source_hash))
            if value
        }
        if metadata:
            request["CustomerMetadataProperties"] = metadata
        answer = self.aws.call(SAGEMAKER, "create_model_package", **request)
        arn = str(answer["ModelPackageArn"])
        now = time.time()
        record = PackageRecord(
            arn=arn,
            group_name=spec.group,
            version=_version_of(arn),
            backend="sagemaker",
            region=self.aws.region,
            status=spec.approval,
            model_data=spec.model_data,
            created_at=now,
            source_job=spec.source_job,
            description=spec.description,
            metrics=dict(spec.metrics),
            spec={
                "image": container["Image"],
                "content_types": list(spec.content_types),
                "instance_types": list(spec.instance_types),
                "source_hash": spec.source_hash,
                "inputs": dict(spec.inputs),
                "notebook": spec.notebook,
            },
            history=[{"status": spec.approval, "by": by, "at": now, "note": "registered"}],
        )
        return model_registry.insert(self.ledger, record, lambda version: arn)

    def set_model_approval(
        self, arn: str, status: str, *, by: str, note: str | None = None
    ) -> PackageRecord:
        """UpdateModelPackage with the new status; the ledger keeps who and when."""
        request: dict[str, Any] = {"ModelPackageArn": arn, "ModelApprovalStatus": status}
        if note:
            request["ApprovalDescription"] = note[:1024]
        self.aws.call(SAGEMAKER, "update_model_package", **request)
        record = model_registry.get(self.ledger, arn) or self._mirror(arn)
        change: ApprovalChange = {"status": status, "by": by, "at": time.time(), "note": note}
        history = [*record.history, change]
        model_registry.update(self.ledger, arn, status=status, history=history)
        updated = model_registry.get(self.ledger, arn)
        assert updated is not None
        return updated

    def _mirror(self, arn: str) -> PackageRecord:
        """Record a package registered elsewhere (another machine) from its description."""
        try:
            found: ModelPackageAnswer = self.aws.sagemaker.describe_model_package(
                ModelPackageName=arn
            )
        except NotFound:
            raise NotFound(f"No SageMaker model package {arn}.") from None
        inference = found.get("InferenceSpecification")
        containers = inference.get("Containers") if inference else None
        container: ContainerAnswer = containers[0] if containers else {}
        metadata = found.get("CustomerMetadataProperties", {})
        record = PackageRecord(
            arn=arn,
            group_name=found.get("ModelPackageGroupName", ""),
            version=found.get("ModelPackageVersion") or _version_of(arn),
            backend="sagemaker",
            region=self.aws.region,
            status=found.get("ModelApprovalStatus", model_registry.PENDING),
            model_data=container.get("ModelDataUrl", ""),
            created_at=_timestamp(found.get("CreationTime")),
            source_job=metadata.get(META_JOB),
            description=found.get("ModelPackageDescription"),
            spec={"image": container.get("Image"), "source_hash": metadata.get(META_HASH)},
        )
        return model_registry.insert(self.ledger, record, lambda version: arn)

    def list_model_packages(self, group: str | None = None) -> list[PackageRecord]:
        """ListModelPackages of ``group`` (mirrored into the ledger); all groups' if None."""
        if group is None:
            groups: list[str] = []
            token: str | None = None
            while True:
                page = self.aws.call(
                    SAGEMAKER,
                    "list_model_package_groups",
                    MaxResults=100,
                    **({"NextToken": token} if token else {}),
                )
                groups += [g["ModelPackageGroupName"] for g in page["ModelPackageGroupSummaryList"]]
                token = page.get("NextToken")
                if not token:
                    break
            return [p for g in groups for p in self.list_model_packages(g)]
        token = None
        while True:
            page = self.aws.call(
                SAGEMAKER,
                "list_model_packages",
                ModelPackageGroupName=group,
                MaxResults=100,
                **({"NextToken": token} if token else {}),
            )
            for summary in page["ModelPackageSummaryList"]:
                arn = summary["ModelPackageArn"]
                known = model_registry.get(self.ledger, arn)
                if known is None:
                    self._mirror(arn)
                elif known.status != summary.get("ModelApprovalStatus", known.status):
                    model_registry.update(self.ledger, arn, status=summary["ModelApprovalStatus"])
            token = page.get("NextToken")
            if not token:
                break
        return [
            p for p in model_registry.list_packages(self.ledger, group) if p.backend == "sagemaker"
        ]
