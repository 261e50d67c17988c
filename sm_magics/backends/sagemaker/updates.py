"""Updates of a live SageMaker endpoint: new weights in place, or a blue/green deployment.

Updates come in two kinds, as SageMaker has them: new weights or instance counts of the
same models are ``UpdateEndpointWeightsAndCapacities`` (in place, seconds); anything else
(a new or changed model, an added or removed variant, another instance type) is a new
config and ``UpdateEndpoint``, which SageMaker runs blue/green: the new fleet is up and
healthy before traffic moves, and a failed update leaves the old fleet serving. The old
config and its models are deleted when a later ``describe`` sees the endpoint
``InService`` again (or, at the latest, by ``delete``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sm_magics.backends import rows, statuses
from sm_magics.backends.sagemaker import autoscaling
from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.backends.sagemaker.endpoint_parts import EndpointParts
from sm_magics.backends.sagemaker.resources import (
    ENDPOINT_TAG,
    SAGEMAKER,
    build_container,
    create_model,
    production_variant,
    resource_name,
    same_container,
    tag_list,
    undo,
    validate_variants,
    with_note,
)
from sm_magics.backends.specs import VariantSpec
from sm_magics.errors import (
    InvalidRequest,
    NotFound,
    SmMagicsError,
    notice,
)
from sm_magics.ledger import Ledger

if TYPE_CHECKING:  # type stubs only (mypy-boto3-sagemaker)
    from mypy_boto3_sagemaker.type_defs import ContainerDefinitionTypeDef

    from sm_magics.backends.descriptions import TrainingJobDescription
    from sm_magics.backends.sagemaker.answers import ConfigVariant, EndpointAnswer


@dataclass
class _PendingUpdate:
    """A blue/green update this process started: what to clean or restore once it ends."""

    new_config: str
    old_config: str
    restore_scaling: list[autoscaling.ScalingSetting] = field(default_factory=list)


class EndpointUpdates:
    """Moves live endpoints to new variants; remembers blue/green updates in flight."""

    def __init__(self, aws: AwsSession, ledger: Ledger, parts: EndpointParts) -> None:
        self.aws = aws
        self.ledger = ledger
        self.parts = parts
        self.lock = threading.Lock()
        self.pending: dict[str, _PendingUpdate] = {}

    def forget(self, name: str) -> _PendingUpdate | None:
        """Return and forget the update in flight of ``name`` (its endpoint is deleted)."""
        with self.lock:
            return self.pending.pop(name, None)

    def update_endpoint(self, name: str, variants: list[VariantSpec]) -> None:
        """See :meth:`Backend.update_endpoint`.

        Weights and instance counts of the very same models (same image, model data and
        environment, same instance type) change in place; anything else is blue/green
        through a new endpoint config, reusing the models of unchanged variants.
        """
        validate_variants(variants)
        endpoint = self.parts.raw_endpoint(name)
        if endpoint is None:
            raise NotFound(f"No SageMaker endpoint named {name!r} in {self.aws.region}.")
        status = endpoint["EndpointStatus"]
        if status != statuses.IN_SERVICE:
            raise InvalidRequest(f"Endpoint {name} is {status}; it can be updated once InService.")
        self.finish_update(name, endpoint)  # the previous update's clean-up, if still due
        old_config = str(endpoint["EndpointConfigName"])
        old_variants = self.parts.endpoint_config(old_config)["ProductionVariants"]
        current = {v["VariantName"]: v for v in old_variants}
        cache: dict[str, TrainingJobDescription] = {}
        containers = {v.name: build_container(self.aws, self.ledger, v, cache) for v in variants}
        reused: dict[str, str] = {}
        for variant in variants:
            old = current.get(variant.name)
            if old is not None and same_container(
                self.parts.model(old["ModelName"]), containers[variant.name]
            ):
                reused[variant.name] = old["ModelName"]
        in_place = set(current) == {v.name for v in variants} and all(
            v.name in reused and self._same_resources(current[v.name], v) for v in variants
        )
        if in_place:
            self._update_weights(name, variants)
        else:
            self._update_blue_green(name, variants, old_config, current, containers, reused)
        rows.record_update(self.ledger, name, variants, status=statuses.UPDATING)

    @staticmethod
    def _same_resources(old: ConfigVariant, variant: VariantSpec) -> bool:
        """Whether a config's variant runs on what ``variant`` asks (type, serverless)."""
        wanted = production_variant(variant, "")
        return bool(
            old.get("ServerlessConfig") == wanted.get("ServerlessConfig")
            and old.get("InstanceType") == wanted.get("InstanceType")
        )

    def _update_weights(self, name: str, variants: list[VariantSpec]) -> None:
        desired = []
        for variant in variants:
            entry: dict[str, Any] = {
                "VariantName": variant.name,
                "DesiredWeight": float(variant.weight),
            }
            if variant.serverless_memory_mb is None:
                entry["DesiredInstanceCount"] = variant.instance_count
            desired.append(entry)
        try:
            self.aws.call(
                SAGEMAKER,
                "update_endpoint_weights_and_capacities",
                EndpointName=name,
                DesiredWeightsAndCapacities=desired,
            )
        except SmMagicsError as exc:
            raise with_note(exc, f"Endpoint {name} was not updated", "It is unchanged.") from exc

    def _update_blue_green(
        self,
        name: str,
        variants: list[VariantSpec],
        old_config: str,
        current: Mapping[str, ConfigVariant],
        containers: Mapping[str, ContainerDefinitionTypeDef],
        reused: Mapping[str, str],
    ) -> None:
        record = self.ledger.get_endpoint(name)
        tags = tag_list(
            {ENDPOINT_TAG: name},
            record.tags if record else {},
            record.notebook if record else None,
        )
        created: list[tuple[str, dict[str, Any]]] = []
        deregistered: list[autoscaling.ScalingSetting] = []
        step = ""
        try:
            entries = []
            for variant in variants:
                model = reused.get(variant.name)
                if model is None:
                    container = containers[variant.name]
                    model = resource_name(f"{name}-{variant.name}", container)
                    step = f"variant {variant.name}"
                    create_model(self.aws, model, container, tags)
                    created.append(("delete_model", {"ModelName": model}))
                entries.append(production_variant(variant, model))
            new_config = resource_name(name, entries)
            step = ""
            self.aws.call(
                SAGEMAKER,
                "create_endpoint_config",
                EndpointConfigName=new_config,
                ProductionVariants=entries,
                Tags=tags,
            )
            created.append(("delete_endpoint_config", {"EndpointConfigName": new_config}))
            # SageMaker refuses an update that removes an autoscaled variant or changes its
            # instance type: deregister those first, and restore them once InService.
            new_types = {e["VariantName"]: e.get("InstanceType") for e in entries}
            blocking = [
                v
                for v, old in current.items()
                if v not in new_types or old.get("InstanceType") != new_types[v]
            ]
            if blocking:
                step = "suspending autoscaling"
                deregistered = autoscaling.suspend(self.aws, name, blocking)
            step = ""
            self.aws.call(
                SAGEMAKER, "update_endpoint", EndpointName=name, EndpointConfigName=new_config
            )
        except BaseException as exc:
            note = undo(self.aws, created)
            if deregistered:
                lost = autoscaling.restore(self.aws, name, deregistered)
                note += (
                    f" Could not restore {'; '.join(lost)}."
                    if lost
                    else " Autoscaling was restored."
                )
            note += " The endpoint keeps serving as before."
            error = with_note(exc, f"Endpoint {name} was not updated", note, step)
            if error is exc:
                raise
            raise error from exc
        restore = [s for s in deregistered if s.variant in {v.name for v in variants}]
        with self.lock:
            self.pending[name] = _PendingUpdate(new_config, old_config, restore)

    def finish_update(self, name: str, endpoint: EndpointAnswer) -> None:
        """Clean up after a blue/green update this process started, once InService.

        Whichever config serves now (the new one, or the old one after SageMaker rolled a
        failed update back) is kept; the other one and its models go.
        """
        pending = self.forget(name)
        if pending is None:
            return
        serving = str(endpoint.get("EndpointConfigName"))
        _, problems = self.parts.sweep(
            name, keep=serving, known=[pending.new_config, pending.old_config]
        )
        if serving == pending.new_config and pending.restore_scaling:
            problems += autoscaling.restore(self.aws, name, pending.restore_scaling)
        if problems:
            notice(f"endpoint {name} updated; some clean-up failed: {'; '.join(problems)}")
