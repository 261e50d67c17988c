"""The blocking work behind ``/models`` and ``/lineage``: the registry and lineage, as JSON.

The registry's rows live in the ledger (locally they are the registry; on SageMaker they
mirror it), so listing is one query; approving goes through the version's backend, which
records who and when. Lineage is the kernel's own (:mod:`sm_magics.api.lineage`) as nodes.
"""

from __future__ import annotations

from typing import Any, TypedDict

from sm_magics import model_registry
from sm_magics.api.lineage import Node
from sm_magics.errors import InvalidRequest, NotFound
from sm_magics.model_registry import APPROVED, REJECTED
from sm_magics.server.context import ServerContext
from sm_magics.server.serialize import PackageJSON, package_json


class ModelList(TypedDict):
    """The answer of ``GET /models``."""

    models: list[PackageJSON]


def list_models(context: ServerContext, group: str | None) -> ModelList:
    """Return every registered version (of ``group``), group by group, newest first."""
    records = model_registry.list_packages(context.session.ledger, group)
    if group is not None and not records:
        raise NotFound(f"No model group {group!r} in the ledger.")
    return {"models": [package_json(r) for r in records]}


def set_approval(context: ServerContext, group: str, version: str, action: str) -> PackageJSON:
    """Approve or reject ``group/version``; return the version as it is now."""
    status = {"approve": APPROVED, "reject": REJECTED}.get(action)
    if status is None:
        raise InvalidRequest(f"Unknown action {action!r}: approve or reject.")
    reference = f"{group}/{version}"
    session = context.session
    record = session.approve(reference) if status == APPROVED else session.reject(reference)
    return package_json(record)


def _node_json(node: Node) -> dict[str, Any]:
    return {
        "kind": node.kind,
        "name": node.name,
        "relation": node.relation,
        "details": dict(node.details),
        "parents": [_node_json(parent) for parent in node.parents],
    }


def lineage(context: ServerContext, name: str) -> dict[str, Any]:
    """Return the lineage of an endpoint, a version (``group/version``) or a job."""
    return {"root": _node_json(context.session.lineage(name).root)}
