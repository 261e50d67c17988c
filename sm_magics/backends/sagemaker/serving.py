"""Endpoints on SageMaker: create, describe, delete, invoke, and their logs.

The resources an endpoint is made of and the roll-back of a failed creation are
:mod:`.resources`'; updates of a live endpoint (weights in place, or blue/green) are
:mod:`.updates`'; the cached descriptions and the sweep of leftover configs and models are
:mod:`.endpoint_parts`'. :class:`EndpointService` puts them together for the backend, which
owns one. S3 uploads by content hash are :mod:`.uploads`' and CloudWatch reading is
:mod:`.cwlogs`', both shared with training.
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sm_magics.backends import rows, statuses
from sm_magics.backends.results import (
    AsyncInvokeResult,
    InvokeResult,
    LogBatch,
    LogCursor,
    LogEvent,
)
from sm_magics.backends.sagemaker import autoscaling, cwlogs, schedules, uploads
from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.backends.sagemaker.endpoint_parts import EndpointParts
from sm_magics.backends.sagemaker.errors import translate
from sm_magics.backends.sagemaker.resources import (
    ENDPOINT_LOG_GROUP,
    ENDPOINT_TAG,
    RUNTIME,
    SAGEMAKER,
    STATUS_MAP,
    TAG_PREFIX,
    async_inference_config,
    build_container,
    create_model,
    production_variant,
    resource_name,
    tag_list,
    undo,
    validate_variants,
    with_note,
)
from sm_magics.backends.sagemaker.updates import EndpointUpdates
from sm_magics.backends.specs import EndpointSpec, VariantSpec
from sm_magics.durations import format_duration
from sm_magics.errors import (
    AlreadyExists,
    ModelError,
    NotFound,
    notice,
)
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointChanges, EndpointRecord, LiveVariantSummary

if TYPE_CHECKING:
    from sm_magics.backends.descriptions import (
        EndpointDescription,
        ServedVariantDescription,
        TrainingJobDescription,
    )
    from sm_magics.backends.sagemaker.answers import EndpointConfigAnswer


class EndpointService:
    """The endpoints of :class:`~sm_magics.backends.sagemaker.SageMakerBackend`."""

    def __init__(self, aws: AwsSession, ledger: Ledger) -> None:
        self.aws = aws
        self.ledger = ledger
        self.parts = EndpointParts(aws)
        self.updates = EndpointUpdates(aws, ledger, self.parts)

    def update_endpoint(self, name: str, variants: list[VariantSpec]) -> None:
        """See :meth:`Backend.update_endpoint` and :mod:`.updates`."""
        self.updates.update_endpoint(name, variants)

    def variant_environments(self, name: str) -> dict[str, dict[str, str]]:
        """See :meth:`Backend.variant_environments`.

        ``DescribeEndpoint`` -> its config's variants -> each model's
        ``PrimaryContainer.Environment`` (configs and models are cached: immutable).
        """
        endpoint = self.parts.raw_endpoint(name)
        if endpoint is None:
            raise NotFound(f"No SageMaker endpoint named {name!r} in {self.aws.region}.")
        config = self.parts.endpoint_config(str(endpoint["EndpointConfigName"]))
        return {
            str(v["VariantName"]): dict(
                (self.parts.model(str(v["ModelName"])).get("PrimaryContainer") or {}).get(
                    "Environment"
                )
                or {}
            )
            for v in config["ProductionVariants"]
        }

    # -- create -----------------------------------------------------------------------------

    def create_endpoint(self, spec: EndpointSpec) -> None:
        """See :meth:`Backend.create_endpoint`.

        The ledger row is written first: it reserves the name on this machine and makes
        the endpoint visible to cleanup from the first AWS call on. Each resource made is
        remembered, so a failure at any step deletes them again, newest first, and removes
        the row; the error says what failed and what was rolled back.
        """
        validate_variants(spec.variants)
        now = time.time()
        self.ledger.insert_endpoint(
            rows.endpoint_record(spec, backend="sagemaker", region=self.aws.region, now=now)
        )
        ours = {ENDPOINT_TAG: spec.name}
        if spec.ttl:
            ttl_at = datetime.fromtimestamp(now + spec.ttl, tz=timezone.utc)
            ours[f"{TAG_PREFIX}ttl-at"] = ttl_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        tags = tag_list(ours, spec.tags, spec.notebook)
        created: list[tuple[str, dict[str, Any]]] = []
        step = ""
        scheduled = False
        try:
            if self.parts.raw_endpoint(spec.name) is not None:
                raise AlreadyExists(
                    f"An endpoint named {spec.name} already exists on SageMaker in "
                    f"{self.aws.region} (not started from this machine); delete it there "
                    "or pick another name."
                )
            cache: dict[str, TrainingJobDescription] = {}
            entries = []
            for variant in spec.variants:
                step = f"variant {variant.name}"
                container = build_container(self.aws, self.ledger, variant, cache)
                model = resource_name(f"{spec.name}-{variant.name}", container)
                create_model(self.aws, model, container, tags)
                created.append(("delete_model", {"ModelName": model}))
                entries.append(production_variant(variant, model))
            config = resource_name(spec.name, entries)
            step = ""
            self.aws.call(
                SAGEMAKER,
                "create_endpoint_config",
                EndpointConfigName=config,
                ProductionVariants=entries,
                Tags=tags,
                **async_inference_config(spec.async_inference),
            )
            created.append(("delete_endpoint_config", {"EndpointConfigName": config}))
            if spec.ttl:
                # Before the endpoint: an endpoint never exists without its deadline.
                step = "TTL schedule"
                schedules.create_ttl_schedule(self.aws, spec.name, now + spec.ttl)
                scheduled = True
                step = ""
            self.aws.call(
                SAGEMAKER,
                "create_endpoint",
                EndpointName=spec.name,
                EndpointConfigName=config,
                Tags=tags,
            )
        except BaseException as exc:
            note = undo(self.aws, created)
            if scheduled:
                problem = schedules.delete_ttl_schedule(self.aws, spec.name)
                note += f" Left behind: {problem}." if problem else " Deleted its TTL schedule."
            self.ledger.delete_endpoint_row(spec.name)
            error = with_note(exc, f"Endpoint {spec.name} was not created", note, step)
            if error is exc:
                raise
            raise error from exc
        self.ledger.update_endpoint(spec.name, url=self.parts.runtime_url())

    # -- describe ---------------------------------------------------------------------------

    def describe_endpoint(self, name: str) -> EndpointDescription:
        """See :meth:`Backend.describe_endpoint`.

        ``DescribeEndpoint`` has the live weights and counts; the config (cached, it never
        changes) has instance types and models. While an update runs, "desired" means the
        pending config's. The ledger row follows, written only when something changed.
        """
        endpoint = self.parts.raw_endpoint(name)
        if endpoint is None:
            record = self.ledger.get_endpoint(name)
            if (
                record is not None
                and record.is_live
                and record.backend == "sagemaker"
                and record.region in (None, self.aws.region)
            ):
                self._vanished(record)
            raise NotFound(
                f"No SageMaker endpoint named {name!r} in {self.aws.region}; %sm_endpoints "
                "lists them."
            )
        raw_status = str(endpoint["EndpointStatus"])
        status = STATUS_MAP.get(raw_status, raw_status)
        pending = endpoint.get("PendingDeploymentSummary") or {}
        desired_name = pending.get("EndpointConfigName") or endpoint.get("EndpointConfigName")
        desired: EndpointConfigAnswer = {}
        if desired_name:
            try:
                desired = self.parts.endpoint_config(str(desired_name))
            except NotFound:
                desired = {}
        live = {v["VariantName"]: v for v in endpoint.get("ProductionVariants", [])}
        wanted = {v["VariantName"]: v for v in desired.get("ProductionVariants", [])}
        variants: list[ServedVariantDescription] = []
        for variant_name in dict.fromkeys([*live, *wanted]):
            now_ = live.get(variant_name, {})
            want = wanted.get(variant_name)
            if want is None:
                desired_weight, desired_count = 0.0, 0
            elif pending:
                desired_weight = want.get("InitialVariantWeight", 1.0)
                desired_count = want.get("InitialInstanceCount", 0)
            else:
                desired_weight = now_.get("DesiredWeight", want.get("InitialVariantWeight", 1.0))
                desired_count = now_.get(
                    "DesiredInstanceCount", want.get("InitialInstanceCount", 0)
                )
            entry: ServedVariantDescription = {
                "VariantName": variant_name,
                "CurrentWeight": now_.get("CurrentWeight", 0.0),
                "DesiredWeight": desired_weight,
                "CurrentInstanceCount": now_.get("CurrentInstanceCount", 0),
                "DesiredInstanceCount": desired_count,
                "InstanceType": (want or {}).get("InstanceType"),
            }
            if want is not None:
                container = self.parts.model(want["ModelName"]).get("PrimaryContainer") or {}
                entry = {
                    **entry,
                    "ModelName": want["ModelName"],
                    "ModelDataUrl": container.get("ModelDataUrl"),
                }
                if want.get("ServerlessConfig"):
                    entry = {**entry, "ServerlessConfig": want["ServerlessConfig"]}
            variants.append(entry)
        record = self.ledger.get_endpoint(name)
        description: EndpointDescription = {
            "EndpointName": endpoint["EndpointName"],
            "EndpointArn": endpoint["EndpointArn"],
            "EndpointConfigName": endpoint.get("EndpointConfigName"),
            "EndpointStatus": status,
            "ProductionVariants": variants,
            "CreationTime": endpoint.get("CreationTime"),
            "LastModifiedTime": endpoint.get("LastModifiedTime"),
            "Url": self.parts.runtime_url(),
            "TtlAt": (
                datetime.fromtimestamp(record.ttl_at, tz=timezone.utc)
                if record is not None and record.ttl_at
                else None
            ),
        }
        if raw_status != status:
            description = {**description, "SageMakerStatus": raw_status}
        reason = endpoint.get("FailureReason")
        if reason and status == statuses.IN_SERVICE:
            # An update failed and was rolled back.
            description = {**description, "LastUpdateError": reason}
        elif reason:
            description = {**description, "FailureReason": reason}
        if status == statuses.IN_SERVICE:
            self.updates.finish_update(name, endpoint)
        if record is not None and record.is_live and record.backend == "sagemaker":
            self._sync_ledger(record, description)
        return description

    def _vanished(self, record: EndpointRecord) -> None:
        """Record an endpoint AWS no longer has as deleted, saying why when it was the TTL.

        Past its TTL, the schedule deleted it (:mod:`.schedules`), which leaves its
        configs and models: they do not bill, and are swept here, the first time
        sm-magics sees the endpoint gone.
        """
        reason = None
        if record.ttl_at and time.time() >= record.ttl_at:
            # The row's ttl is in seconds (the backend wrote it); an older row may hold
            # what the user typed, so the duration is taken from the row's own times.
            reason = f"TTL expired ({format_duration(round(record.ttl_at - record.created_at))})"
            _, problems = self.parts.sweep(record.name, keep=None)
            if problems:
                notice(
                    f"endpoint {record.name} was deleted at its TTL; some of its "
                    f"parts are left: {'; '.join(problems)}"
                )
        rows.mark_endpoint_deleted(
            self.ledger, record.name, backend="sagemaker", region=self.aws.region, reason=reason
        )

    def _sync_ledger(self, record: EndpointRecord, description: EndpointDescription) -> None:
        """Bring the endpoint's row up to ``description``, writing only if something moved."""
        summary: list[LiveVariantSummary] = [
            {
                "VariantName": v["VariantName"],
                "CurrentWeight": v["CurrentWeight"],
                "InstanceType": v["InstanceType"],
                "DesiredInstanceCount": v["DesiredInstanceCount"],
            }
            for v in description["ProductionVariants"]
        ]
        wanted: EndpointChanges = {
            "status": description["EndpointStatus"],
            "url": description["Url"],
            "failure_reason": description.get("FailureReason"),
            "variants": summary,
        }
        if any(getattr(record, column) != value for column, value in wanted.items()):
            self.ledger.update_endpoint(record.name, **wanted)

    # -- delete -----------------------------------------------------------------------------

    def delete_endpoint(self, name: str) -> None:
        """See :meth:`Backend.delete_endpoint`.

        ``DeleteEndpoint`` stops the billing; then every config and model the endpoint ever
        used is deleted (a missing one is fine). An endpoint the ledger has as live but AWS
        no longer knows is cleaned the same way and marked deleted, so ``%sm_delete``
        always converges.
        """
        record = self.ledger.get_endpoint(name)
        known = record is not None and record.is_live and record.backend == "sagemaker"
        endpoint = self.parts.raw_endpoint(name)
        if endpoint is None and not known:
            raise NotFound(f"No SageMaker endpoint named {name!r} in {self.aws.region}.")
        problems: list[str] = []
        configs: list[str] = []
        if endpoint is not None:
            configs = [str(endpoint.get("EndpointConfigName") or "")]
            pending = (endpoint.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
            if pending:
                configs.append(str(pending))
            variants = [v["VariantName"] for v in endpoint.get("ProductionVariants", [])]
            problems += autoscaling.disable_endpoint_autoscaling(self.aws, name, variants)
            with contextlib.suppress(NotFound):
                self.aws.call(SAGEMAKER, "delete_endpoint", EndpointName=name)
        if record is not None and record.ttl_at:
            problem = schedules.delete_ttl_schedule(self.aws, name)  # deleted before its TTL
            if problem:
                problems.append(problem)
        # The endpoint's own configs are ours to delete when the ledger says we made it;
        # otherwise only those tagged as ours are (a foreign config or model may be shared).
        trusted = [c for c in configs if c] if known else []
        update = self.updates.forget(name)
        if update is not None:
            trusted += [update.new_config, update.old_config]
        swept, sweep_problems = self.parts.sweep(name, keep=None, known=trusted)
        problems += sweep_problems
        if record is not None and record.is_live:
            self.ledger.update_endpoint(name, status=statuses.DELETED, deleted_at=time.time())
        foreign = [c for c in configs if c and c not in swept]
        if foreign:
            notice(
                f"endpoint {name} is deleted; its endpoint config "
                f"{', '.join(foreign)} was not made by sm-magics and is left with its models."
            )
        if problems:
            notice(
                f"endpoint {name} is deleted and no longer bills, but some of its "
                f"parts are left: {'; '.join(problems)}"
            )

    # -- invoke / logs ----------------------------------------------------------------------

    def invoke_endpoint(
        self,
        name: str,
        body: bytes,
        *,
        content_type: str,
        accept: str | None = None,
        target_variant: str | None = None,
    ) -> InvokeResult:
        """See :meth:`Backend.invoke_endpoint`: one ``InvokeEndpoint``.

        A ``ModelError`` (the handlers raised, or the container answered an error) keeps
        the container's own status and message, which is what the user needs to fix it.
        """
        params: dict[str, Any] = {"EndpointName": name, "Body": body, "ContentType": content_type}
        if accept:
            params["Accept"] = accept
        if target_variant:
            params["TargetVariant"] = target_variant
        try:
            response = self.aws.client(RUNTIME).invoke_endpoint(**params)
        except Exception as exc:
            model_error = _model_error(exc, target_variant)
            if model_error is not None:
                raise model_error from None
            raise translate(exc, RUNTIME, "invoke_endpoint") from exc
        payload = response["Body"]
        data = payload.read() if hasattr(payload, "read") else bytes(payload)
        return InvokeResult(
            body=data,
            content_type=str(response.get("ContentType", "")),
            variant=str(response.get("InvokedProductionVariant", "")),
        )

    def invoke_endpoint_async(
        self,
        name: str,
        body: bytes,
        *,
        content_type: str,
        accept: str | None = None,
    ) -> AsyncInvokeResult:
        """See :meth:`Backend.invoke_endpoint_async`: upload, then ``InvokeEndpointAsync``.

        SageMaker reads an asynchronous request's payload from S3, so the body is uploaded
        first (by content hash, under the session's bucket: the same payload twice is one
        object) and its URI passed as ``InputLocation``.
        """
        params: dict[str, Any] = {
            "EndpointName": name,
            "InputLocation": uploads.upload_bytes(self.aws, body, suffix=".in"),
            "ContentType": content_type,
        }
        if accept:
            params["Accept"] = accept
        try:
            response = self.aws.client(RUNTIME).invoke_endpoint_async(**params)
        except Exception as exc:
            raise translate(exc, RUNTIME, "invoke_endpoint_async") from exc
        return AsyncInvokeResult(
            inference_id=str(response.get("InferenceId", "")),
            output_location=str(response["OutputLocation"]),
            failure_location=response.get("FailureLocation"),
        )

    def read_endpoint_logs(self, name: str, cursor: LogCursor | None = None) -> LogBatch:
        """See :meth:`Backend.read_endpoint_logs`.

        CloudWatch group ``/aws/sagemaker/Endpoints/<name>`` has one stream per variant and
        instance, ``<variant>/<instance id>``, which is what ``host`` says. Each variant is
        read as :class:`~.cwlogs.LogReader` reads a job (its streams share the prefix
        ``<variant>/``; instances come and go, so it keeps listing at the idle pace), with
        one sub-cursor per variant. Variants come from the ledger row (kept current by
        ``describe``), else from ``DescribeEndpoint``; a deleted endpoint is read to the end.

        Raises
        ------
        NotFound
            Neither the ledger nor SageMaker knows the endpoint (as on the local backend).
        """
        state = cursor or {}
        known = state.get("variants")
        sub: dict[str, LogCursor] = dict(known) if isinstance(known, dict) else {}
        record = self.ledger.get_endpoint(name)
        variants = [str(v["VariantName"]) for v in (record.variants if record else [])]
        if not variants and not sub:
            endpoint = self.parts.raw_endpoint(name)
            if endpoint is None and record is None:
                # As the local backend: an endpoint nobody knows is an error, not silence
                # (a follower would otherwise wait forever on a typo).
                raise NotFound(
                    f"No SageMaker endpoint named {name!r} in {self.aws.region}; "
                    "%sm_endpoints lists them."
                )
            variants = [v["VariantName"] for v in (endpoint or {}).get("ProductionVariants", [])]
        finished = record is not None and not record.is_live
        reader = cwlogs.LogReader(self.aws.client("logs"), group=f"{ENDPOINT_LOG_GROUP}/{name}")
        events: list[LogEvent] = []
        for variant in dict.fromkeys([*sub, *variants]):
            batch = reader.read(variant, sub.get(variant), finished=finished)
            sub[variant] = batch.cursor
            events += [
                LogEvent(e.timestamp, f"{variant}/{e.host}", e.message) for e in batch.events
            ]
        events.sort(key=lambda event: event.timestamp)
        return LogBatch(events, {**state, "variants": sub})


def _model_error(exc: BaseException, variant: str | None) -> ModelError | None:
    """Return our :class:`ModelError` for SageMaker Runtime's ``ModelError``, else ``None``."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error") or {}
    if error.get("Code") != "ModelError":
        return None
    status = response.get("OriginalStatusCode") or error.get("OriginalStatusCode") or 500
    message = (
        response.get("OriginalMessage")
        or error.get("OriginalMessage")
        or error.get("Message")
        or "the model failed"
    )
    log = response.get("LogStreamArn") or error.get("LogStreamArn")
    text = f"The model answered {status}: {message}"
    if log:
        text += f" (logs: {log})"
    return ModelError(text, status=int(status), variant=variant)
