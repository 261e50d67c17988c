"""The REST types are defined once: the panel's TypeScript interfaces match serialize.py.

``labextension/src/tokens.ts`` declares what the panel reads; ``sm_magics/server/
serialize.py`` declares what the server writes (TypedDicts). This test reads both and
compares every object's fields and whether each can be null, so the two cannot drift
apart again (they once disagreed on ``cursor`` and ``version``).
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from sm_magics.server import serialize

TOKENS = Path(__file__).resolve().parents[1] / "labextension" / "src" / "tokens.ts"

#: TypeScript interface -> the TypedDict it mirrors.
PAIRS = {
    "IJob": serialize.JobJSON,
    "IVariant": serialize.VariantJSON,
    "IEndpoint": serialize.EndpointJSON,
    "IModelPackage": serialize.PackageJSON,
}

_TS_TYPES = {"string": str, "number": float, "boolean": bool}


def _interfaces() -> dict[str, dict[str, str]]:
    """Return ``{interface: {field: TypeScript type}}`` of tokens.ts's flat interfaces."""
    found: dict[str, dict[str, str]] = {}
    for match in re.finditer(r"export interface (\w+) \{(.*?)\n\}", TOKENS.read_text(), re.S):
        fields: dict[str, str] = {}
        for line in match.group(2).splitlines():
            field = re.match(r"\s+(\w+)\??: (.+);$", line)
            if field:
                fields[field.group(1)] = field.group(2)
        found[match.group(1)] = fields
    return found


def _python_shape(annotation: Any) -> tuple[set[Any], bool]:
    """Return the annotation's scalar types and whether it allows None."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kinds = {a for a in args if a is not type(None)}
        return {float if k is int else k for k in kinds}, type(None) in args
    if typing.get_origin(annotation) is list:
        return {list}, False
    if typing.get_origin(annotation) is dict:
        return {dict}, False
    return {float if annotation is int else annotation}, False


def _ts_kind(part: str) -> Any:
    if part.endswith("[]"):
        return list
    if part.startswith("Record<string, "):
        return dict
    return _TS_TYPES.get(part, part)


def _ts_shape(text: str) -> tuple[set[Any], bool]:
    parts = [p.strip() for p in text.split("|")]
    nullable = "null" in parts
    kinds = {_ts_kind(p) for p in parts if p != "null"}
    return kinds, nullable


@pytest.mark.parametrize("interface", sorted(PAIRS))
def test_interface_matches_the_servers_json(interface: str) -> None:
    fields = _interfaces()[interface]
    hints = typing.get_type_hints(PAIRS[interface])
    assert sorted(fields) == sorted(hints), f"{interface}: fields differ from serialize.py"
    for name, hint in hints.items():
        assert _ts_shape(fields[name]) == _python_shape(hint), f"{interface}.{name}"


def test_opaque_cursor_and_version_are_strings() -> None:
    interfaces = _interfaces()
    assert interfaces["ILogPage"]["cursor"] == "string | null"
    for name in ("IJobList", "IEndpointList", "IChanges"):
        assert interfaces[name]["version"] == "string"


def test_the_cost_summary_has_the_panels_fields() -> None:
    """``GET /cost`` (display/costs.py's CostSummaryJSON) has ICostSummary's fields."""
    from sm_magics.display.costs import CostSummaryJSON, CostTotalsJSON

    fields = _interfaces()["ICostSummary"]
    assert sorted(fields) == sorted(typing.get_type_hints(CostSummaryJSON))
    totals = re.findall(r"(\w+): number", fields["totals"])
    assert sorted(totals) == sorted(typing.get_type_hints(CostTotalsJSON))
