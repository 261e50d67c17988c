"""What one backend knows of its endpoints' parts: cached descriptions, and the sweep.

A config or a model never changes once created, so their descriptions are cached for
the backend's life. The sweep deletes an endpoint's configs and models other than those it
serves, found by name and proven ours by tag; deletion and updates both use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.backends.sagemaker.resources import (
    ENDPOINT_TAG,
    NAME_MAX,
    RUNTIME,
    SAGEMAKER,
    config_name_pattern,
    delete_quietly,
)
from sm_magics.errors import (
    AccessDenied,
    NotFound,
)

if TYPE_CHECKING:
    from sm_magics.backends.sagemaker.answers import (
        EndpointAnswer,
        EndpointConfigAnswer,
        ModelAnswer,
    )


class EndpointParts:
    """Cached ``Describe*`` answers for configs and models, and the sweep of leftovers."""

    def __init__(self, aws: AwsSession) -> None:
        self.aws = aws
        self.configs: dict[str, EndpointConfigAnswer] = {}
        self.models: dict[str, ModelAnswer] = {}

    def endpoint_config(self, name: str) -> EndpointConfigAnswer:
        """``DescribeEndpointConfig``, cached: a config never changes once created."""
        if name not in self.configs:
            self.configs[name] = self.aws.sagemaker.describe_endpoint_config(
                EndpointConfigName=name
            )
        return self.configs[name]

    def model(self, name: str) -> ModelAnswer:
        """``DescribeModel``, cached (models are immutable); ``{}`` when it is gone."""
        if name not in self.models:
            try:
                self.models[name] = self.aws.sagemaker.describe_model(ModelName=name)
            except NotFound:
                return {}
        return self.models[name]

    def runtime_url(self) -> str:
        """Return the Runtime base URL (a boto3 ``sagemaker-runtime`` ``endpoint_url``)."""
        return str(self.aws.client(RUNTIME).meta.endpoint_url)

    def raw_endpoint(self, name: str) -> EndpointAnswer | None:
        """``DescribeEndpoint`` as AWS answers it, or ``None`` if there is no such endpoint."""
        try:
            return self.aws.sagemaker.describe_endpoint(EndpointName=name)
        except NotFound:
            return None

    def owned_configs(self, name: str) -> list[str]:
        """Every endpoint config made for endpoint ``name``: by its name, then by its tag.

        The name pattern narrows the listing; the ``sm-magics:endpoint`` tag proves it is
        ours (a cut long name could match another endpoint's). Listing needs
        ``sagemaker:ListEndpointConfigs`` and ``sagemaker:ListTags``; without them only the
        configs known otherwise are cleaned.
        """
        pattern = config_name_pattern(name)
        stem = name[: NAME_MAX - 9].rstrip("-")
        found: list[str] = []
        params: dict[str, Any] = {"NameContains": stem, "MaxResults": 100}
        try:
            while True:
                page = self.aws.call(SAGEMAKER, "list_endpoint_configs", **params)
                for summary in page.get("EndpointConfigs", []):
                    if not pattern.match(summary["EndpointConfigName"]):
                        continue
                    tags = self.aws.call(
                        SAGEMAKER, "list_tags", ResourceArn=summary["EndpointConfigArn"]
                    ).get("Tags", [])
                    if {"Key": ENDPOINT_TAG, "Value": name} in tags:
                        found.append(summary["EndpointConfigName"])
                if not page.get("NextToken"):
                    break
                params["NextToken"] = page["NextToken"]
        except (AccessDenied, NotFound):
            pass
        return found

    def sweep(
        self, name: str, *, keep: str | None, known: Iterable[str] = ()
    ) -> tuple[list[str], list[str]]:
        """Delete ``name``'s endpoint configs other than ``keep``, and their models not in it.

        ``known`` are configs certainly ours; the others are found by :meth:`_owned_configs`.
        A config is deleted only after all its models are, so a model that could not be
        deleted stays findable through its config by the next sweep. Returns the configs
        handled (deleted or already gone) and the problems met.
        """
        keep_models: set[str] = set()
        if keep:
            try:
                keep_models = {
                    v["ModelName"] for v in self.endpoint_config(keep)["ProductionVariants"]
                }
            except NotFound:
                keep_models = set()
        configs = dict.fromkeys([*known, *self.owned_configs(name)])
        configs.pop(keep or "", None)
        problems: list[str] = []
        handled: list[str] = []
        for config in configs:
            try:
                description = self.aws.call(
                    SAGEMAKER, "describe_endpoint_config", EndpointConfigName=config
                )
            except NotFound:
                handled.append(config)
                continue
            models = {v["ModelName"] for v in description["ProductionVariants"]} - keep_models
            failed = [
                p
                for p in (
                    delete_quietly(self.aws, "delete_model", ModelName=m) for m in sorted(models)
                )
                if p
            ]
            problems += failed
            if not failed:
                problem = delete_quietly(
                    self.aws, "delete_endpoint_config", EndpointConfigName=config
                )
                if problem:
                    problems.append(problem)
                else:
                    handled.append(config)
            self.configs.pop(config, None)
        return handled, problems
