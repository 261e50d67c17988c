"""Lineage: from an endpoint back to its model package, training job, inputs and code.

Everything here is read from the ledger (and a describe where a processing job's output
locations are not in its row): the endpoint's ``sm-magics:model-package`` tag names the
package version it serves; the package names its source job; the job's row has its
inputs and code hash; an input that is a processing job's output names that job. The
result is a small graph, drawn as HTML boxes and arrows in a notebook, as an indented
chain in text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

from sm_magics import model_registry
from sm_magics.display import no_math
from sm_magics.display.runs import inputs_of
from sm_magics.errors import NotFound

if TYPE_CHECKING:
    from sm_magics.api.session import Session

PACKAGE_TAG = "sm-magics:model-package"


@dataclass
class Node:
    """One thing in the lineage: an endpoint, a package, a job, an input or the code."""

    kind: str  # "endpoint", "model package", "training job", "processing job", "input", "code"
    name: str
    details: dict[str, str] = field(default_factory=dict)
    parents: list[Node] = field(default_factory=list)
    relation: str = ""  # how this node came from its parent ("serves", "trained by", ...)


def _norm(uri: str) -> str:
    return uri.rstrip("/")


def _processing_outputs(session: Session) -> dict[str, str]:
    """Return ``{output URI: processing job}`` of every processing job in the ledger."""
    from sm_magics.backends import processing

    found: dict[str, str] = {}
    for record in session.ledger.list_jobs(limit=500):
        if record.kind != "processing":
            continue
        outputs = [o for o in (record.spec or {}).get("outputs") or [] if o.get("destination")]
        if outputs:
            for output in outputs:
                found[_norm(str(output["destination"]))] = record.name
            continue
        try:
            description = session.backend(record.backend).describe_processing_job(record.name)
        except Exception:  # noqa: BLE001, S112 - a job we cannot read adds no edge
            continue
        for uri in processing.output_uris(description).values():
            found[_norm(uri)] = record.name
    return found


def _job_node(session: Session, name: str, relation: str, producers: dict[str, str]) -> Node:
    record = session.ledger.get_job(name)
    if record is None:
        return Node("training job", name, {"note": "not in the ledger"}, relation=relation)
    spec = record.spec or {}
    details = {"status": record.status, "backend": record.backend}
    if spec.get("hyperparameters"):
        details["hyperparameters"] = ", ".join(
            f"{k}={v}" for k, v in sorted(spec["hyperparameters"].items())
        )
    if record.metrics:
        details["metrics"] = ", ".join(f"{k}={v:.4g}" for k, v in sorted(record.metrics.items()))
    node = Node(f"{record.kind} job", name, details, relation=relation)
    if record.source_hash:
        node.parents.append(
            Node("code", record.source_hash[:12], {"sha256": record.source_hash}, relation="code")
        )
    digests = spec.get("input_digests") or {}
    for channel, uri in sorted(inputs_of(spec).items()):
        text = str(uri)
        producer = producers.get(_norm(text))
        if producer is None:  # an input under a processing output (a file of it)
            producer = next((j for out, j in producers.items() if text.startswith(out + "/")), None)
        input_details = {"uri": text}
        if channel in digests:  # "sha256:<hex>" by content, "stat:<hex>" a fingerprint
            kind, _, value = str(digests[channel]).partition(":")
            input_details["sha256" if kind == "sha256" else "fingerprint"] = value
        input_node = Node("input", channel, input_details, relation="input")
        if producer is not None and producer != name:
            input_node.parents.append(_job_node(session, producer, "produced by", producers))
        node.parents.append(input_node)
    return node


def lineage(self: Session, name: str) -> LineageView:
    """Return the lineage of an endpoint, a model package (GROUP/VERSION, ARN) or a job.

    Raises
    ------
    NotFound
        ``name`` is none of those.
    """
    producers = _processing_outputs(self)
    endpoint = self.ledger.get_endpoint(name)
    if endpoint is not None:
        root = Node("endpoint", name, {"status": endpoint.status, "backend": endpoint.backend})
        arn = (endpoint.tags or {}).get(PACKAGE_TAG)
        package = model_registry.get(self.ledger, arn) if arn else None
        if package is not None:
            root.parents.append(_package_node(self, package, producers))
        else:
            for variant in (endpoint.spec or {}).get("variants") or []:
                if variant.get("job"):
                    root.parents.append(
                        _job_node(
                            self, str(variant["job"]), f"variant {variant['name']}", producers
                        )
                    )
                elif variant.get("model_data"):
                    root.parents.append(
                        Node(
                            "model",
                            str(variant["model_data"]),
                            relation=f"variant {variant['name']}",
                        )
                    )
        return LineageView(root)
    from sm_magics.api.registry import is_package_arn

    package = None
    if is_package_arn(name):
        package = model_registry.get(self.ledger, name)
    elif "/" in name:
        group, version = model_registry.parse_reference(name)
        package = model_registry.find(self.ledger, group, version)
    if package is not None:
        return LineageView(_package_node(self, package, producers))
    if self.ledger.get_job(name) is not None:
        return LineageView(_job_node(self, name, "", producers))
    raise NotFound(f"{name!r} is no endpoint, model package (GROUP/VERSION) or job in the ledger.")


def _package_node(session: Session, package: Any, producers: dict[str, str]) -> Node:
    node = Node(
        "model package",
        package.label,
        {"status": package.status, "arn": package.arn, "model": package.model_data},
        relation="serves",
    )
    if package.source_job:
        node.parents.append(_job_node(session, package.source_job, "trained by", producers))
    return node


def _short(text: str, keep: int = 56) -> str:
    """Shorten a long value in its middle (a hash, a URI): both ends are what tell."""
    if len(text) <= keep:
        return text
    half = (keep - 1) // 2
    return f"{text[:half]}\u2026{text[-half:]}"


class LineageView:
    """A lineage graph: HTML boxes with arrows in a notebook, an indented chain in text."""

    def __init__(self, root: Node) -> None:
        self.root = root

    def nodes(self) -> list[Node]:
        """Return every node, the root first, depth first."""
        out: list[Node] = []

        def walk(node: Node) -> None:
            out.append(node)
            for parent in node.parents:
                walk(parent)

        walk(self.root)
        return out

    def __repr__(self) -> str:
        lines: list[str] = []

        def walk(node: Node, depth: int) -> None:
            arrow = f"<- {node.relation}: " if depth and node.relation else ("<- " if depth else "")
            lines.append(f"{'   ' * depth}{arrow}{node.kind} {node.name}")
            for key, value in node.details.items():
                lines.append(f"{'   ' * depth}     {key}: {value}")
            for parent in node.parents:
                walk(parent, depth + 1)

        walk(self.root, 0)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        def box(node: Node) -> str:
            details = "".join(
                f"<div style='font-size:11px;opacity:.8;overflow-wrap:anywhere' "
                f"title='{escape(v)}'>{escape(k)}: {escape(_short(v))}</div>"
                for k, v in node.details.items()
            )
            parents = "".join(
                "<div style='display:flex;flex-direction:column;align-items:center;"
                "margin:0 6px'>"
                f"<div style='font-size:11px;opacity:.7'>&uarr; {escape(p.relation)}</div>"
                f"{box(p)}</div>"
                for p in node.parents
            )
            return (
                "<div style='display:flex;flex-direction:column;align-items:center'>"
                "<div style='border:1px solid var(--jp-border-color1,#999);border-radius:4px;"
                "padding:4px 8px;margin:2px;max-width:24em;"
                "background:var(--jp-layout-color1,#fff)'>"
                f"<div style='font-size:11px;text-transform:uppercase;opacity:.7'>"
                f"{escape(node.kind)}</div><b>{escape(node.name)}</b>{details}</div>"
                f"<div style='display:flex;align-items:flex-start'>{parents}</div></div>"
            )

        return no_math(
            f"<div style='overflow-x:auto;padding-bottom:4px'>{box(self.root)}</div>",
            "sm-magics-lineage",
        )
